#!/usr/bin/env bash
# A real S3 object store on 127.0.0.1 for end-to-end tests: Ceph RGW (Debian's radosgw 16.2)
# on a one-node Ceph cluster: one ceph-mon, one ceph-osd whose object store needs no block
# device (memstore by default), pools of size 1, and radosgw with the beast frontend. No
# ceph-mgr (RGW does not need one), no systemd, nothing under /etc/ceph or /var/lib/ceph: every
# daemon runs in the foreground of its own session with --conf pointing into the state dir.
#
#   e2e/objectstore.sh start          install missing packages, create the cluster the first
#                                     time, start (or repair) it; idempotent. Last lines:
#                                       export BACKUP_PLATFORM_S3_ENDPOINT=http://127.0.0.1:<port>
#                                       export BACKUP_PLATFORM_CEPH_CONF=<state>/ceph.conf
#   e2e/objectstore.sh stop [--purge] stop every daemon by its pid; --purge also deletes the state
#   e2e/objectstore.sh status         what runs, on which port; exit 1 if not serving S3
#   e2e/objectstore.sh env            print the two export lines (eval "$(e2e/objectstore.sh env)")
#   e2e/objectstore.sh check          S3 smoke check with throwaway users (objectstore/check.py,
#                                     boto3 in <cache>/venv)
#
# Admin access: radosgw-admin --conf "$BACKUP_PLATFORM_CEPH_CONF" user create|caps add|bucket stats ...
# (and ceph --conf ... for the cluster). The conf's [global] keyring is client.admin's. Without a
# ceph-mgr, the `ceph` commands the mgr serves (e.g. osd df, osd purge, osd destroy) wait
# forever: wrap any such call in `timeout`. radosgw-admin never needs the mgr.
#
# Environment:
#   BACKUP_PLATFORM_S3_STATE        state dir (conf, keyrings, mon and osd data, logs, pids)
#                                   default /tmp/k8s-backup-platform-objectstore
#   BACKUP_PLATFORM_CACHE           cache dir for the Python venv of `check`
#                                   default ${XDG_CACHE_HOME:-$HOME/.cache}/k8s-backup-platform
#   BACKUP_PLATFORM_S3_OSD_STORE    memstore (default: RAM, saved to the osd dir on a clean stop),
#                                   bluestore (a sparse file in the state dir) or filestore (a dir);
#                                   fixed when the cluster is created
#   BACKUP_PLATFORM_S3_OSD_BYTES    capacity of the OSD (default 1 GiB; memstore holds it in RAM
#                                   only as far as it is filled)
#   BACKUP_PLATFORM_S3_PORT         RGW port (default: the previous one if free, else a free one)
#   BACKUP_PLATFORM_S3_LC_DEBUG_INTERVAL  seconds that count as one lifecycle "day" (rgw lc debug
#                                   interval), for tests of expiration rules; default unset (real days)
#   BACKUP_PLATFORM_START_TIMEOUT   seconds to wait for each daemon (default 90)
#   BACKUP_PLATFORM_STOP_TIMEOUT    seconds to wait for each daemon to exit before KILL (default 60)
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

STATE_DIR="${BACKUP_PLATFORM_S3_STATE:-/tmp/k8s-backup-platform-objectstore}"
CACHE_ROOT="${BACKUP_PLATFORM_CACHE:-${XDG_CACHE_HOME:-${HOME}/.cache}/k8s-backup-platform}"
OSD_STORE="${BACKUP_PLATFORM_S3_OSD_STORE:-memstore}"
OSD_BYTES="${BACKUP_PLATFORM_S3_OSD_BYTES:-1073741824}"
START_TIMEOUT="${BACKUP_PLATFORM_START_TIMEOUT:-90}"
STOP_TIMEOUT="${BACKUP_PLATFORM_STOP_TIMEOUT:-60}"

# Debian 12's ceph; the script checks the major version the tests were written against.
CEPH_PACKAGES=(radosgw ceph-mon ceph-osd)
CEPH_SERIES="16.2."
BOTO3_VERSION="1.43.11"

CONF="${STATE_DIR}/ceph.conf"
LOGS="${STATE_DIR}/logs"
RUN="${STATE_DIR}/run"
KEYS="${STATE_DIR}/keyrings"
MON_DATA="${STATE_DIR}/mon/a"
OSD_DATA="${STATE_DIR}/osd/0"
OSD_BLOCK="${STATE_DIR}/osd/0.block"
RGW_DATA="${STATE_DIR}/rgw"
PORTS_FILE="${STATE_DIR}/ports.env"
FSID_FILE="${STATE_DIR}/fsid"
VENV="${CACHE_ROOT}/venv"

# The three daemons, in start order; stop goes backwards.
COMPONENTS=(ceph-mon ceph-osd radosgw)

LOG_TAG=objectstore
LOG_SUFFIX=.out
# Our daemons name their command and this state dir's conf, so another cluster's daemon is never taken for ours.
process_matches() { [[ "$2" == *"$1"* && "$2" == *"$CONF"* ]]; }
# shellcheck source=lib/processes.sh
. "${SCRIPT_DIR}/lib/processes.sh"

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//' >&2
  exit 2
}

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# --- packages ---------------------------------------------------------------------------------

ensure_packages() {
  local b missing=()
  for b in ceph-mon ceph-osd radosgw radosgw-admin ceph ceph-authtool monmaptool; do
    command -v "$b" >/dev/null 2>&1 || missing+=("$b")
  done
  if ((${#missing[@]})); then
    [[ "$(id -u)" == 0 ]] || die "missing ${missing[*]}; as root: apt-get update && apt-get install --no-install-recommends ${CEPH_PACKAGES[*]}"
    command -v apt-get >/dev/null 2>&1 || die "missing ${missing[*]} and no apt-get to install ${CEPH_PACKAGES[*]}"
    local t0
    t0="$(now)"
    mkdir -p "$LOGS"
    log "installing ${CEPH_PACKAGES[*]} with apt-get (log: ${LOGS}/apt.log)"
    # Without systemd as PID 1 the packages' units are only enabled, never started.
    if ! { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      "${CEPH_PACKAGES[@]}"; } >>"${LOGS}/apt.log" 2>&1; then
      tail -n 20 "${LOGS}/apt.log" >&2 || true
      die "apt-get install ${CEPH_PACKAGES[*]} failed (log: ${LOGS}/apt.log)"
    fi
    log "installed in $(since "$t0")s"
  fi
  local v
  v="$(ceph-osd --version 2>/dev/null | awk '{print $3}')"
  [[ "$v" == "${CEPH_SERIES}"* ]] || log "WARNING: ceph ${v:-unknown} installed; this script was written for ${CEPH_SERIES}x"
  return 0
}

# --- ports ------------------------------------------------------------------------------------

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

free_port() {
  local p
  if command -v node >/dev/null 2>&1; then
    node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
    return
  fi
  for ((p = 20000 + RANDOM % 20000; ; p++)); do
    port_in_use "$p" || { echo "$p"; return; }
  done
}

MON_PORT="" RGW_PORT=""
load_ports() {
  if [[ -f "$PORTS_FILE" ]]; then
    # shellcheck source=/dev/null
    . "$PORTS_FILE"
  fi
}

save_ports() {
  printf 'MON_PORT=%s\nRGW_PORT=%s\n' "$MON_PORT" "$RGW_PORT" >"$PORTS_FILE"
}

# The mon's port is in its monmap; when another process took it while the mon was stopped, the
# mon moves to a free port (monmap rewritten and injected). RGW's port is only in ceph.conf.
choose_ports() {
  load_ports
  if ! is_running ceph-mon; then
    if [[ -z "$MON_PORT" ]]; then
      MON_PORT="$(free_port)"
    elif port_in_use "$MON_PORT"; then
      local old="$MON_PORT"
      MON_PORT="$(free_port)"
      [[ -f "${MON_DATA}/.mkfs-done" ]] && move_mon "$old" "$MON_PORT"
    fi
  fi
  if ! is_running radosgw; then
    if [[ -n "${BACKUP_PLATFORM_S3_PORT:-}" ]]; then
      RGW_PORT="$BACKUP_PLATFORM_S3_PORT"
      port_in_use "$RGW_PORT" && die "BACKUP_PLATFORM_S3_PORT=${RGW_PORT} is in use"
    fi
    while [[ -z "$RGW_PORT" || "$RGW_PORT" == "$MON_PORT" ]] || port_in_use "$RGW_PORT"; do
      RGW_PORT="$(free_port)"
    done
  fi
  save_ports
}

move_mon() {
  local old="$1" new="$2" map="${STATE_DIR}/monmap.move"
  log "mon port ${old} is taken; moving the mon to ${new}"
  ceph-mon --conf "$CONF" -i a --extract-monmap "$map" >>"${LOGS}/setup.log" 2>&1 || die "extracting the monmap failed"
  monmaptool --rm a "$map" >>"${LOGS}/setup.log" 2>&1
  monmaptool --addv a "[v2:127.0.0.1:${new}]" "$map" >>"${LOGS}/setup.log" 2>&1
  ceph-mon --conf "$CONF" -i a --inject-monmap "$map" >>"${LOGS}/setup.log" 2>&1 || die "injecting the monmap failed"
  rm -f "$map"
}

# --- configuration ----------------------------------------------------------------------------

osd_store_conf() {
  case "$OSD_STORE" in
    memstore)
      cat <<EOF
osd objectstore = memstore
memstore device bytes = ${OSD_BYTES}
# The default fast shutdown exits without unmounting: memstore would never save its data.
osd fast shutdown = false
EOF
      ;;
    bluestore)
      cat <<EOF
osd objectstore = bluestore
# Not inside the osd dir: bluestore links <osd dir>/block to this path.
bluestore block path = ${OSD_BLOCK}
bluestore block create = true
bluestore block size = ${OSD_BYTES}
bluestore fsck on mount = false
osd memory target = 939524096
bluestore cache autotune = false
bluestore cache size = 134217728
EOF
      ;;
    filestore)
      cat <<EOF
osd objectstore = filestore
osd journal = ${OSD_DATA}/journal
osd journal size = 128
filestore fd cache size = 64
# ext4's xattrs are too small for the default 2048-byte object names (Ceph's documented limit).
osd max object name len = 256
osd max object namespace len = 64
EOF
      ;;
    *) die "BACKUP_PLATFORM_S3_OSD_STORE=${OSD_STORE}: use memstore, bluestore or filestore" ;;
  esac
}

write_conf() {
  local fsid lc=""
  fsid="$(<"$FSID_FILE")"
  [[ -n "${BACKUP_PLATFORM_S3_LC_DEBUG_INTERVAL:-}" ]] &&
    lc="rgw lc debug interval = ${BACKUP_PLATFORM_S3_LC_DEBUG_INTERVAL}"
  cat >"${CONF}.tmp" <<EOF
# Written by e2e/objectstore.sh on every start; edits are lost.
[global]
fsid = ${fsid}
mon host = [v2:127.0.0.1:${MON_PORT}]
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind ipv6 = false
ms bind msgr1 = false
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
auth allow insecure global id reclaim = false
keyring = ${KEYS}/client.admin.keyring
run dir = ${RUN}
log file = ${LOGS}/\$name.log
mon cluster log file = ${LOGS}/cluster.log
crash dir = ${STATE_DIR}/crash
# One OSD: every pool has one copy, and CRUSH places it on that OSD.
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
# The state dir shares a disk with everything else: do not warn below 30 % free.
mon data avail warn = 5
mon data avail crit = 2
# One mon, no peers to batch for: commit map changes (pool creation) at once, not every second.
paxos propose interval = 0.05
paxos min wait = 0.01

[mon.a]
mon data = ${MON_DATA}
admin socket = ${RUN}/\$name.asok

[osd.0]
osd data = ${OSD_DATA}
keyring = ${OSD_DATA}/keyring
admin socket = ${RUN}/\$name.asok
$(osd_store_conf)

[client.rgw.a]
keyring = ${KEYS}/client.rgw.a.keyring
admin socket = ${RUN}/\$name.asok
rgw data = ${RGW_DATA}
rgw frontends = beast endpoint=127.0.0.1:${RGW_PORT}
rgw thread pool size = 64
rgw enable ops log = false
# RGW has nothing to save; without an OSD its shutdown would wait 120 s for stuck requests.
rgw exit timeout secs = 5
${lc}
EOF
  mv "${CONF}.tmp" "$CONF"
}

# --- cluster ----------------------------------------------------------------------------------

cephq() { timeout 30 ceph --conf "$CONF" --connect-timeout 10 "$@"; }

create_keys() {
  [[ -f "${KEYS}/.complete" ]] && return 0
  rm -rf "$KEYS"
  mkdir -p "$KEYS"
  (
    umask 077
    cd "$KEYS"
    ceph-authtool --create-keyring mon.keyring --gen-key -n mon. --cap mon 'allow *'
    ceph-authtool --create-keyring client.admin.keyring --gen-key -n client.admin \
      --cap mon 'allow *' --cap osd 'allow *' --cap mds 'allow *' --cap mgr 'allow *'
    # The mon's mkfs imports both: client.admin exists from the first second.
    ceph-authtool mon.keyring --import-keyring client.admin.keyring
  ) >>"${LOGS}/setup.log" 2>&1 || die "creating keyrings failed (log: ${LOGS}/setup.log)"
  touch "${KEYS}/.complete"
}

mkfs_mon() {
  [[ -f "${MON_DATA}/.mkfs-done" ]] && return 0
  log "creating mon.a (fsid $(<"$FSID_FILE"))"
  rm -rf "$MON_DATA"
  mkdir -p "$MON_DATA"
  local map="${STATE_DIR}/monmap"
  monmaptool --create --clobber --fsid "$(<"$FSID_FILE")" --addv a "[v2:127.0.0.1:${MON_PORT}]" "$map" \
    >>"${LOGS}/setup.log" 2>&1 || die "monmaptool failed (log: ${LOGS}/setup.log)"
  ceph-mon --conf "$CONF" -i a --mkfs --monmap "$map" --keyring "${KEYS}/mon.keyring" \
    >>"${LOGS}/setup.log" 2>&1 || die "ceph-mon --mkfs failed (log: ${LOGS}/setup.log)"
  rm -f "$map"
  touch "${MON_DATA}/.mkfs-done"
}

wait_for() {
  local what="$1" component="$2" check="$3" deadline=$((SECONDS + START_TIMEOUT))
  while ((SECONDS < deadline)); do
    if "$check"; then return 0; fi
    if ! is_running "$component"; then
      tail -n 30 "${LOGS}/${component}.out" >&2 || true
      die "${component} exited while waiting for ${what} (logs: ${LOGS}/${component}.out and ${LOGS}/*.log)"
    fi
    sleep 0.3
  done
  die "${what}: not ready after ${START_TIMEOUT}s (logs: ${LOGS})"
}

mon_ready() { cephq mon stat >/dev/null 2>&1; }
osd_up() { cephq osd dump 2>/dev/null | grep -q '^osd\.0 up '; }
rgw_ready() { curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:${RGW_PORT}/" 2>/dev/null; }

start_mon() {
  if ! is_running ceph-mon; then
    start_component ceph-mon ceph-mon --conf "$CONF" -i a -f
  fi
  wait_for "mon quorum" ceph-mon mon_ready
  # No ceph-mgr by design: keep `ceph health` about what matters here (raised after 2 minutes).
  if [[ ! -f "${MON_DATA}/.mgr-down-muted" ]] &&
    cephq health mute MGR_DOWN --sticky >>"${LOGS}/setup.log" 2>&1; then
    touch "${MON_DATA}/.mgr-down-muted"
  fi
}

prepare_osd() {
  [[ -f "${OSD_DATA}/.mkfs-done" ]] && return 0
  log "creating osd.0 (${OSD_STORE}, $((OSD_BYTES / 1048576)) MiB)"
  rm -rf "$OSD_DATA" "$OSD_BLOCK"
  mkdir -p "$OSD_DATA"
  local uuid id
  uuid="$(cat /proc/sys/kernel/random/uuid)"
  # A retry after a failed mkfs re-creates id 0 with a new uuid. Only mon commands here: `osd
  # purge` and `osd destroy` go through ceph-mgr and would wait forever without one.
  if cephq osd dump 2>/dev/null | grep -q '^osd\.0 '; then
    log "removing the osd.0 a failed creation left behind"
    cephq osd down 0 >/dev/null 2>&1 || true
    cephq osd crush rm osd.0 >/dev/null 2>&1 || true
    cephq auth del osd.0 >/dev/null 2>&1 || true
    cephq osd rm 0 >>"${LOGS}/setup.log" 2>&1 || die "ceph osd rm 0 failed"
  fi
  id="$(cephq osd new "$uuid" 0)" || die "ceph osd new failed"
  [[ "$id" == 0 ]] || die "ceph osd new gave id ${id}, expected 0"
  # --no-mon-config: osd.0 has no key in the mon yet. The new key goes to the osd's keyring.
  ceph-osd --conf "$CONF" -i 0 --mkfs --mkkey --osd-uuid "$uuid" --no-mon-config \
    >>"${LOGS}/setup.log" 2>&1 || die "ceph-osd --mkfs failed (log: ${LOGS}/setup.log)"
  cephq auth add osd.0 osd 'allow *' mon 'allow profile osd' mgr 'allow profile osd' \
    -i "${OSD_DATA}/keyring" >>"${LOGS}/setup.log" 2>&1 || die "ceph auth add osd.0 failed"
  touch "${OSD_DATA}/.mkfs-done" "${OSD_DATA}/.saved"
}

# memstore writes its objects to the osd dir only when ceph-osd unmounts it on a clean stop;
# .saved marks that the files there are the latest state (removed while the osd runs).
osd_is_memstore() { [[ -f "${OSD_DATA}/type" && "$(<"${OSD_DATA}/type")" == memstore ]]; }

start_osd() {
  if ! is_running ceph-osd; then
    if osd_is_memstore && [[ ! -f "${OSD_DATA}/.saved" ]]; then
      die "osd.0 (memstore) did not stop cleanly, so what it held since its last clean stop is lost; run 'stop --purge' and start again"
    fi
    rm -f "${OSD_DATA}/.saved"
    start_component ceph-osd ceph-osd --conf "$CONF" -i 0 -f
  fi
  wait_for "osd.0 up" ceph-osd osd_up
}

start_rgw() {
  mkdir -p "$RGW_DATA"
  if [[ ! -s "${KEYS}/client.rgw.a.keyring" ]]; then
    cephq auth get-or-create client.rgw.a mon 'allow rw' osd 'allow rwx' \
      -o "${KEYS}/client.rgw.a.keyring" >>"${LOGS}/setup.log" 2>&1 || die "creating client.rgw.a failed"
    chmod 600 "${KEYS}/client.rgw.a.keyring"
  fi
  if ! is_running radosgw; then
    # The first start creates RGW's pools (.rgw.root, default.rgw.*): several seconds.
    start_component radosgw radosgw --conf "$CONF" -n client.rgw.a -f
  fi
  wait_for "radosgw on 127.0.0.1:${RGW_PORT}" radosgw rgw_ready
}

check_store_type() {
  local have
  [[ -f "${OSD_DATA}/.mkfs-done" && -f "${OSD_DATA}/type" ]] || return 0
  have="$(<"${OSD_DATA}/type")"
  [[ "$have" == "$OSD_STORE" ]] ||
    die "osd.0 was created with ${have}, BACKUP_PLATFORM_S3_OSD_STORE=${OSD_STORE}; run 'stop --purge' first"
}

print_env() {
  echo "export BACKUP_PLATFORM_S3_ENDPOINT=http://127.0.0.1:${RGW_PORT}"
  echo "export BACKUP_PLATFORM_CEPH_CONF=${CONF}"
}

# --- commands ---------------------------------------------------------------------------------

cmd_start() {
  local t0
  ensure_packages
  t0="$(now)"
  mkdir -p "$STATE_DIR" "$LOGS" "$RUN" "${STATE_DIR}/crash"
  chmod 700 "$STATE_DIR"
  [[ -s "$FSID_FILE" ]] || cat /proc/sys/kernel/random/uuid >"$FSID_FILE"
  check_store_type
  create_keys
  choose_ports
  write_conf
  mkfs_mon
  start_mon
  prepare_osd
  start_osd
  start_rgw
  log "ready in $(since "$t0")s: S3 on http://127.0.0.1:${RGW_PORT} (${OSD_STORE}; state ${STATE_DIR})"
  print_env
}

cmd_stop() {
  local purge=false i
  [[ "${1:-}" == "--purge" ]] && purge=true
  if [[ -d "$RUN" ]]; then
    for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do
      # radosgw waits for nothing on TERM but its connections: 15 s is plenty.
      if [[ "${COMPONENTS[i]}" == radosgw ]] && ((STOP_TIMEOUT > 15)); then
        stop_component radosgw 15
      else
        stop_component "${COMPONENTS[i]}" "$STOP_TIMEOUT"
      fi
      if [[ "${COMPONENTS[i]}" == ceph-osd ]] && $STOPPED_CLEANLY && [[ -f "${OSD_DATA}/.mkfs-done" ]]; then
        touch "${OSD_DATA}/.saved"
      fi
    done
  fi
  if $purge; then
    case "$STATE_DIR" in
      "" | / | "$HOME") die "refusing to purge ${STATE_DIR}" ;;
    esac
    log "removing ${STATE_DIR}"
    rm -rf "$STATE_DIR"
  fi
}

cmd_status() {
  local rc=0 c pid
  load_ports
  for c in "${COMPONENTS[@]}"; do
    pid="$(component_pid "$c")"
    if [[ -n "$pid" ]]; then
      printf '%-12s running  pid %-8s rss %s MiB\n' "$c" "$pid" "$(($(awk '/^VmRSS/ {print $2}' "/proc/${pid}/status") / 1024))"
    else
      printf '%-12s stopped\n' "$c"
      rc=1
    fi
  done
  if [[ -n "$RGW_PORT" ]] && is_running radosgw && rgw_ready; then
    printf '%-12s ready    http://127.0.0.1:%s\n' "s3" "$RGW_PORT"
  else
    printf '%-12s not ready\n' "s3"
    rc=1
  fi
  if is_running ceph-mon; then
    printf '%-12s %s\n' "health" "$(cephq health 2>&1 | head -n 1)"
  fi
  printf '%-12s %s\n' "osd store" "$([[ -f "${OSD_DATA}/type" ]] && cat "${OSD_DATA}/type" || echo "${OSD_STORE} (not created)")"
  printf '%-12s %s\n' "state" "$STATE_DIR"
  printf '%-12s %s\n' "conf" "$CONF"
  return "$rc"
}

cmd_env() {
  load_ports
  [[ -n "$RGW_PORT" ]] || die "no ports recorded in ${PORTS_FILE}: run 'start' first"
  print_env
}

ensure_venv() {
  local have=""
  [[ -x "${VENV}/bin/python" ]] &&
    have="$("${VENV}/bin/python" -c 'import boto3; print(boto3.__version__)' 2>/dev/null || true)"
  [[ "$have" == "$BOTO3_VERSION" ]] && return 0
  mkdir -p "$CACHE_ROOT"
  if [[ ! -x "${VENV}/bin/python" ]]; then
    log "creating ${VENV}"
    python3 -m venv "$VENV" || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
  fi
  log "installing boto3==${BOTO3_VERSION} into ${VENV}"
  "${VENV}/bin/python" -m pip install -q --disable-pip-version-check "boto3==${BOTO3_VERSION}" >&2 ||
    die "pip install boto3==${BOTO3_VERSION} failed"
}

cmd_check() {
  load_ports
  if [[ -z "$RGW_PORT" ]] || ! is_running radosgw || ! rgw_ready; then
    die "the object store is not running: run 'start' first"
  fi
  ensure_venv
  "${VENV}/bin/python" "${SCRIPT_DIR}/objectstore/check.py" --endpoint "http://127.0.0.1:${RGW_PORT}" --conf "$CONF"
}

case "${1:-}" in
  start) cmd_start ;;
  stop)
    shift
    cmd_stop "$@"
    ;;
  status) cmd_status ;;
  env) cmd_env ;;
  check) cmd_check ;;
  *) usage ;;
esac
