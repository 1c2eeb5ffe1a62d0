#!/usr/bin/env bash
# A Debian image without a registry (issue 16): `debootstrap --variant=minbase bookworm`, Debian packages installed
# with apt-get in a chroot, Python packages from PyPI into a venv, wrapped by e2e/images/image.sh as an OCI archive.
# Cached by recipe: the archive is kept under <cache>/images/, named by a hash of this script, the suite and every
# option, so a second run with the same recipe copies it (a second) instead of building it (minutes).
#
#   e2e/images/debian.sh NAME:TAG OUT.tar [--apt PKG]... [--pip SPEC]... [--venv DIR] [--user UID[:GID]]
#                                         [--entrypoint PATH] [--dir /DEST[:MODE]]...
#
#   --apt PKG     a Debian package (no recommends)
#   --pip SPEC    a pinned requirement (NAME==VERSION) installed into a venv (--venv, default /opt/venv); its
#                 commands are called by path (VENV/bin/...), the image's PATH is Debian's
#   --dir         an empty directory in the image (e.g. /run/postgresql:2775)
#   --account NAME:UID:GID:HOME
#                 a system account created before the packages (which then keep it), so its ids are fixed (e.g.
#                 postgres:26:26:/var/lib/postgresql, as CloudNativePG's images have it) instead of the next free ones
#
# The build runs in a private mount namespace (`unshare --mount`): /proc and /dev mounted for the chroot vanish
# with it, nothing is mounted on the machine. Services a package would start in the chroot are refused
# (policy-rc.d), and postgresql-common is told not to create its default cluster.
# Environment: BACKUP_PLATFORM_CACHE (as e2e/toolchain.sh), DEBIAN_MIRROR (default http://deb.debian.org/debian).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LOG_TAG=debian-image
# shellcheck source=../lib/processes.sh
. "${SCRIPT_DIR}/../lib/processes.sh"

CACHE_ROOT="${BACKUP_PLATFORM_CACHE:-${XDG_CACHE_HOME:-${HOME}/.cache}/k8s-backup-platform}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SUITE=bookworm

usage() {
  sed -n '2,/^# Environment/p' "${BASH_SOURCE[0]}" | sed -e 's/^# \{0,1\}//' >&2
  exit 2
}

(($# >= 2)) || usage
REF="$1" OUT="$2"
shift 2
APT=() PIP=() DIRS=() ACCOUNTS=() VENV=/opt/venv USER_ID="" ENTRYPOINT=""
while (($#)); do
  case "$1" in
    --apt) APT+=("$2") && shift 2 ;;
    --pip)
      [[ "$2" == *==* ]] || die "--pip needs a pinned NAME==VERSION: $2"
      PIP+=("$2") && shift 2
      ;;
    --venv) VENV="$2" && shift 2 ;;
    --dir) DIRS+=("$2") && shift 2 ;;
    --account)
      [[ "$2" =~ ^[a-z_][a-z0-9_-]*:[0-9]+:[0-9]+:/[^:]*$ ]] || die "--account needs NAME:UID:GID:/HOME: $2"
      ACCOUNTS+=("$2") && shift 2
      ;;
    --user) USER_ID="$2" && shift 2 ;;
    --entrypoint) ENTRYPOINT="$2" && shift 2 ;;
    *) die "unknown option: $1" ;;
  esac
done
[[ "$(id -u)" == 0 ]] || die "needs root (debootstrap, chroot)"
command -v debootstrap >/dev/null || die "debootstrap not installed (e2e/node.sh deps)"

KEY="$(
  {
    cat "${BASH_SOURCE[0]}" "${SCRIPT_DIR}/image.sh"
    printf '%s\n' "$SUITE" "$MIRROR" "$REF" "$VENV" "$USER_ID" "$ENTRYPOINT" "${APT[@]}" -- "${PIP[@]}" -- "${DIRS[@]}" -- "${ACCOUNTS[@]}"
  } | sha256sum | cut -c1-16
)"
CACHED="${CACHE_ROOT}/images/debian-${KEY}.tar"
mkdir -p "${CACHE_ROOT}/images" "${CACHE_ROOT}/logs"
if [[ -f "$CACHED" ]]; then
  log "${REF}: cached (${CACHED})"
  mkdir -p "$(dirname "$OUT")"
  cp "$CACHED" "$OUT"
  exit 0
fi

t0=$SECONDS
WORK="$(mktemp -d "${TMPDIR:-/tmp}/debian-image.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
ROOTFS="${WORK}/rootfs"
BUILD_LOG="${CACHE_ROOT}/logs/debian-image-${KEY}.log"
: >"$BUILD_LOG"
log "${REF}: building (debootstrap ${SUITE}, ${#APT[@]} packages, ${#PIP[@]} Python packages; log ${BUILD_LOG})"

# Runs in the private mount namespace. Arguments: rootfs, mirror, suite, venv, then the apt packages, `--`, the pip
# requirements.
# shellcheck disable=SC2016
BUILD='
set -euo pipefail
rootfs="$1" mirror="$2" suite="$3" venv="$4"
shift 4
apt=() pip=()
while (($#)) && [[ "$1" != -- ]]; do apt+=("$1"); shift; done
shift
pip=("$@")
debootstrap --variant=minbase "$suite" "$rootfs" "$mirror"
mount -t proc proc "${rootfs}/proc"
mount --rbind /dev "${rootfs}/dev"
cp /etc/resolv.conf "${rootfs}/etc/resolv.conf"
printf "#!/bin/sh\nexit 101\n" >"${rootfs}/usr/sbin/policy-rc.d"
chmod 755 "${rootfs}/usr/sbin/policy-rc.d"
mkdir -p "${rootfs}/etc/postgresql-common/createcluster.d"
echo "create_main_cluster = false" >"${rootfs}/etc/postgresql-common/createcluster.d/no-main-cluster.conf"
for a in ${ACCOUNTS:-}; do
  IFS=: read -r name uid gid home <<<"$a"
  # A gid Debian already uses (26 is `tape`) is taken as it is.
  chroot "$rootfs" getent group "$gid" >/dev/null || chroot "$rootfs" groupadd --system --gid "$gid" "$name"
  chroot "$rootfs" useradd --system --uid "$uid" --gid "$gid" --home-dir "$home" --shell /bin/bash "$name"
done
if ((${#apt[@]})); then
  chroot "$rootfs" env DEBIAN_FRONTEND=noninteractive apt-get update -q
  chroot "$rootfs" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${apt[@]}"
fi
if ((${#pip[@]})); then
  # With the Debian packages visible (--system-site-packages: e.g. python3-psycopg2, which PyPI has only as source),
  # and the certificate bundle of the machine for this build only (its package index may sit behind a private CA).
  cp /etc/ssl/certs/ca-certificates.crt "${rootfs}/tmp/build-ca.crt"
  chroot "$rootfs" python3 -m venv --system-site-packages "$venv"
  chroot "$rootfs" env -u PIP_FIND_LINKS PIP_CERT=/tmp/build-ca.crt REQUESTS_CA_BUNDLE=/tmp/build-ca.crt \
    SSL_CERT_FILE=/tmp/build-ca.crt "${venv}/bin/pip" install -q --no-cache-dir \
    --disable-pip-version-check "${pip[@]}"
  rm -f "${rootfs}/tmp/build-ca.crt"
fi
chroot "$rootfs" apt-get clean
rm -rf "${rootfs}/var/lib/apt/lists/"* "${rootfs}/usr/sbin/policy-rc.d" "${rootfs}/etc/resolv.conf"
: >"${rootfs}/etc/resolv.conf"
umount -R "${rootfs}/dev"
umount "${rootfs}/proc"
'
if ! ACCOUNTS="${ACCOUNTS[*]}" unshare --mount --propagation private bash -c "$BUILD" build "$ROOTFS" "$MIRROR" "$SUITE" "$VENV" "${APT[@]}" -- "${PIP[@]}" >"$BUILD_LOG" 2>&1; then
  tail -n 30 "$BUILD_LOG" >&2
  die "building ${REF} failed (log: ${BUILD_LOG})"
fi
for d in "${DIRS[@]}"; do
  mode=755 dest="${d%%:*}"
  [[ "$d" == *:* ]] && mode="${d#*:}"
  mkdir -p "${ROOTFS}${dest}"
  chmod "$mode" "${ROOTFS}${dest}"
done
opts=()
[[ -n "$USER_ID" ]] && opts+=(--user "$USER_ID")
[[ -n "$ENTRYPOINT" ]] && opts+=(--entrypoint "$ENTRYPOINT")
bash "${SCRIPT_DIR}/image.sh" rootfs "$ROOTFS" "$REF" "${WORK}/image.tar" "${opts[@]}"
mv "${WORK}/image.tar" "${CACHED}.tmp"
mv "${CACHED}.tmp" "$CACHED"
cp "$CACHED" "$OUT"
printf '%s\t%s\t%s\t%ss\n' "$(date -u +%FT%TZ)" "debian-image" "$REF" "$((SECONDS - t0))" >>"${CACHE_ROOT}/timings.log"
log "${REF}: built in $((SECONDS - t0)) s ($(du -h "$CACHED" | cut -f1))"
