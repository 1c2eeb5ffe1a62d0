#!/usr/bin/env bash
# Builds the end-to-end toolchain from Go modules and caches it outside the repo, keyed by version:
#   <cache>/bin/<name>-<version>/   pulumi, pulumi-resource-kubernetes, kube-apiserver,
#                                   kube-controller-manager, kubectl, etcd
#                                   (optional: velero; velero-plugin-for-aws, a --plugin-dir; cp-plugin, the
#                                   plugin image's entrypoint; rclone; promtool; kubelet and kube-scheduler,
#                                   for e2e/node.sh; descheduler, for its image on the e2e node)
#   <cache>/env.sh                  exports PATH with every bin dir (also printed as the last line)
#
#   e2e/toolchain.sh                        build what is missing (DEFAULT_COMPONENTS in versions.env)
#   e2e/toolchain.sh NAME...                only these: pulumi kubernetes etcd pulumi-resource-kubernetes
#                                           pulumi-language-nodejs pulumi-resource-random
#                                           velero velero-plugin-for-aws cp-plugin rclone promtool
#                                           kubelet descheduler
#   e2e/toolchain.sh --force NAME...        rebuild even if cached
#   eval "$(e2e/toolchain.sh)"              build, then put everything on PATH
#
# Versions: e2e/versions.env. Cache root: $BACKUP_PLATFORM_CACHE, default
# ${XDG_CACHE_HOME:-$HOME/.cache}/k8s-backup-platform. Go's module and build caches are the usual
# shared ones (GOMODCACHE, GOCACHE), so rebuilding after a version bump only compiles what changed.
# Progress goes to stderr; stdout carries only the final `export PATH=...` line.
# Inline Node.js snippets are single-quoted on purpose ($ belongs to JavaScript there).
# shellcheck disable=SC2016
set -Eeuo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
. "${SCRIPT_DIR}/versions.env"

CACHE_ROOT="${BACKUP_PLATFORM_CACHE:-${XDG_CACHE_HOME:-${HOME}/.cache}/k8s-backup-platform}"
BIN_ROOT="${CACHE_ROOT}/bin"
BUILD_ROOT="${CACHE_ROOT}/build"
LOG_ROOT="${CACHE_ROOT}/logs"
# Bump when the build recipe (flags, steps) changes, so cached binaries are rebuilt.
RECIPE=1

export CGO_ENABLED=0
# Never let `go` download another toolchain: a module asking for a newer Go should fail loudly.
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
export GONOSUMDB="${GONOSUMDB:+${GONOSUMDB},}${GO_NOSUMDB_MODULES}"
export GOFLAGS="${GOFLAGS:-} -buildvcs=false"
GO_BUILD=(go build -trimpath -tags "osusergo,grpcnotrace")

CURRENT_STEP=""
CURRENT_LOG=""
IN_PROGRESS=false # a "building X ... " line is open on stderr
# Errors can surface in subshells and again in their parents: report only the first one.
ERR_MARK="${TMPDIR:-/tmp}/k8s-backup-platform-toolchain.$$.err"
OUT=""
FAIL_HINT=""
cleanup() {
  rm -f "$ERR_MARK"
  # A failed build leaves no half-filled bin dir behind.
  if $IN_PROGRESS && [[ "$OUT" == *.tmp ]]; then rm -rf "$OUT"; fi
}
trap cleanup EXIT

log() { printf '[toolchain] %s\n' "$*" >&2; }

report_once() {
  [[ -e "$ERR_MARK" ]] && return 0
  : >"$ERR_MARK"
  $IN_PROGRESS && printf 'FAILED\n' >&2
  printf '[toolchain] ERROR: %s\n' "$1" >&2
  if [[ -n "$CURRENT_LOG" && -s "$CURRENT_LOG" ]]; then
    printf '[toolchain] last lines of %s:\n' "$CURRENT_LOG" >&2
    tail -n 25 "$CURRENT_LOG" | sed 's/^/    /' >&2
  fi
  if [[ -n "$FAIL_HINT" ]]; then printf '[toolchain] note: %s\n' "$FAIL_HINT" >&2; fi
}

die() {
  report_once "${CURRENT_STEP:+step \"${CURRENT_STEP}\": }$*"
  exit 1
}

on_error() {
  local rc=$?
  report_once "step failed: ${CURRENT_STEP:-(setup)} (exit ${rc})"
  exit "$rc"
}
trap on_error ERR

# step "description" command...: runs the command with output in the component's log.
step() {
  CURRENT_STEP="$1"
  shift
  printf '\n### %s\n$ %s\n' "$CURRENT_STEP" "$*" >>"$CURRENT_LOG"
  "$@" >>"$CURRENT_LOG" 2>&1
}

require_tools() {
  local t
  for t in go node; do
    command -v "$t" >/dev/null 2>&1 || die "'$t' not found on PATH (Go >= 1.25 and Node.js are required)"
  done
}

# go_mod_json FILE: `go mod edit -json` of a go.mod file.
go_mod_json() { go mod edit -json "$1"; }

# module_info MODULE@VERSION FIELD: a field (Dir, GoMod, ...) of `go mod download -json`.
module_info() {
  local json
  if ! json="$(go mod download -json "$1" 2>&1)" || grep -q '"Error"' <<<"$json"; then
    printf '%s\n' "$json" >>"$CURRENT_LOG"
    local err
    err="$(node -e 'try{const j=JSON.parse(process.argv[1]);console.log(j.Error||"")}catch{console.log(process.argv[1])}' "$json")"
    die "cannot download $1: ${err}"
  fi
  node -e 'console.log(JSON.parse(process.argv[1])[process.argv[2]] || "")' "$json" "$2"
}

# non_local_replaces GOMOD: "old[@v] => new@v" for every replace that points at a module version
# (directory replaces like ../sdk are dropped: they refer to the upstream checkout).
non_local_replaces() {
  go_mod_json "$1" | node -e '
    const j = JSON.parse(require("fs").readFileSync(0, "utf8"));
    for (const r of j.Replace || []) {
      if (!r.New.Version) continue;
      const old = r.Old.Version ? `${r.Old.Path}@${r.Old.Version}` : r.Old.Path;
      console.log(`${old}=${r.New.Path}@${r.New.Version}`);
    }'
}

go_directive() { go_mod_json "$1" | node -e 'console.log(JSON.parse(require("fs").readFileSync(0,"utf8")).Go || "1.25")'; }

# --- cache bookkeeping ------------------------------------------------------------------------

# A bin dir is complete when its stamp matches the build key; built into <dir>.tmp, then renamed.
is_cached() { [[ -f "$1/.stamp" && "$(<"$1/.stamp")" == "$2" ]]; }

begin_build() { # begin_build NAME VERSION -> sets OUT (temp bin dir), CURRENT_LOG
  local name="$1" version="$2"
  mkdir -p "$LOG_ROOT" "$BIN_ROOT"
  CURRENT_LOG="${LOG_ROOT}/${name}-${version}.log"
  : >"$CURRENT_LOG"
  OUT="${BIN_ROOT}/${name}-${version}.tmp"
  rm -rf "$OUT"
  mkdir -p "$OUT"
  BUILD_T0=$SECONDS
  printf '[toolchain] building %s %s ... ' "$name" "$version" >&2
  IN_PROGRESS=true
}

finish_build() { # finish_build NAME VERSION KEY
  local name="$1" version="$2" key="$3" dir="${BIN_ROOT}/$1-$2" secs
  echo "$key" >"${OUT}/.stamp"
  rm -rf "$dir"
  mv "$OUT" "$dir"
  secs=$((SECONDS - BUILD_T0))
  printf 'done in %ss\n' "$secs" >&2
  IN_PROGRESS=false
  printf '%s\t%s\t%s\t%ss\t%s\n' "$(date -u +%FT%TZ)" "$name" "$version" "$secs" "go$(go env GOVERSION | sed 's/^go//')" >>"${CACHE_ROOT}/timings.log"
  CURRENT_STEP=""
}

# expect_output "what" "expected substring" command...
expect_output() {
  local what="$1" want="$2" got
  shift 2
  CURRENT_STEP="verify ${what}"
  got="$("$@" 2>&1 | head -n 5)" || true
  printf '\n### verify %s\n%s\n' "$what" "$got" >>"$CURRENT_LOG"
  [[ "$got" == *"$want"* ]] || die "${what}: expected '${want}' in output of '$*', got: ${got}"
}

# component NAME VERSION KEY BUILD_FN: skip when cached, else build with timing and stamp.
# One build of a component at a time per cache (two test runs starting together would otherwise race), with a lock
# per component and version: a cached component is never held up by another process building a different one.
component() {
  local name="$1" version="$2" key="$3" fn="$4" dir="${BIN_ROOT}/$1-$2" lock_fd
  if ! $FORCE && is_cached "$dir" "$key"; then
    log "${name} ${version}: cached (${dir})"
    return 0
  fi
  if command -v flock >/dev/null 2>&1; then
    exec {lock_fd}>"${CACHE_ROOT}/.lock-${name}-${version}"
    if ! flock -n "$lock_fd"; then
      log "${name} ${version}: another toolchain.sh is building it; waiting"
      flock -w 7200 "$lock_fd" || die "timed out waiting for another toolchain.sh building ${name} ${version}"
    fi
    # Built by the process we waited for (unless --force asked for a rebuild).
    if ! $FORCE && is_cached "$dir" "$key"; then
      log "${name} ${version}: cached (${dir}, built meanwhile)"
      exec {lock_fd}>&-
      return 0
    fi
  fi
  begin_build "$name" "$version"
  "$fn" "$version"
  finish_build "$name" "$version" "$key"
  [[ -n "${lock_fd:-}" ]] && exec {lock_fd}>&-
  return 0
}

# wrapper_module DIR GOVERSION: an empty main module for building other modules' commands.
wrapper_module() {
  local dir="$1" gover="$2"
  rm -rf "$dir"
  mkdir -p "$dir"
  printf 'module example.com/k8s-backup-platform-e2e-build\n\ngo %s\n' "$gover" >"${dir}/go.mod"
}

# tools_file DIR PKG...: a build-tagged file that imports the commands, so `go mod tidy` keeps them.
tools_file() {
  local dir="$1" p
  shift
  {
    printf '//go:build tools\n\npackage tools\n\nimport (\n'
    for p in "$@"; do printf '\t_ "%s"\n' "$p"; done
    printf ')\n'
  } >"${dir}/tools.go"
}

# --- pulumi CLI -------------------------------------------------------------------------------

# The wrapper requires pkg/v3 and sdk/v3 at the release and copies pkg's replaces that point at
# module versions (github.com/atotto/clipboard => github.com/tgummerer/clipboard ...): `go install
# pkg@version` refuses modules with replace directives.
pulumi_wrapper() { # pulumi_wrapper DIR VERSION
  local dir="$1" v="$2" gomod r
  CURRENT_STEP="download github.com/pulumi/pulumi/pkg/v3@v${v}"
  gomod="$(module_info "github.com/pulumi/pulumi/pkg/v3@v${v}" GoMod)"
  wrapper_module "$dir" "$(go_directive "$gomod")"
  (
    cd "$dir"
    go mod edit -require "github.com/pulumi/pulumi/pkg/v3@v${v}" -require "github.com/pulumi/pulumi/sdk/v3@v${v}"
    while read -r r; do
      [[ -n "$r" ]] && go mod edit -replace "$r"
    done < <(non_local_replaces "$gomod")
  )
  grep -q 'github.com/atotto/clipboard' "${dir}/go.mod" ||
    die "pkg/v3@v${v} go.mod no longer replaces github.com/atotto/clipboard; check the recipe"
}

build_pulumi() {
  local v="$1" dir="${BUILD_ROOT}/pulumi-$1"
  pulumi_wrapper "$dir" "$v"
  tools_file "$dir" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
  (
    cd "$dir"
    step "go mod tidy (pulumi wrapper)" go mod tidy
    step "go build pulumi" "${GO_BUILD[@]}" \
      -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v${v}" \
      -o "${OUT}/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
  )
  expect_output "pulumi version" "v${v}" "${OUT}/pulumi" version
}

build_language_nodejs() {
  local v="$1" dir="${BUILD_ROOT}/pulumi-language-nodejs-$1" mod="${PULUMI_LANGUAGE_NODEJS_MODULE}"
  CURRENT_STEP="download ${mod}@${PULUMI_LANGUAGE_NODEJS_MODULE_VERSION}"
  module_info "${mod}@${PULUMI_LANGUAGE_NODEJS_MODULE_VERSION}" Dir >/dev/null
  pulumi_wrapper "$dir" "$v"
  tools_file "$dir" "$mod"
  (
    cd "$dir"
    go mod edit -require "${mod}@${PULUMI_LANGUAGE_NODEJS_MODULE_VERSION}"
    step "go mod tidy (language host wrapper)" go mod tidy
    step "go build pulumi-language-nodejs" "${GO_BUILD[@]}" \
      -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v${v}" \
      -o "${OUT}/pulumi-language-nodejs" "$mod"
  )
  expect_output "pulumi-language-nodejs -version" "${v}" "${OUT}/pulumi-language-nodejs" -version
}

# --- Kubernetes control plane -----------------------------------------------------------------

# k8s.io/kubernetes requires its staging modules (k8s.io/api, ...) at v0.0.0 and replaces them with
# ./staging/src/...; the wrapper replaces each with its published v0.<minor>.<patch> release.
# kubernetes_wrapper DIR VERSION PKG...: that wrapper, with PKG... (commands) kept by `go mod tidy`.
kubernetes_wrapper() {
  local dir="$1" v="$2" gomod staging m
  shift 2
  staging="v0.${v#*.}"
  CURRENT_STEP="download k8s.io/kubernetes@v${v}"
  gomod="$(module_info "k8s.io/kubernetes@v${v}" GoMod)"
  wrapper_module "$dir" "$(go_directive "$gomod")"
  tools_file "$dir" "$@"
  (
    cd "$dir"
    # Keep upstream's GODEBUG defaults (e.g. `godebug default=go1.25`).
    go_mod_json "$gomod" | node -e '
      const j = JSON.parse(require("fs").readFileSync(0, "utf8"));
      for (const g of j.Godebug || []) console.log(`${g.Key}=${g.Value}`);' |
      while read -r m; do go mod edit -godebug "$m"; done
    go mod edit -require "k8s.io/kubernetes@v${v}"
    CURRENT_STEP="read staging modules from k8s.io/kubernetes@v${v} go.mod"
    local mods
    mods="$(go_mod_json "$gomod" | node -e '
      const j = JSON.parse(require("fs").readFileSync(0, "utf8"));
      for (const r of j.Replace || []) if (r.New.Path.startsWith("./staging/")) console.log(r.Old.Path);')"
    [[ -n "$mods" ]] || die "no ./staging replaces found in k8s.io/kubernetes@v${v} go.mod"
    for m in $mods; do go mod edit -replace "${m}=${m}@${staging}"; done
    step "go mod tidy (kubernetes wrapper, staging modules at ${staging})" go mod tidy
  )
}

# kubernetes_ldflags VERSION: the version stamps upstream's hack/lib/version.sh sets.
kubernetes_ldflags() {
  local v="$1" minor
  minor="$(cut -d. -f2 <<<"$v")"
  printf '%s' "-s -w -X k8s.io/component-base/version.gitVersion=v${v} -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${minor} -X k8s.io/component-base/version.gitTreeState=clean"
}

build_kubernetes() {
  local v="$1" dir="${BUILD_ROOT}/kubernetes-$1"
  kubernetes_wrapper "$dir" "$v" k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kubectl
  (
    cd "$dir"
    step "go build kube-apiserver kube-controller-manager kubectl" "${GO_BUILD[@]}" -ldflags "$(kubernetes_ldflags "$v")" \
      -o "${OUT}/" k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kubectl
  )
  expect_output "kube-apiserver --version" "Kubernetes v${v}" "${OUT}/kube-apiserver" --version
  expect_output "kube-controller-manager --version" "Kubernetes v${v}" "${OUT}/kube-controller-manager" --version
  expect_output "kubectl version --client" "v${v}" "${OUT}/kubectl" version --client
}

# The node agent (issue 16, e2e/node.sh), from the same k8s.io/kubernetes release and wrapper recipe as
# kube-apiserver, with the same flags and tags, so Go's build cache of the kubernetes component serves every
# package they share. Static (CGO_ENABLED=0) as upstream's release build; a bin dir of its own, so the control
# plane's stays as it was.
# kube-scheduler comes with it: the node's pods of Deployments and Jobs are placed by the real scheduler.
build_kubelet() {
  local v="$1" dir="${BUILD_ROOT}/kubelet-$1"
  kubernetes_wrapper "$dir" "$v" k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-scheduler
  (
    cd "$dir"
    step "go build kubelet kube-scheduler" "${GO_BUILD[@]}" -ldflags "$(kubernetes_ldflags "$v")" -o "${OUT}/" \
      k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-scheduler
  )
  expect_output "kubelet --version" "Kubernetes v${v}" "${OUT}/kubelet" --version
  expect_output "kube-scheduler --version" "Kubernetes v${v}" "${OUT}/kube-scheduler" --version
}

# etcd's server module has a `package main` at its root; its ../api-style replaces are ignored
# in a wrapper, which takes the released sibling modules at the same version instead.
build_etcd() {
  local v="$1" dir="${BUILD_ROOT}/etcd-$1" gomod
  CURRENT_STEP="download go.etcd.io/etcd/server/v3@v${v}"
  gomod="$(module_info "go.etcd.io/etcd/server/v3@v${v}" GoMod)"
  wrapper_module "$dir" "$(go_directive "$gomod")"
  tools_file "$dir" go.etcd.io/etcd/server/v3
  (
    cd "$dir"
    go mod edit -require "go.etcd.io/etcd/server/v3@v${v}"
    step "go mod tidy (etcd wrapper)" go mod tidy
    step "go build etcd" "${GO_BUILD[@]}" -ldflags "-s -w" -o "${OUT}/etcd" go.etcd.io/etcd/server/v3
  )
  expect_output "etcd --version" "etcd Version: ${v}" "${OUT}/etcd" --version
}

# --- Pulumi providers -------------------------------------------------------------------------

# copy_module MODULE@VERSION DIR: a writable copy of a module's source (the module cache is read-only).
copy_module() {
  local src
  CURRENT_STEP="download $1"
  src="$(module_info "$1" Dir)"
  rm -rf "$2"
  mkdir -p "$(dirname "$2")"
  cp -R "$src" "$2"
  chmod -R u+w "$2"
}

# The command embeds schema-embed.json and terraform-mapping-embed.json (gitignored upstream),
# written by `VERSION=<v> go run generate.go`; provider/go.mod replaces sdk/v4 => ../sdk, which
# is not in the module zip, so it is pointed at the tagged sdk/v4 release.
build_kubernetes_provider() {
  local v="$1" src="${BUILD_ROOT}/pulumi-resource-kubernetes-$1/src" mod="${KUBERNETES_PROVIDER_MODULE}"
  copy_module "${mod}@${KUBERNETES_PROVIDER_MODULE_VERSION}" "$src"
  (
    cd "$src"
    CURRENT_STEP="point github.com/pulumi/pulumi-kubernetes/sdk/v4 at ${KUBERNETES_PROVIDER_SDK_VERSION}"
    go mod edit -dropreplace github.com/pulumi/pulumi-kubernetes/sdk/v4 \
      -replace "github.com/pulumi/pulumi-kubernetes/sdk/v4=github.com/pulumi/pulumi-kubernetes/sdk/v4@${KUBERNETES_PROVIDER_SDK_VERSION}"
    step "go mod tidy (kubernetes provider)" go mod tidy
    cd cmd/pulumi-resource-kubernetes
    step "generate schema-embed.json (VERSION=${v} go run generate.go)" env VERSION="$v" go run generate.go
    [[ -s schema-embed.json && -s terraform-mapping-embed.json ]] ||
      die "generate.go did not write schema-embed.json / terraform-mapping-embed.json"
    cd ../..
    step "go build pulumi-resource-kubernetes" "${GO_BUILD[@]}" \
      -ldflags "-s -w -X ${mod}/pkg/version.Version=${v}" \
      -o "${OUT}/pulumi-resource-kubernetes" ./cmd/pulumi-resource-kubernetes
  )
  verify_provider_schema kubernetes "$v" "${OUT}/pulumi-resource-kubernetes"
}

# Providers have no --version flag: ask the engine for the schema, which carries the version.
verify_provider_schema() {
  local name="$1" v="$2" bin="$3" pulumi_bin="${BIN_ROOT}/pulumi-${PULUMI_VERSION}/pulumi" got
  CURRENT_STEP="verify ${name} provider schema version"
  if [[ ! -x "$pulumi_bin" ]]; then
    log "(pulumi not built; skipping the ${name} provider check)"
    return 0
  fi
  got="$(PULUMI_HOME="${CACHE_ROOT}/pulumi-home" PULUMI_SKIP_UPDATE_CHECK=true \
    "$pulumi_bin" package get-schema "$bin" 2>>"$CURRENT_LOG" |
    node -e 'const j=JSON.parse(require("fs").readFileSync(0,"utf8"));console.log(j.name+" "+j.version)')" || true
  printf '\n### verify schema\n%s\n' "$got" >>"$CURRENT_LOG"
  [[ "$got" == "${name} ${v}" ]] || die "${bin}: expected schema '${name} ${v}', got '${got}'"
}

# UNTESTED here (the module is not served by the proxy reachable from this network).
# provider/go.mod replaces github.com/terraform-providers/terraform-provider-random/shim => ./shim,
# a nested module left out of the zip: recreate it as a package exposing the upstream provider's
# New(), requiring terraform-plugin-framework and terraform-provider-random at the versions (and
# replaces) provider/go.mod names.
build_random_provider() {
  local v="$1" src="${BUILD_ROOT}/pulumi-resource-random-$1/src" mod="${RANDOM_PROVIDER_MODULE}"
  local shimmod=github.com/terraform-providers/terraform-provider-random/shim
  copy_module "${mod}@${RANDOM_PROVIDER_MODULE_VERSION}" "$src"
  (
    cd "$src"
    CURRENT_STEP="recreate ${shimmod}"
    local fn deps
    fn="$(grep -rhoE 'shim\.[A-Z][A-Za-z]*\(' --include='*.go' . | head -n 1 | sed -e 's/^shim\.//' -e 's/($//')"
    [[ -n "$fn" ]] || die "cannot find the shim function the provider calls (shim.X())"
    deps="$(go_mod_json go.mod | node -e '
      const j = JSON.parse(require("fs").readFileSync(0, "utf8"));
      const want = ["github.com/hashicorp/terraform-plugin-framework", "github.com/terraform-providers/terraform-provider-random"];
      for (const r of j.Require || []) if (want.includes(r.Path)) console.log(`require ${r.Path}@${r.Version}`);
      for (const r of j.Replace || []) if (want.includes(r.Old.Path) && r.New.Version) console.log(`replace ${r.Old.Path}=${r.New.Path}@${r.New.Version}`);')"
    grep -q 'terraform-provider-random@' <<<"$deps" ||
      die "provider/go.mod names no github.com/terraform-providers/terraform-provider-random version"
    mkdir -p shim
    printf 'module %s\n\ngo %s\n' "$shimmod" "$(go_directive go.mod)" >shim/go.mod
    cat >shim/shim.go <<EOF
// Package shim re-exports the upstream provider, whose package is internal to its module.
package shim

import (
	tfpf "github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/terraform-providers/terraform-provider-random/internal/provider"
)

// ${fn} returns the upstream Terraform provider.
func ${fn}() tfpf.Provider { return provider.New() }
EOF
    (
      cd shim
      local kind arg
      while read -r kind arg; do
        [[ -n "$kind" ]] && go mod edit "-${kind}" "$arg"
      done <<<"$deps"
      step "go mod tidy (shim)" go mod tidy
    )
    step "go mod tidy (random provider)" go mod tidy
    cd cmd/pulumi-resource-random
    if [[ -f generate.go ]]; then
      step "generate schema-embed.json (VERSION=${v} go run generate.go)" env VERSION="$v" go run generate.go
    fi
    if grep -q 'bridge-metadata.json' ./*.go && [[ ! -s bridge-metadata.json ]]; then
      cd ../..
      step "tfgen schema (bridge-metadata.json)" env VERSION="$v" go run ./cmd/pulumi-tfgen-random schema --out cmd/pulumi-resource-random
      cd cmd/pulumi-resource-random
      [[ -f generate.go ]] && step "generate schema-embed.json again" env VERSION="$v" go run generate.go
    fi
    cd ../..
    step "go build pulumi-resource-random" "${GO_BUILD[@]}" \
      -ldflags "-s -w -X ${mod}/pkg/version.Version=${v}" \
      -o "${OUT}/pulumi-resource-random" ./cmd/pulumi-resource-random
  )
  verify_provider_schema random "$v" "${OUT}/pulumi-resource-random"
}

# --- Velero -----------------------------------------------------------------------------------

# velero's go.mod replaces github.com/kopia/kopia (refused by the proxy here) with
# github.com/project-velero/kopia: the wrapper copies every replace that targets a module version,
# as for pulumi, and fails if the kopia one ever disappears.
build_velero() {
  local v="$1" dir="${BUILD_ROOT}/velero-$1" gomod r pkg=github.com/vmware-tanzu/velero
  CURRENT_STEP="download ${pkg}@v${v}"
  gomod="$(module_info "${pkg}@v${v}" GoMod)"
  wrapper_module "$dir" "$(go_directive "$gomod")"
  tools_file "$dir" "${pkg}/cmd/velero"
  (
    cd "$dir"
    go mod edit -require "${pkg}@v${v}"
    while read -r r; do
      [[ -n "$r" ]] && go mod edit -replace "$r"
    done < <(non_local_replaces "$gomod")
    # Dependencies at versions the proxy here refuses, raised to a served patch (versions.env).
    local req
    for req in ${VELERO_WRAPPER_REQUIRES//,/ }; do go mod edit -require "$req"; done
  )
  grep -q 'github.com/kopia/kopia' "${dir}/go.mod" ||
    die "${pkg}@v${v} go.mod no longer replaces github.com/kopia/kopia; check the recipe"
  (
    cd "$dir"
    step "go mod tidy (velero wrapper)" go mod tidy
    # Upstream's hack/build.sh sets these four; the module zip carries no commit, so GitSHA stays
    # empty. ImageRegistry=velero is the Makefile's default (images velero/velero-restore-helper...).
    step "go build velero" "${GO_BUILD[@]}" \
      -ldflags "-s -w -X ${pkg}/pkg/buildinfo.Version=v${v} -X ${pkg}/pkg/buildinfo.ImageRegistry=velero -X ${pkg}/pkg/buildinfo.GitTreeState=clean" \
      -o "${OUT}/velero" "${pkg}/cmd/velero"
  )
  expect_output "velero version --client-only" "Version: v${v}" "${OUT}/velero" version --client-only
}

# aws_plugin_package VERSION NAME PACKAGE: builds PACKAGE (a main package of velero-plugin-for-aws at VERSION) into
# ${OUT}/NAME, in a wrapper module of its own (build/NAME-VERSION). The module's go.mod has no replace lines today;
# any version-pinned one is copied. No version variable to stamp.
aws_plugin_package() {
  local v="$1" name="$2" pkg="$3" dir="${BUILD_ROOT}/$2-$1" gomod r mod=github.com/vmware-tanzu/velero-plugin-for-aws
  CURRENT_STEP="download ${mod}@v${v}"
  gomod="$(module_info "${mod}@v${v}" GoMod)"
  wrapper_module "$dir" "$(go_directive "$gomod")"
  tools_file "$dir" "${mod}/${pkg}"
  (
    cd "$dir"
    go mod edit -require "${mod}@v${v}"
    while read -r r; do
      [[ -n "$r" ]] && go mod edit -replace "$r"
    done < <(non_local_replaces "$gomod")
    step "go mod tidy (${name} wrapper)" go mod tidy
    step "go build ${name}" "${GO_BUILD[@]}" -ldflags "-s -w" -o "${OUT}/${name}" "${mod}/${pkg}"
  )
}

# The plugin's main package is the velero-plugin-for-aws/ folder of its module (the binary name Velero's plugin dir
# expects). The bin dir holds only the plugin (and .stamp, not executable, which Velero skips), so it can be passed
# as `velero server --plugin-dir`.
build_velero_plugin_for_aws() {
  aws_plugin_package "$1" velero-plugin-for-aws velero-plugin-for-aws
  # Run directly, a go-plugin binary refuses (exit 1) without the handshake cookie Velero sets.
  expect_output "velero-plugin-for-aws (go-plugin handshake)" "This binary is a plugin" "${OUT}/velero-plugin-for-aws"
}

# cp-plugin: the plugin image's entrypoint (upstream's Dockerfile builds ./hack/cp-plugin beside the plugin and runs
# `cp-plugin /plugins/velero-plugin-for-aws /target/velero-plugin-for-aws` as the chart's init container). A main
# package of the same module at the same version, standard library only; its own bin dir, so the plugin's stays
# usable as `--plugin-dir` (Velero would try to run every executable there as a plugin).
build_cp_plugin() {
  aws_plugin_package "$1" cp-plugin hack/cp-plugin
  expect_output "cp-plugin (usage)" "requires two arguments" "${OUT}/cp-plugin"
}

# --- rclone -----------------------------------------------------------------------------------

# rclone's main package is its module root; the release tag's fs/versiontag.go already says the
# version. Its go.mod has no replace lines today (any version-pinned one would be copied). Upstream
# release binaries are built the same way (CGO_ENABLED=0 for linux/amd64, no cmount tag; they add no
# -trimpath): every backend is compiled in, s3 among them.
build_rclone() {
  local v="$1" dir="${BUILD_ROOT}/rclone-$1" gomod r mod=github.com/rclone/rclone
  CURRENT_STEP="download ${mod}@v${v}"
  gomod="$(module_info "${mod}@v${v}" GoMod)"
  wrapper_module "$dir" "$(go_directive "$gomod")"
  tools_file "$dir" "$mod"
  (
    cd "$dir"
    go mod edit -require "${mod}@v${v}"
    while read -r r; do
      [[ -n "$r" ]] && go mod edit -replace "$r"
    done < <(non_local_replaces "$gomod")
    step "go mod tidy (rclone wrapper)" go mod tidy
    # As upstream's Makefile (LDFLAGS): fs.Version set, else the binary calls itself v<tag>-DEV.
    step "go build rclone" "${GO_BUILD[@]}" -ldflags "-s -w -X ${mod}/fs.Version=v${v}" -o "${OUT}/rclone" "$mod"
  )
  expect_output "rclone version" "rclone v${v}"$'\n' "${OUT}/rclone" version
}

# --- promtool ---------------------------------------------------------------------------------

# promtool is cmd/promtool of github.com/prometheus/prometheus, whose Go module versions are
# v0.<300+minor>.<patch> for Prometheus 3.x (versions.env pins both). Its go.mod has no replace lines
# today (any version-pinned one would be copied). Built like upstream's .promu.yml: the netgo tag and
# common/version's Version/Branch set (no commit in the module zip, so Revision stays empty);
# builtinassets only matters to the prometheus server's web UI.
build_promtool() {
  local v="$1" dir="${BUILD_ROOT}/promtool-$1" gomod r mod=github.com/prometheus/prometheus
  local mv="${PROMETHEUS_MODULE_VERSION}"
  CURRENT_STEP="download ${mod}@${mv}"
  gomod="$(module_info "${mod}@${mv}" GoMod)"
  [[ "$(<"$(module_info "${mod}@${mv}" Dir)/VERSION")" == "$v" ]] ||
    die "${mod}@${mv} is not Prometheus ${v} (its VERSION file says otherwise); fix versions.env"
  wrapper_module "$dir" "$(go_directive "$gomod")"
  tools_file "$dir" "${mod}/cmd/promtool"
  (
    cd "$dir"
    go mod edit -require "${mod}@${mv}"
    while read -r r; do
      [[ -n "$r" ]] && go mod edit -replace "$r"
    done < <(non_local_replaces "$gomod")
    local req
    for req in ${PROMETHEUS_WRAPPER_REQUIRES//,/ }; do go mod edit -require "$req"; done
    step "go mod tidy (promtool wrapper)" go mod tidy
    step "go build promtool" go build -trimpath -tags "osusergo,netgo" \
      -ldflags "-s -w -X github.com/prometheus/common/version.Version=${v} -X github.com/prometheus/common/version.Branch=HEAD" \
      -o "${OUT}/promtool" "${mod}/cmd/promtool"
  )
  expect_output "promtool --version" "promtool, version ${v} " "${OUT}/promtool" --version
}

# --- descheduler ------------------------------------------------------------------------------

# cmd/descheduler of sigs.k8s.io/descheduler, built as upstream's Makefile (`build.amd64`) does: CGO off, no tags,
# pkg/version stamped in the form of upstream's release images, v<YYYYMMDD>-<tag> (pkg/version parses Major and Minor
# from it, and the descheduler compares Minor with the API server's at startup), dated by the tag's time from the
# proxy, which is also the build date (reproducible); the module zip has no commit, so gitsha1 and gitbranch stay
# empty. Its go.mod pins k8s.io/kube-openapi by a replace (copied) and a godebug default (kept, as for Kubernetes).
# -s -w as every binary here (upstream keeps the symbols; only the size differs).
build_descheduler() {
  local v="$1" dir="${BUILD_ROOT}/descheduler-$1" gomod r mod=sigs.k8s.io/descheduler m tagged stamp
  CURRENT_STEP="download ${mod}@v${v}"
  gomod="$(module_info "${mod}@v${v}" GoMod)"
  tagged="$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).Time || "")' \
    "$(module_info "${mod}@v${v}" Info)")"
  [[ "$tagged" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T ]] || die "no release time for ${mod}@v${v}: '${tagged}'"
  stamp="v${tagged:0:4}${tagged:5:2}${tagged:8:2}-v${v}"
  wrapper_module "$dir" "$(go_directive "$gomod")"
  tools_file "$dir" "${mod}/cmd/descheduler"
  (
    cd "$dir"
    go_mod_json "$gomod" | node -e '
      const j = JSON.parse(require("fs").readFileSync(0, "utf8"));
      for (const g of j.Godebug || []) console.log(`${g.Key}=${g.Value}`);' |
      while read -r m; do go mod edit -godebug "$m"; done
    go mod edit -require "${mod}@v${v}"
    while read -r r; do
      [[ -n "$r" ]] && go mod edit -replace "$r"
    done < <(non_local_replaces "$gomod")
    step "go mod tidy (descheduler wrapper)" go mod tidy
    step "go build descheduler" go build -trimpath \
      -ldflags "-s -w -X ${mod}/pkg/version.version=${stamp} -X ${mod}/pkg/version.buildDate=${tagged}" \
      -o "${OUT}/descheduler" "${mod}/cmd/descheduler"
  )
  expect_output "descheduler version" "Major:0 Minor:${v#0.} GitVersion:${stamp} " "${OUT}/descheduler" version
}

# --- main -------------------------------------------------------------------------------------

FORCE=false
COMPONENTS=()
for arg in "$@"; do
  case "$arg" in
    --force) FORCE=true ;;
    -h | --help)
      sed -n '2,/^# Inline Node/p' "${BASH_SOURCE[0]}" | sed -e '/^# Inline Node/d' -e 's/^# \{0,1\}//' >&2
      exit 0
      ;;
    -*) die "unknown option: ${arg}" ;;
    *) COMPONENTS+=("$arg") ;;
  esac
done
if ((${#COMPONENTS[@]} == 0)); then
  IFS=, read -r -a COMPONENTS <<<"$DEFAULT_COMPONENTS"
fi

require_tools
mkdir -p "$CACHE_ROOT"

GOVER="$(go env GOVERSION)"
for c in "${COMPONENTS[@]}"; do
  case "$c" in
    pulumi)
      component pulumi "$PULUMI_VERSION" "r${RECIPE} pulumi ${PULUMI_VERSION}" build_pulumi ;;
    pulumi-language-nodejs)
      FAIL_HINT="optional: Automation API inline programs run without a language host (e2e/NOTES.md)"
      component pulumi-language-nodejs "$PULUMI_VERSION" \
        "r${RECIPE} ${PULUMI_LANGUAGE_NODEJS_MODULE_VERSION} pulumi ${PULUMI_VERSION}" build_language_nodejs ;;
    kubernetes)
      component kubernetes "$KUBERNETES_VERSION" "r${RECIPE} kubernetes ${KUBERNETES_VERSION}" build_kubernetes ;;
    kubelet)
      FAIL_HINT="optional: built only when named (issue 16, pods on a real node: e2e/node.sh)"
      component kubelet "$KUBERNETES_VERSION" "r${RECIPE} kubelet kube-scheduler ${KUBERNETES_VERSION}" build_kubelet ;;
    etcd)
      component etcd "$ETCD_VERSION" "r${RECIPE} etcd ${ETCD_VERSION}" build_etcd ;;
    pulumi-resource-kubernetes)
      component pulumi-resource-kubernetes "$KUBERNETES_PROVIDER_VERSION" \
        "r${RECIPE} ${KUBERNETES_PROVIDER_MODULE_VERSION} sdk ${KUBERNETES_PROVIDER_SDK_VERSION}" build_kubernetes_provider ;;
    pulumi-resource-random)
      FAIL_HINT="optional, and never built in this project's network: see versions.env and e2e/NOTES.md"
      component pulumi-resource-random "$RANDOM_PROVIDER_VERSION" \
        "r${RECIPE} ${RANDOM_PROVIDER_MODULE_VERSION}" build_random_provider ;;
    velero)
      FAIL_HINT="optional: built only when named (issue 13, Velero backups and restores for real)"
      component velero "$VELERO_VERSION" "r${RECIPE} velero ${VELERO_VERSION} ${VELERO_WRAPPER_REQUIRES}" build_velero ;;
    velero-plugin-for-aws)
      FAIL_HINT="optional: built only when named (issue 13, Velero backups and restores for real)"
      component velero-plugin-for-aws "$VELERO_PLUGIN_FOR_AWS_VERSION" \
        "r${RECIPE} velero-plugin-for-aws ${VELERO_PLUGIN_FOR_AWS_VERSION}" build_velero_plugin_for_aws ;;
    cp-plugin)
      FAIL_HINT="optional: built only when named (issue 16, the plugin image's init container on the e2e node)"
      component cp-plugin "$VELERO_PLUGIN_FOR_AWS_VERSION" \
        "r${RECIPE} cp-plugin velero-plugin-for-aws ${VELERO_PLUGIN_FOR_AWS_VERSION}" build_cp_plugin ;;
    rclone)
      FAIL_HINT="optional: built only when named (issue 13, the off-site copy run for real: e2e/offsite)"
      component rclone "$RCLONE_VERSION" "r${RECIPE} rclone ${RCLONE_VERSION} fs.Version" build_rclone ;;
    promtool)
      FAIL_HINT="optional: built only when named (issue 15, the alert rules evaluated by promtool: e2e/test/alerts.e2e.ts)"
      component promtool "$PROMETHEUS_VERSION" \
        "r${RECIPE} promtool ${PROMETHEUS_MODULE_VERSION} ${PROMETHEUS_WRAPPER_REQUIRES}" build_promtool ;;
    descheduler)
      FAIL_HINT="optional: built only when named (issue 16, the Descheduler's image on the e2e node: e2e/test/descheduler-pod.e2e.ts)"
      component descheduler "$DESCHEDULER_VERSION" "r${RECIPE} descheduler ${DESCHEDULER_VERSION} release-version-stamp" build_descheduler ;;
    *) die "unknown component '${c}' (known: pulumi pulumi-language-nodejs kubernetes kubelet etcd pulumi-resource-kubernetes pulumi-resource-random velero velero-plugin-for-aws cp-plugin rclone promtool descheduler)" ;;
  esac
  FAIL_HINT=""
done
log "Go toolchain used: ${GOVER}"

# env.sh lists every complete bin dir in the cache for the versions pinned now, so a partial
# run (e.g. `toolchain.sh pulumi`) does not drop the others from PATH.
ALL_DIRS=()
for d in "${BIN_ROOT}/pulumi-${PULUMI_VERSION}" "${BIN_ROOT}/pulumi-language-nodejs-${PULUMI_VERSION}" \
  "${BIN_ROOT}/pulumi-resource-kubernetes-${KUBERNETES_PROVIDER_VERSION}" \
  "${BIN_ROOT}/pulumi-resource-random-${RANDOM_PROVIDER_VERSION}" \
  "${BIN_ROOT}/kubernetes-${KUBERNETES_VERSION}" "${BIN_ROOT}/etcd-${ETCD_VERSION}" \
  "${BIN_ROOT}/velero-${VELERO_VERSION}"; do
  [[ -f "${d}/.stamp" ]] && ALL_DIRS+=("$d")
done
PATH_PREFIX="$(IFS=:; echo "${ALL_DIRS[*]}")"
ENV_TMP="$(mktemp "${CACHE_ROOT}/env.sh.XXXXXX")"
cat >"$ENV_TMP" <<EOF
# Generated by e2e/toolchain.sh; source it to put the e2e toolchain first on PATH.
export PATH="${PATH_PREFIX}:\${PATH}"
EOF
chmod 644 "$ENV_TMP"
mv "$ENV_TMP" "${CACHE_ROOT}/env.sh"
log "wrote ${CACHE_ROOT}/env.sh"
echo "export PATH=\"${PATH_PREFIX}:\${PATH}\""
