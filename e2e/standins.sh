#!/usr/bin/env bash
# Builds the two stand-in plugins that the Go module proxy reachable here cannot provide (see
# e2e/STANDINS.md) into the same cache as e2e/toolchain.sh, keyed by the version they stand in for:
#   <cache>/bin/pulumi-language-nodejs-<PULUMI_VERSION>/pulumi-language-nodejs   (from e2e/langhost)
#   <cache>/bin/pulumi-resource-random-<RANDOM_PROVIDER_VERSION>/pulumi-resource-random
#                                                                 (from e2e/random-standin: a test double)
#
#   e2e/standins.sh                    build what is missing or out of date (both)
#   e2e/standins.sh NAME...            only these: pulumi-language-nodejs pulumi-resource-random
#                                      (aliases: langhost, random)
#   e2e/standins.sh --force NAME...    rebuild even if up to date, and replace a real build
#   eval "$(e2e/standins.sh)"          build, then put both on PATH
#
# Versions come from e2e/versions.env (PULUMI_VERSION, RANDOM_PROVIDER_VERSION). Cache root:
# $BACKUP_PLATFORM_CACHE, default ${XDG_CACHE_HOME:-$HOME/.cache}/k8s-backup-platform. A bin dir is up to
# date when its .stamp holds the recipe hash (script recipe, Go version, version, sources, go.mod, go.sum).
# A bin dir whose .stamp was written by e2e/toolchain.sh (a real build) is left alone unless --force.
# toolchain.sh's env.sh picks up every bin dir with a .stamp the next time it runs.
# Builds are offline-capable: go.mod/go.sum are committed and used read-only (-mod=readonly); the
# modules must be in GOMODCACHE or reachable through GOPROXY.
# Progress goes to stderr; stdout carries only the final `export PATH=...` line.
set -Eeuo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
. "${SCRIPT_DIR}/versions.env"

CACHE_ROOT="${BACKUP_PLATFORM_CACHE:-${XDG_CACHE_HOME:-${HOME}/.cache}/k8s-backup-platform}"
BIN_ROOT="${CACHE_ROOT}/bin"
LOG_ROOT="${CACHE_ROOT}/logs"
# Bump when the build recipe (flags, steps) changes, so cached binaries are rebuilt.
RECIPE=1
STAMP_PREFIX="standin"

export CGO_ENABLED=0
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
export GOFLAGS="${GOFLAGS:-} -buildvcs=false -mod=readonly"

LOG_TAG=standins
# shellcheck source=lib/processes.sh
. "${SCRIPT_DIR}/lib/processes.sh"

usage() {
  sed -n '2,/^set -Eeuo/p' "${BASH_SOURCE[0]}" | sed -e '/^set -Eeuo/d' -e 's/^# \{0,1\}//' >&2
  exit "${1:-0}"
}

require_tools() {
  local t
  for t in go sha256sum; do
    command -v "$t" >/dev/null 2>&1 || die "'$t' not found on PATH (Go >= 1.25 is required)"
  done
}

# recipe_hash MODULE_DIR VERSION: hash of everything that determines the binary.
recipe_hash() {
  local dir="$1" version="$2" f
  {
    printf 'recipe %s\nversion %s\n' "$RECIPE" "$version"
    go env GOVERSION GOOS GOARCH
    printf 'flags CGO_ENABLED=0 -trimpath -ldflags=-s -w -X main.version\n'
    while IFS= read -r f; do
      printf '%s ' "${f##*/}"
      sha256sum <"$f"
    done < <(find "$dir" -maxdepth 1 -type f \( -name '*.go' -o -name go.mod -o -name go.sum \) | LC_ALL=C sort)
  } | sha256sum | cut -c1-16
}

# required_version MODULE_DIR MODULE: the version go.mod requires.
required_version() {
  (cd "$1" && go list -m -f '{{.Version}}' "$2")
}

# build NAME VERSION MODULE_DIR
build() {
  local name="$1" version="$2" src="$3"
  local dir="${BIN_ROOT}/${name}-${version}" key stamp t0 secs log out
  [[ -f "${src}/go.mod" && -f "${src}/go.sum" ]] || die "${name}: ${src}/go.mod or go.sum missing"
  key="${STAMP_PREFIX} r${RECIPE} ${name} ${version} $(recipe_hash "$src" "$version")"

  if [[ -f "${dir}/.stamp" ]]; then
    stamp="$(<"${dir}/.stamp")"
    if [[ "$stamp" == "$key" && -x "${dir}/${name}" ]] && ! $FORCE; then
      log "${name} ${version}: up to date (${dir})"
      return 0
    fi
    if [[ "$stamp" != "${STAMP_PREFIX} "* ]] && ! $FORCE; then
      log "${name} ${version}: ${dir} holds a real build (stamp '${stamp}'); not replacing it (use --force)"
      return 0
    fi
  fi

  mkdir -p "$BIN_ROOT" "$LOG_ROOT"
  log="${LOG_ROOT}/standin-${name}-${version}.log"
  out="${dir}.tmp"
  rm -rf "$out"
  mkdir -p "$out"
  : >"$log"
  printf '[standins] building %s %s from %s ... ' "$name" "$version" "${src#"${SCRIPT_DIR}/"}" >&2
  t0=$SECONDS
  if ! (
    cd "$src"
    printf '$ go build -trimpath -ldflags "-s -w -X main.version=%s" -o %s .\n' "$version" "$out/$name"
    go build -trimpath -ldflags "-s -w -X main.version=${version}" -o "${out}/${name}" .
  ) >>"$log" 2>&1; then
    printf 'FAILED\n' >&2
    rm -rf "$out"
    log "last lines of ${log}:"
    tail -n 25 "$log" | sed 's/^/    /' >&2
    if grep -q 'missing go.sum entry\|updates to go.mod needed' "$log"; then
      log "note: go.mod/go.sum in ${src} are out of date: run 'go mod tidy' there"
    elif grep -q '403\|Forbidden\|dial tcp\|no such host' "$log"; then
      log "note: a module could not be downloaded; check GOPROXY/GOMODCACHE ($(go env GOMODCACHE))"
    fi
    exit 1
  fi

  # The binary must run and report the version the engine will match on.
  local got
  got="$("${out}/${name}" --version 2>&1 | head -n 1)" || true
  if [[ "$got" != "$version" ]]; then
    printf 'FAILED\n' >&2
    rm -rf "$out"
    die "${name}: '--version' printed '${got}', expected '${version}'"
  fi

  echo "$key" >"${out}/.stamp"
  rm -rf "$dir"
  mv "$out" "$dir"
  secs=$((SECONDS - t0))
  printf 'done in %ss\n' "$secs" >&2
  printf '%s\t%s\t%s\t%ss\t%s\n' "$(date -u +%FT%TZ)" "standin-${name}" "$version" "$secs" \
    "$(go env GOVERSION)" >>"${CACHE_ROOT}/timings.log"
}

# --- main -------------------------------------------------------------------------------------

FORCE=false
NAMES=()
for arg in "$@"; do
  case "$arg" in
    --force) FORCE=true ;;
    -h | --help) usage 0 ;;
    -*) die "unknown option: ${arg} (see --help)" ;;
    pulumi-language-nodejs | langhost) NAMES+=(pulumi-language-nodejs) ;;
    pulumi-resource-random | random) NAMES+=(pulumi-resource-random) ;;
    *) die "unknown stand-in '${arg}' (known: pulumi-language-nodejs pulumi-resource-random)" ;;
  esac
done
((${#NAMES[@]})) || NAMES=(pulumi-language-nodejs pulumi-resource-random)

require_tools
mkdir -p "$CACHE_ROOT"
# One run at a time per cache (a separate lock from toolchain.sh's: the bin dirs do not overlap
# with anything toolchain.sh can build here).
if command -v flock >/dev/null 2>&1; then
  exec 9>"${CACHE_ROOT}/.standins.lock"
  flock -w 1800 9 || die "timed out waiting for another standins.sh on ${CACHE_ROOT}/.standins.lock"
fi

for n in "${NAMES[@]}"; do
  case "$n" in
    pulumi-language-nodejs)
      sdk="$(required_version "${SCRIPT_DIR}/langhost" github.com/pulumi/pulumi/sdk/v3)" ||
        die "cannot read e2e/langhost/go.mod"
      [[ "$sdk" == "v${PULUMI_VERSION}" ]] ||
        die "e2e/langhost requires github.com/pulumi/pulumi/sdk/v3 ${sdk} but versions.env has PULUMI_VERSION=${PULUMI_VERSION}; run: (cd e2e/langhost && go get github.com/pulumi/pulumi/sdk/v3@v${PULUMI_VERSION} && go mod tidy)"
      build pulumi-language-nodejs "$PULUMI_VERSION" "${SCRIPT_DIR}/langhost"
      ;;
    pulumi-resource-random)
      build pulumi-resource-random "$RANDOM_PROVIDER_VERSION" "${SCRIPT_DIR}/random-standin"
      ;;
  esac
done

DIRS=()
for n in "${NAMES[@]}"; do
  case "$n" in
    pulumi-language-nodejs) DIRS+=("${BIN_ROOT}/pulumi-language-nodejs-${PULUMI_VERSION}") ;;
    pulumi-resource-random) DIRS+=("${BIN_ROOT}/pulumi-resource-random-${RANDOM_PROVIDER_VERSION}") ;;
  esac
done
echo "export PATH=\"$(
  IFS=:
  echo "${DIRS[*]}"
):\${PATH}\""
