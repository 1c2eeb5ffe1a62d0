#!/usr/bin/env bash
# PostgreSQL point-in-time recovery with the program's rendered settings, both CNPG methods (issue 13,
# section 5). Self-contained: exit 0 only when every restore returned exactly the rows written before T.
#
#   e2e/pitr/run.sh [pitr.py run options, e.g. --methods plugin --keep]
#
# Starts what it needs and stops what it started, by pid: the RGW (e2e/objectstore.sh, only when it
# was not already serving) and every PostgreSQL server (pitr.py, pg_ctl on the postmaster's pid).
# Needs root (radosgw-admin; PostgreSQL runs as the `postgres` user), Node (the build), PostgreSQL 15.
#
# Environment:
#   BACKUP_PLATFORM_CACHE   venv location, shared with e2e/objectstore.sh (default ~/.cache/k8s-backup-platform)
#   PG_BIN                  PostgreSQL binaries (default /usr/lib/postgresql/15/bin)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "${HERE}/../.." && pwd)"
CACHE_ROOT="${BACKUP_PLATFORM_CACHE:-${XDG_CACHE_HOME:-${HOME}/.cache}/k8s-backup-platform}"
VENV="${CACHE_ROOT}/venv"
# barman[cloud] pinned; boto3 stays at the version e2e/objectstore.sh pins (barman does not pin it).
BARMAN_VERSION="3.19.1"
BOTO3_VERSION="$(sed -n 's/^BOTO3_VERSION="\(.*\)"$/\1/p' "${REPO}/e2e/objectstore.sh")"

log() { printf '[pitr/run] %s\n' "$*" >&2; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

ensure_barman() {
  local have="" t0
  [[ -x "${VENV}/bin/python" ]] &&
    have="$("${VENV}/bin/python" -c 'import importlib.metadata as m; print(m.version("barman"))' 2>/dev/null || true)"
  [[ "$have" == "$BARMAN_VERSION" && -x "${VENV}/bin/barman-cloud-backup" ]] && return 0
  t0="$(now)"
  if [[ ! -x "${VENV}/bin/python" ]]; then
    log "creating ${VENV}"
    python3 -m venv "$VENV"
  fi
  log "installing barman[cloud]==${BARMAN_VERSION} (boto3==${BOTO3_VERSION}) into ${VENV}"
  "${VENV}/bin/python" -m pip install -q --disable-pip-version-check \
    "barman[cloud]==${BARMAN_VERSION}" "boto3==${BOTO3_VERSION}"
  log "barman installed in $(since "$t0")s"
}

STARTED_STORE=false
cleanup() {
  if [[ "$STARTED_STORE" == true ]]; then
    log "stopping the object store this run started"
    bash "${REPO}/e2e/objectstore.sh" stop || true
  fi
}
trap cleanup EXIT

[[ "$(id -u)" == 0 ]] || { log "run as root (radosgw-admin, runuser postgres)"; exit 2; }
T0="$(now)"
ensure_barman
if ! bash "${REPO}/e2e/objectstore.sh" status >/dev/null 2>&1; then
  STARTED_STORE=true
  bash "${REPO}/e2e/objectstore.sh" start >/dev/null
fi
eval "$(bash "${REPO}/e2e/objectstore.sh" env)"
log "object store ${BACKUP_PLATFORM_S3_ENDPOINT} ($([[ "$STARTED_STORE" == true ]] && echo "started by this run" || echo "already running"))"
t0="$(now)"
(cd "$REPO" && npm run -s build)
log "build in $(since "$t0")s"
rc=0
"${VENV}/bin/python" "${HERE}/pitr.py" run --endpoint "$BACKUP_PLATFORM_S3_ENDPOINT" --ceph-conf "$BACKUP_PLATFORM_CEPH_CONF" "$@" || rc=$?
log "total $(since "$T0")s, exit ${rc}"
exit "$rc"
