#!/usr/bin/env bash
# A throwaway Kubernetes control plane on 127.0.0.1 for end-to-end tests:
# etcd + kube-apiserver (TLS, RBAC, service-account tokens) + kube-controller-manager,
# with the upstream CRDs from ../shared/fixtures installed (except Velero's: its chart brings them) and the namespaces and CNPG
# Clusters that application teams own in a real cluster. No kubelet: pods never run, unless e2e/node.sh starts a node
# (`stop` stops that node too).
#
#   e2e/cluster.sh start          start (or repair) and seed the cluster; idempotent
#   e2e/cluster.sh stop [--purge] stop all processes; --purge also deletes the state dir
#   e2e/cluster.sh status         what runs, on which ports; exit 1 if not ready
#   e2e/cluster.sh env            print `export KUBECONFIG=...` (use: eval "$(e2e/cluster.sh env)")
#
# Environment:
#   BACKUP_PLATFORM_STATE       state dir (certs, etcd data, logs, kubeconfig)
#                               default /tmp/k8s-backup-platform-cluster
#   BACKUP_PLATFORM_CACHE       toolchain cache (see toolchain.sh); its env.sh puts the binaries on PATH
#   BACKUP_PLATFORM_FIXTURES    fixtures dir holding crds/; default <repo>/../shared/fixtures
#   BACKUP_PLATFORM_NAMESPACES  namespaces to create: a file with one name per line, or a
#                               space/comma separated list; default below
#   BACKUP_PLATFORM_START_TIMEOUT  seconds to wait for /readyz (default 90)
#   BACKUP_PLATFORM_KCM_CONTROLLERS  kube-controller-manager --controllers (default below)
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "${SCRIPT_DIR}/.." && pwd)"

STATE_DIR="${BACKUP_PLATFORM_STATE:-/tmp/k8s-backup-platform-cluster}"
CACHE_ROOT="${BACKUP_PLATFORM_CACHE:-${XDG_CACHE_HOME:-${HOME}/.cache}/k8s-backup-platform}"
FIXTURES_DIR="${BACKUP_PLATFORM_FIXTURES:-${REPO_ROOT}/../shared/fixtures}"
START_TIMEOUT="${BACKUP_PLATFORM_START_TIMEOUT:-90}"
DEFAULT_NAMESPACES="rook-ceph rciis-prod monitoring keycloak strimzi-operator cnpg-system"
# Enough for namespace deletion to finish, ownerReference cascades, the default ServiceAccount
# and kube-root-ca.crt in every namespace, token Secrets and aggregated ClusterRoles.
DEFAULT_KCM_CONTROLLERS="namespace-controller,garbage-collector-controller,serviceaccount-controller,serviceaccount-token-controller,root-ca-certificate-publisher-controller,clusterrole-aggregation-controller"
APP_CLUSTERS="${SCRIPT_DIR}/fixtures/app-clusters.yaml"

PKI="${STATE_DIR}/pki"
LOGS="${STATE_DIR}/logs"
RUN="${STATE_DIR}/run"
KUBECONFIG_FILE="${STATE_DIR}/kubeconfig"
PORTS_FILE="${STATE_DIR}/ports.env"

LOG_TAG=cluster
# Our processes name their command and have this state dir in their arguments (data dir, certificates, kubeconfig).
process_matches() { [[ "$2" == *"$1"* && "$2" == *"$STATE_DIR"* ]]; }
# shellcheck source=lib/processes.sh
. "${SCRIPT_DIR}/lib/processes.sh"

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//' >&2
  exit 2
}

# --- binaries ---------------------------------------------------------------------------------

find_binaries() {
  if [[ -f "${CACHE_ROOT}/env.sh" ]]; then
    # shellcheck source=/dev/null
    . "${CACHE_ROOT}/env.sh"
  fi
  local b missing=()
  for b in etcd kube-apiserver kube-controller-manager kubectl openssl curl; do
    command -v "$b" >/dev/null 2>&1 || missing+=("$b")
  done
  if ((${#missing[@]})); then
    die "missing on PATH: ${missing[*]} (run e2e/toolchain.sh first; cache: ${CACHE_ROOT})"
  fi
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

# Ports survive restarts (the kubeconfig names the apiserver port); a port that another process
# took meanwhile is replaced when its component is not running.
ETCD_CLIENT_PORT="" ETCD_PEER_PORT="" APISERVER_PORT=""
load_ports() {
  if [[ -f "$PORTS_FILE" ]]; then
    # shellcheck source=/dev/null
    . "$PORTS_FILE"
  fi
  if ! is_running etcd; then
    if [[ -z "$ETCD_CLIENT_PORT" ]] || port_in_use "$ETCD_CLIENT_PORT"; then ETCD_CLIENT_PORT="$(free_port)"; fi
    if [[ -z "$ETCD_PEER_PORT" ]] || port_in_use "$ETCD_PEER_PORT" || [[ "$ETCD_PEER_PORT" == "$ETCD_CLIENT_PORT" ]]; then
      ETCD_PEER_PORT="$(free_port)"
    fi
  fi
  if ! is_running kube-apiserver; then
    while [[ -z "$APISERVER_PORT" || "$APISERVER_PORT" == "$ETCD_CLIENT_PORT" || "$APISERVER_PORT" == "$ETCD_PEER_PORT" ]] ||
      port_in_use "$APISERVER_PORT"; do
      APISERVER_PORT="$(free_port)"
    done
  fi
  cat >"$PORTS_FILE" <<EOF
ETCD_CLIENT_PORT=${ETCD_CLIENT_PORT}
ETCD_PEER_PORT=${ETCD_PEER_PORT}
APISERVER_PORT=${APISERVER_PORT}
EOF
}

# --- certificates -----------------------------------------------------------------------------

openssl_quiet() { openssl "$@" 2>>"${LOGS}/openssl.log"; }

make_pki() {
  [[ -f "${PKI}/.complete" ]] && return 0
  log "generating CA, serving, client and service-account keys in ${PKI}"
  rm -rf "$PKI"
  mkdir -p "$PKI"
  (
    cd "$PKI"
    umask 077
    openssl_quiet req -x509 -new -nodes -newkey rsa:2048 -sha256 -days 3650 \
      -keyout ca.key -out ca.crt -subj "/CN=k8s-backup-platform-e2e-ca"

    cat >apiserver.ext <<'EOF'
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local
EOF
    openssl_quiet req -new -nodes -newkey rsa:2048 -keyout apiserver.key -out apiserver.csr -subj "/CN=kube-apiserver"
    openssl_quiet x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -sha256 -days 3650 \
      -extfile apiserver.ext -out apiserver.crt

    cat >client.ext <<'EOF'
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth
EOF
    # system:masters is bound to cluster-admin by the default RBAC policy.
    openssl_quiet req -new -nodes -newkey rsa:2048 -keyout admin.key -out admin.csr -subj "/O=system:masters/CN=e2e-admin"
    openssl_quiet x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial -sha256 -days 3650 \
      -extfile client.ext -out admin.crt

    openssl_quiet genrsa -out sa.key 2048
    openssl_quiet rsa -in sa.key -pubout -out sa.pub
    rm -f ./*.csr ./*.ext ca.srl
    touch .complete
  ) || die "certificate generation failed (see ${LOGS}/openssl.log)"
}

write_kubeconfig() {
  local file="$1" tmp
  tmp="${file}.tmp"
  cat >"$tmp" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster:
    server: https://127.0.0.1:${APISERVER_PORT}
    certificate-authority: ${PKI}/ca.crt
users:
- name: e2e-admin
  user:
    client-certificate: ${PKI}/admin.crt
    client-key: ${PKI}/admin.key
contexts:
- name: e2e
  context:
    cluster: e2e
    user: e2e-admin
current-context: e2e
EOF
  chmod 600 "$tmp"
  mv "$tmp" "$file"
}

# --- components -------------------------------------------------------------------------------

etcd_healthy() { curl -fsS --max-time 2 "http://127.0.0.1:${ETCD_CLIENT_PORT}/health" 2>/dev/null | grep -q '"health":"true"'; }

apiserver_get() {
  curl -fsS --max-time 5 --cacert "${PKI}/ca.crt" --cert "${PKI}/admin.crt" --key "${PKI}/admin.key" \
    "https://127.0.0.1:${APISERVER_PORT}$1"
}

start_etcd() {
  if is_running etcd; then return 0; fi
  mkdir -p "${STATE_DIR}/etcd"
  chmod 700 "${STATE_DIR}/etcd"
  start_component etcd etcd \
    --name e2e \
    --data-dir "${STATE_DIR}/etcd" \
    --listen-client-urls "http://127.0.0.1:${ETCD_CLIENT_PORT}" \
    --advertise-client-urls "http://127.0.0.1:${ETCD_CLIENT_PORT}" \
    --listen-peer-urls "http://127.0.0.1:${ETCD_PEER_PORT}" \
    --initial-advertise-peer-urls "http://127.0.0.1:${ETCD_PEER_PORT}" \
    --initial-cluster "e2e=http://127.0.0.1:${ETCD_PEER_PORT}" \
    --quota-backend-bytes 2147483648 \
    --log-level warn
  local i
  for ((i = 0; i < 150; i++)); do
    etcd_healthy && return 0
    is_running etcd || break
    sleep 0.2
  done
  tail -n 30 "${LOGS}/etcd.log" >&2 || true
  die "etcd did not become healthy on 127.0.0.1:${ETCD_CLIENT_PORT} (log: ${LOGS}/etcd.log)"
}

start_apiserver() {
  if is_running kube-apiserver; then return 0; fi
  start_component kube-apiserver kube-apiserver \
    --bind-address 127.0.0.1 \
    --advertise-address 127.0.0.1 \
    --secure-port "${APISERVER_PORT}" \
    --etcd-servers "http://127.0.0.1:${ETCD_CLIENT_PORT}" \
    --client-ca-file "${PKI}/ca.crt" \
    --tls-cert-file "${PKI}/apiserver.crt" \
    --tls-private-key-file "${PKI}/apiserver.key" \
    --authorization-mode RBAC \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "${PKI}/sa.pub" \
    --service-account-signing-key-file "${PKI}/sa.key" \
    --service-cluster-ip-range 10.0.0.0/24 \
    --endpoint-reconciler-type none \
    --profiling=false \
    --v 1
}

wait_apiserver_ready() {
  local deadline=$((SECONDS + START_TIMEOUT))
  while ((SECONDS < deadline)); do
    if apiserver_get /readyz >/dev/null 2>&1; then return 0; fi
    if ! is_running kube-apiserver; then
      tail -n 40 "${LOGS}/kube-apiserver.log" >&2 || true
      die "kube-apiserver exited during startup (log: ${LOGS}/kube-apiserver.log)"
    fi
    sleep 0.5
  done
  apiserver_get '/readyz?verbose' >&2 2>&1 || true
  tail -n 40 "${LOGS}/kube-apiserver.log" >&2 || true
  die "kube-apiserver not ready on https://127.0.0.1:${APISERVER_PORT} after ${START_TIMEOUT}s (log: ${LOGS}/kube-apiserver.log)"
}

start_controller_manager() {
  if is_running kube-controller-manager; then return 0; fi
  # --secure-port 0: no health endpoint, so nothing listens beyond the apiserver and etcd.
  start_component kube-controller-manager kube-controller-manager \
    --kubeconfig "${KUBECONFIG_FILE}" \
    --controllers "${BACKUP_PLATFORM_KCM_CONTROLLERS:-${DEFAULT_KCM_CONTROLLERS}}" \
    --use-service-account-credentials=false \
    --root-ca-file "${PKI}/ca.crt" \
    --service-account-private-key-file "${PKI}/sa.key" \
    --leader-elect=false \
    --secure-port 0 \
    --v 1
  sleep 1
  if ! is_running kube-controller-manager; then
    tail -n 30 "${LOGS}/kube-controller-manager.log" >&2 || true
    die "kube-controller-manager exited at startup (log: ${LOGS}/kube-controller-manager.log)"
  fi
}

# --- seed data --------------------------------------------------------------------------------

kc() { kubectl --kubeconfig "${KUBECONFIG_FILE}" "$@"; }

install_crds() {
  local dir="${FIXTURES_DIR}/crds" f names=()
  [[ -d "$dir" ]] || die "CRD fixtures not found: ${dir} (set BACKUP_PLATFORM_FIXTURES)"
  shopt -s nullglob
  local all=("${dir}"/*.yaml "${dir}"/*.yml) files=()
  shopt -u nullglob
  # The Velero chart's CRDs are not pre-installed: the stack applies them from the chart's crds/ folder as its own
  # objects. Pre-installed, the same four CRDs were co-owned by field manager e2e-cluster after every `up`.
  for f in "${all[@]}"; do
    [[ "$(basename "$f")" == velero-chart-* ]] || files+=("$f")
  done
  ((${#files[@]})) || die "no CRD YAML files in ${dir}"
  log "installing ${#files[@]} CRDs from ${dir}"
  for f in "${files[@]}"; do
    # Server-side: the CNPG Cluster CRD is too big for the client-side last-applied annotation.
    kc apply --server-side --force-conflicts --field-manager=e2e-cluster -f "$f" >/dev/null ||
      die "applying CRD ${f} failed"
    names+=("$(kc get -f "$f" -o name)")
  done
  kc wait --for=condition=Established --timeout=60s "${names[@]}" >/dev/null ||
    die "CRDs not Established within 60s: ${names[*]}"
}

namespace_list() {
  local spec="${BACKUP_PLATFORM_NAMESPACES:-${DEFAULT_NAMESPACES}}"
  if [[ -f "$spec" ]]; then
    grep -v -E '^[[:space:]]*(#|$)' "$spec" | tr -s '[:space:],' '\n'
  else
    tr -s '[:space:],' '\n' <<<"$spec"
  fi | sed '/^$/d'
}

create_namespaces() {
  local ns manifest=""
  while read -r ns; do
    manifest+="apiVersion: v1
kind: Namespace
metadata:
  name: ${ns}
---
"
  done < <(namespace_list)
  [[ -n "$manifest" ]] || return 0
  log "ensuring namespaces: $(namespace_list | tr '\n' ' ')"
  kc apply --server-side --field-manager=e2e-cluster -f - >/dev/null <<<"$manifest" ||
    die "creating namespaces failed"
}

apply_app_clusters() {
  [[ -f "$APP_CLUSTERS" ]] || die "missing ${APP_CLUSTERS}"
  log "applying application-owned CNPG Clusters (field manager app-team)"
  kc apply --server-side --field-manager=app-team -f "$APP_CLUSTERS" >/dev/null ||
    die "applying ${APP_CLUSTERS} failed"
}

# --- commands ---------------------------------------------------------------------------------

cmd_start() {
  local t0=$SECONDS
  find_binaries
  mkdir -p "$STATE_DIR" "$LOGS" "$RUN"
  chmod 700 "$STATE_DIR"
  make_pki
  load_ports
  write_kubeconfig "$KUBECONFIG_FILE"
  start_etcd
  start_apiserver
  wait_apiserver_ready
  start_controller_manager
  install_crds
  create_namespaces
  apply_app_clusters
  log "ready in $((SECONDS - t0))s: https://127.0.0.1:${APISERVER_PORT}"
  echo "export KUBECONFIG=${KUBECONFIG_FILE}"
}

cmd_stop() {
  local purge=false
  [[ "${1:-}" == "--purge" ]] && purge=true
  # A node (e2e/node.sh) registered with this control plane goes first: its processes are not in run/.
  if [[ -d "${STATE_DIR}/node/run" ]]; then
    bash "${SCRIPT_DIR}/node.sh" stop || log "e2e/node.sh stop reported leftovers (see above)"
  fi
  if [[ -d "$RUN" ]]; then
    stop_component kube-controller-manager
    stop_component kube-apiserver
    stop_component etcd
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
  if [[ -f "$PORTS_FILE" ]]; then
    # shellcheck source=/dev/null
    . "$PORTS_FILE"
  fi
  for c in etcd kube-apiserver kube-controller-manager; do
    pid="$(component_pid "$c")"
    if [[ -n "$pid" ]]; then
      printf '%-24s running  pid %s\n' "$c" "$pid"
    else
      printf '%-24s stopped\n' "$c"
      rc=1
    fi
  done
  if [[ -n "${APISERVER_PORT}" ]] && is_running kube-apiserver && apiserver_get /readyz >/dev/null 2>&1; then
    printf '%-24s ready    https://127.0.0.1:%s\n' "readyz" "$APISERVER_PORT"
  else
    printf '%-24s not ready\n' "readyz"
    rc=1
  fi
  printf '%-24s %s\n' "state" "$STATE_DIR"
  printf '%-24s %s\n' "kubeconfig" "$KUBECONFIG_FILE"
  return "$rc"
}

cmd_env() {
  echo "export KUBECONFIG=${KUBECONFIG_FILE}"
}

case "${1:-}" in
  start) cmd_start ;;
  stop)
    shift
    cmd_stop "$@"
    ;;
  status) cmd_status ;;
  env) cmd_env ;;
  *) usage ;;
esac
