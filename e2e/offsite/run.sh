#!/usr/bin/env bash
# The off-site copy, run for real (issue 13, section 6): rclone with exactly the command, arguments and
# environment of the program's off-site CronJob, from the real RGW to a second bucket with its own user.
# Self-contained: exit 0 only when every check of e2e/offsite/offsite.py passed.
#
#   e2e/offsite/run.sh
#
# Starts what it needs in private state dirs and stops it by pid, whatever happens: a control plane
# (e2e/cluster.sh) and a Ceph RGW (e2e/objectstore.sh), both purged at the end. Builds rclone with
# `e2e/toolchain.sh rclone` (nice -n 10) when the cache lacks it.
# Needs root (radosgw-admin; the job runs as uid 65534 through setpriv), Node (the build), Go (rclone once).
#
# Environment:
#   OFFSITE_E2E_STATE       parent of the private state dirs (default /tmp/offsite-e2e.<pid>, removed at the end)
#   OFFSITE_RCLONE          an rclone binary to use instead of the toolchain's (say, Debian's 1.60.1)
#   BACKUP_PLATFORM_CACHE   toolchain cache and venv (default ~/.cache/k8s-backup-platform)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "${HERE}/../.." && pwd)"
CACHE_ROOT="${BACKUP_PLATFORM_CACHE:-${XDG_CACHE_HOME:-${HOME}/.cache}/k8s-backup-platform}"
VENV="${CACHE_ROOT}/venv"
# shellcheck source=../versions.env
. "${REPO}/e2e/versions.env"
STATE="${OFFSITE_E2E_STATE:-/tmp/offsite-e2e.$$}"
export BACKUP_PLATFORM_STATE="${STATE}/cluster"
export BACKUP_PLATFORM_S3_STATE="${STATE}/s3"
RCLONE="${OFFSITE_RCLONE:-${CACHE_ROOT}/bin/rclone-${RCLONE_VERSION}/rclone}"

log() { printf '[offsite/run] %s\n' "$*" >&2; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

cleanup() {
  local rc=$?
  log "stopping the object store and the control plane this run started (by pid), purging ${STATE}"
  bash "${REPO}/e2e/objectstore.sh" stop --purge || true
  bash "${REPO}/e2e/cluster.sh" stop --purge || true
  rm -rf "${STATE}"
  exit "$rc"
}

[[ "$(id -u)" == 0 ]] || { log "run as root (radosgw-admin, setpriv to uid 65534)"; exit 2; }
[[ ! -e "$STATE" ]] || { log "${STATE} exists: set OFFSITE_E2E_STATE to a new directory"; exit 2; }
T0="$(now)"
if [[ ! -x "$RCLONE" ]]; then
  log "building rclone ${RCLONE_VERSION} (e2e/toolchain.sh rclone)"
  nice -n 10 bash "${REPO}/e2e/toolchain.sh" rclone >/dev/null
fi
"${VENV}/bin/python" -c 'import boto3' 2>/dev/null || {
  log "no boto3 in ${VENV}: run e2e/objectstore.sh check once (it installs the pinned boto3)"
  exit 2
}
mkdir -p "$STATE"
trap cleanup EXIT
t0="$(now)"
bash "${REPO}/e2e/cluster.sh" start >/dev/null
log "control plane started in $(since "$t0")s (${BACKUP_PLATFORM_STATE})"
t0="$(now)"
bash "${REPO}/e2e/objectstore.sh" start >/dev/null
log "object store started in $(since "$t0")s (${BACKUP_PLATFORM_S3_STATE})"
eval "$(bash "${REPO}/e2e/cluster.sh" env)"
eval "$(bash "${REPO}/e2e/objectstore.sh" env)"
# shellcheck source=/dev/null
[[ -f "${CACHE_ROOT}/env.sh" ]] && . "${CACHE_ROOT}/env.sh"
t0="$(now)"
(cd "$REPO" && npm run -s build)
log "build in $(since "$t0")s"
rc=0
"${VENV}/bin/python" "${HERE}/offsite.py" run --endpoint "$BACKUP_PLATFORM_S3_ENDPOINT" --ceph-conf "$BACKUP_PLATFORM_CEPH_CONF" \
  --rclone "$RCLONE" --work "${STATE}/work" || rc=$?
log "total $(since "$T0")s, exit ${rc}"
exit "$rc"
