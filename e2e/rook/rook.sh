#!/usr/bin/env bash
# Runs the Rook stand-in (e2e/rook/rook.py) with the Python venv the object store uses.
#
#   e2e/rook/rook.sh reconcile --once     one pass over every CephObjectStoreUser and ObjectBucketClaim
#   e2e/rook/rook.sh watch                a pass every second until killed (the harness kills it by pid)
#   e2e/rook/rook.sh --help
#
# Needs KUBECONFIG (eval "$(e2e/cluster.sh env)"), BACKUP_PLATFORM_S3_ENDPOINT and
# BACKUP_PLATFORM_CEPH_CONF (eval "$(e2e/objectstore.sh env)"); kubectl and radosgw-admin on PATH
# (<cache>/env.sh is sourced when present). The venv gets boto3 (pinned as in objectstore.sh)
# if it lacks it; nothing else is installed.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE_ROOT="${BACKUP_PLATFORM_CACHE:-${XDG_CACHE_HOME:-${HOME}/.cache}/k8s-backup-platform}"
VENV="${CACHE_ROOT}/venv"
BOTO3_VERSION="$(sed -n 's/^BOTO3_VERSION="\(.*\)"$/\1/p' "${SCRIPT_DIR}/../objectstore.sh")"

if [[ -f "${CACHE_ROOT}/env.sh" ]]; then
  # shellcheck source=/dev/null
  . "${CACHE_ROOT}/env.sh"
fi
if ! "${VENV}/bin/python" -c 'import boto3' 2>/dev/null; then
  [[ -x "${VENV}/bin/python" ]] || python3 -m venv "$VENV"
  echo "[rook] installing boto3==${BOTO3_VERSION} into ${VENV}" >&2
  "${VENV}/bin/python" -m pip install -q --disable-pip-version-check "boto3==${BOTO3_VERSION}" >&2
fi
# exec: the pid the caller holds is the reconciler's own, so killing it stops it.
exec "${VENV}/bin/python" "${SCRIPT_DIR}/rook.py" "$@"
