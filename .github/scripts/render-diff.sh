#!/usr/bin/env bash
# Renders one stack at two commits and prints the unified diff of the two `npm run render` outputs:
# what a change does to every resource, input and data-safety option, for reviewers without cloud
# access. Each commit is checked out in its own temporary worktree (the caller's checkout is left
# alone); a worktree reuses the caller's node_modules when its package-lock.json is identical.
#
# usage: .github/scripts/render-diff.sh <base-ref> <stack> [<head-ref>]     (head-ref: HEAD)
#
# Prints nothing when the renders are equal. Exits 0 whether or not they differ; exits non-zero only
# when the head cannot be rendered (a base that cannot be rendered, e.g. before the stack existed,
# shows as a note in the diff).
set -euo pipefail

usage="usage: $0 <base-ref> <stack> [<head-ref>]"
base_ref=${1:?$usage}
stack=${2:?$usage}
head_ref=${3:-HEAD}

repo=$(git rev-parse --show-toplevel)
base_sha=$(git -C "$repo" rev-parse --verify --quiet "$base_ref^{commit}") || { echo "render-diff: unknown base ref $base_ref" >&2; exit 2; }
head_sha=$(git -C "$repo" rev-parse --verify --quiet "$head_ref^{commit}") || { echo "render-diff: unknown head ref $head_ref" >&2; exit 2; }

work=$(mktemp -d)
cleanup() {
    for side in base head; do
        if [ -d "$work/$side" ]; then git -C "$repo" worktree remove --force "$work/$side" >/dev/null 2>&1 || true; fi
    done
    git -C "$repo" worktree prune
    rm -rf "$work"
}
trap cleanup EXIT

# render <sha> <side>: writes $work/<side>.json (the render) and $work/<side>.err; returns render's status.
render() {
    local sha=$1 side=$2 dir="$work/$2"
    git -C "$repo" worktree add --detach --quiet "$dir" "$sha"
    (
        cd "$dir"
        if [ -d "$repo/node_modules" ] && cmp -s package-lock.json "$repo/package-lock.json"; then
            ln -s "$repo/node_modules" node_modules
        else
            npm ci --no-audit --no-fund --loglevel=error >&2
        fi
        if [ ! -f "Pulumi.$stack.yaml" ]; then
            echo "no Pulumi.$stack.yaml at ${sha:0:12}" >"$work/$side.err"
            return 1
        fi
        npm run --silent render -- --stack "$stack" >"$work/$side.json" 2>"$work/$side.err"
    )
}

if ! render "$head_sha" head; then
    echo "render-diff: cannot render stack $stack at head ${head_sha:0:12}:" >&2
    cat "$work/head.json" "$work/head.err" >&2 2>/dev/null || true
    exit 1
fi
if ! render "$base_sha" base; then
    # tsc prints its errors on stdout: keep both streams for the note.
    { echo "(base ${base_sha:0:12} could not be rendered:"; cat "$work/base.json" "$work/base.err" 2>/dev/null; echo ")"; } >"$work/base.note"
    mv "$work/base.note" "$work/base.json"
fi

status=0
diff -u --label "render --stack $stack @ base ${base_sha:0:12}" --label "render --stack $stack @ head ${head_sha:0:12}" \
    "$work/base.json" "$work/head.json" || status=$?
# diff: 0 same, 1 different, >1 trouble.
[ "$status" -le 1 ]
