#!/usr/bin/env bash
# A real node for the e2e control plane (issue 16): Debian's containerd and runc, and a kubelet built from the same
# k8s.io/kubernetes release as kube-apiserver (e2e/toolchain.sh kubelet), registered with the API server that
# e2e/cluster.sh runs. Images are built here, never pulled (e2e/images/image.sh): pods use imagePullPolicy Never or
# IfNotPresent.
#
#   e2e/node.sh deps              install containerd, runc, containernetworking-plugins, debootstrap (apt-get;
#                                 nothing to do when they are installed)
#   e2e/node.sh start             start the node (the control plane must run), wait until it is Ready, then start
#                                 kube-scheduler and the workload controllers (Deployments, Jobs); idempotent
#   e2e/node.sh stop [--purge]    stop every process it started, by PID; remove its cgroups; check that the machine
#                                 is as before; --purge also deletes <state>/node
#   e2e/node.sh status            what runs; exit 1 unless the node is Ready
#   e2e/node.sh env               print CONTAINERD_ADDRESS=... (for e2e/images/image.sh import, ctr)
#   e2e/node.sh run COMMAND...    run a command inside the node's namespaces (e.g. curl http://<pod IP>:8080/)
#
# The machine's own settings stay untouched. containerd and kubelet (and the pods) run in their own mount and network
# namespaces (`unshare --mount --net --propagation private`, held by one process):
#   - the kernel settings kubelet rewrites (vm.overcommit_memory, kernel.panic, ...) are scratch files bind-mounted
#     over /proc/sys inside; /var and /run are overlays whose upper dirs are under <state>/node/overlay, so what
#     they write there (/run/containerd, /var/log/pods, CNI state) stays in the state dir;
#   - pods get addresses on a bridge inside that network namespace (10.88.0.0/16); its iptables rules are its own;
#   - the API server on the machine's 127.0.0.1:<port> is reached through a relay: a process outside listens on a
#     unix socket under <state>/node/run and connects to the API server; one inside listens on 127.0.0.1:<port>
#     (the kubelet's kubeconfig) and on 10.0.0.1:443 (the `kubernetes` Service's ClusterIP, for pods) and connects
#     to that socket. No veth pair: nothing is added to the machine's network (no interface, route, or
#     listening address), and services bound to the machine's 127.0.0.1 (the API server, the object store) stay
#     reachable. BACKUP_PLATFORM_NODE_FORWARD="PORT..." relays more of the machine's 127.0.0.1 ports the same way,
#     to 10.87.0.1:PORT inside (the machine as seen from pods);
#   - cgroups: kubelet's cgroupRoot is /<node>-<hash of the state dir> in each cgroup hierarchy, removed at stop.
#
# Environment: BACKUP_PLATFORM_STATE, BACKUP_PLATFORM_CACHE (as e2e/cluster.sh), BACKUP_PLATFORM_NODE_NAME (default
# e2e-node), BACKUP_PLATFORM_NODE_FORWARD, BACKUP_PLATFORM_NODE_TIMEOUT (seconds to wait for Ready, default 120).
# Inline Node.js and bash snippets are single-quoted on purpose ($ belongs to them).
# shellcheck disable=SC2016
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
. "${SCRIPT_DIR}/versions.env"

STATE_DIR="${BACKUP_PLATFORM_STATE:-/tmp/k8s-backup-platform-cluster}"
CACHE_ROOT="${BACKUP_PLATFORM_CACHE:-${XDG_CACHE_HOME:-${HOME}/.cache}/k8s-backup-platform}"
NODE_NAME="${BACKUP_PLATFORM_NODE_NAME:-e2e-node}"
READY_TIMEOUT="${BACKUP_PLATFORM_NODE_TIMEOUT:-120}"
FORWARD_PORTS="${BACKUP_PLATFORM_NODE_FORWARD:-}"

NODE_DIR="${STATE_DIR}/node"
RUN="${NODE_DIR}/run"
LOGS="${NODE_DIR}/logs"
PKI="${STATE_DIR}/pki"
CONTAINERD_SOCK="${RUN}/containerd.sock"
KUBELET_BIN="${CACHE_ROOT}/bin/kubelet-${KUBERNETES_VERSION}/kubelet"
SCHEDULER_BIN="${CACHE_ROOT}/bin/kubelet-${KUBERNETES_VERSION}/kube-scheduler"
# The controllers that turn the program's and the charts' workloads into pods, in a kube-controller-manager of the
# node's own (the control plane's runs only what the API-only suites need). Not the cronjob controller: a CronJob
# firing on its schedule in the middle of a test would make it depend on the clock; tests start Jobs from CronJobs
# as an operator does (`kubectl create job --from=cronjob/...`). The node lifecycle controller lifts the taint a
# kubelet registers with (node.kubernetes.io/not-ready) once the node is Ready.
WORKLOAD_CONTROLLERS="node-lifecycle-controller,deployment-controller,replicaset-controller,job-controller,ttl-after-finished-controller,disruption-controller,pod-garbage-collector-controller"
APT_PACKAGES=(containerd runc containernetworking-plugins debootstrap)
# The kernel settings kubelet checks and rewrites (pkg/kubelet/cm setupKernelTunables).
SYSCTLS=(vm/overcommit_memory vm/panic_on_oom kernel/panic kernel/panic_on_oops kernel/keys/root_maxkeys kernel/keys/root_maxbytes)
SERVICE_IP=10.0.0.1     # the `kubernetes` Service (cluster.sh: --service-cluster-ip-range 10.0.0.0/24)
HOST_ALIAS_IP=10.87.0.1 # the machine's forwarded 127.0.0.1 ports, as seen from pods
NODE_IP=10.87.0.2
POD_SUBNET=10.88.0.0/16
POD_GATEWAY=10.88.0.1
PAUSE_IMAGE=registry.k8s.io/pause:3.10.1 # the sandbox image kubeadm 1.35 pins; built here from e2e/images/pause
CGROUP_ROOT="${NODE_NAME}-$(printf '%s' "$NODE_DIR" | sha256sum | cut -c1-8)"

LOG_TAG=node
# Every process started here has the node dir in its command line.
process_matches() { [[ "$2" == *"$NODE_DIR"* ]]; }
# shellcheck source=lib/processes.sh
. "${SCRIPT_DIR}/lib/processes.sh"

usage() {
  sed -n '2,/^# Inline Node/p' "${BASH_SOURCE[0]}" | sed -e '/^# Inline Node/d' -e 's/^# \{0,1\}//' >&2
  exit 2
}

# --- processes (e2e/lib/processes.sh; here what only the node needs) ------------------------------------------

# "${IN_NODE[@]}" COMMAND...: the command inside the node's namespaces (nsenter execs it: same pid). Set once the
# holder runs.
IN_NODE=()

# Host pids of the processes in the node's mount namespace (containerd's shims among them), the holder excepted.
namespace_pids() {
  local holder="$1" ns p
  ns="$(readlink "/proc/${holder}/ns/mnt" 2>/dev/null)" || return 0
  for p in /proc/[0-9]*; do
    p="${p#/proc/}"
    [[ "$p" == "$holder" ]] && continue
    [[ "$(readlink "/proc/${p}/ns/mnt" 2>/dev/null)" == "$ns" ]] && echo "$p"
  done
  return 0
}

# --- cgroups ------------------------------------------------------------------------------------------------------

# Mount points of the cgroup hierarchies (v1 controllers, name=systemd, and the unified one of a hybrid setup).
cgroup_mounts() { awk '$3 == "cgroup" || $3 == "cgroup2" { print $2 }' /proc/self/mounts; }

make_cgroup_root() {
  local m
  while read -r m; do
    [[ -d "${m}/${CGROUP_ROOT}" ]] && continue
    mkdir "${m}/${CGROUP_ROOT}"
    # A new cpuset cgroup has no CPUs or memory nodes until given its parent's.
    if [[ -f "${m}/cpuset.cpus" ]]; then
      cat "${m}/cpuset.cpus" >"${m}/${CGROUP_ROOT}/cpuset.cpus"
      cat "${m}/cpuset.mems" >"${m}/${CGROUP_ROOT}/cpuset.mems"
    fi
  done < <(cgroup_mounts)
}

# Pids in the node's cgroups (the pods' processes).
cgroup_pids() {
  local m
  while read -r m; do
    [[ -d "${m}/${CGROUP_ROOT}" ]] && find "${m}/${CGROUP_ROOT}" -name cgroup.procs -exec cat {} + 2>/dev/null
  done < <(cgroup_mounts) | sort -un
  return 0
}

remove_cgroup_root() {
  local m d
  while read -r m; do
    [[ -d "${m}/${CGROUP_ROOT}" ]] || continue
    # Deepest first; rmdir (not rm) is how cgroups are removed.
    while read -r d; do rmdir "$d" 2>/dev/null || true; done < <(find "${m}/${CGROUP_ROOT}" -depth -type d)
  done < <(cgroup_mounts)
}

cgroups_left() {
  local m
  while read -r m; do
    [[ -d "${m}/${CGROUP_ROOT}" ]] && echo "${m}/${CGROUP_ROOT}"
  done < <(cgroup_mounts)
  return 0
}

# --- deps ---------------------------------------------------------------------------------------------------------

missing_packages() {
  local p
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || echo "$p"
  done
}

cmd_deps() {
  local missing t0=$SECONDS
  missing="$(missing_packages | tr '\n' ' ')"
  if [[ -z "${missing// /}" ]]; then
    log "installed: ${APT_PACKAGES[*]}"
    return 0
  fi
  log "installing ${missing}(apt-get)"
  # The containerd package enables a systemd unit; without systemd as PID 1 nothing is started.
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing >"${TMPDIR:-/tmp}/node-deps.log" 2>&1 ||
    {
      apt-get update >>"${TMPDIR:-/tmp}/node-deps.log" 2>&1 &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing >>"${TMPDIR:-/tmp}/node-deps.log" 2>&1
    } ||
    {
      tail -n 20 "${TMPDIR:-/tmp}/node-deps.log" >&2
      die "apt-get install ${missing}failed"
    }
  log "installed ${missing}in $((SECONDS - t0))s"
}

# --- configuration ------------------------------------------------------------------------------------------------

cluster_port() {
  [[ -f "${STATE_DIR}/ports.env" ]] || die "no control plane state in ${STATE_DIR} (run e2e/cluster.sh start first)"
  # shellcheck source=/dev/null
  . "${STATE_DIR}/ports.env"
  [[ -n "${APISERVER_PORT:-}" ]] || die "no APISERVER_PORT in ${STATE_DIR}/ports.env"
  curl -fsS --max-time 5 --cacert "${PKI}/ca.crt" --cert "${PKI}/admin.crt" --key "${PKI}/admin.key" \
    "https://127.0.0.1:${APISERVER_PORT}/readyz" >/dev/null 2>&1 ||
    die "the API server on 127.0.0.1:${APISERVER_PORT} is not ready (run e2e/cluster.sh start)"
}

find_binaries() {
  # shellcheck source=/dev/null
  [[ -f "${CACHE_ROOT}/env.sh" ]] && . "${CACHE_ROOT}/env.sh"
  command -v kubectl >/dev/null 2>&1 || die "kubectl not on PATH (run e2e/toolchain.sh)"
  if [[ ! -x "$KUBELET_BIN" || ! -x "$SCHEDULER_BIN" ]]; then
    log "kubelet and kube-scheduler ${KUBERNETES_VERSION} not built yet: e2e/toolchain.sh kubelet"
    bash "${SCRIPT_DIR}/toolchain.sh" kubelet >/dev/null
  fi
  [[ -x "$KUBELET_BIN" ]] || die "no kubelet at ${KUBELET_BIN}"
  [[ -x "$SCHEDULER_BIN" ]] || die "no kube-scheduler at ${SCHEDULER_BIN}"
  command -v kube-controller-manager >/dev/null 2>&1 || die "kube-controller-manager not on PATH (run e2e/toolchain.sh)"
  [[ -z "$(missing_packages)" ]] || die "missing Debian packages: $(missing_packages | tr '\n' ' ')(run e2e/node.sh deps)"
  local b
  for b in containerd runc ctr unshare nsenter ip node openssl; do
    command -v "$b" >/dev/null 2>&1 || die "'${b}' not found on PATH"
  done
}

kc() { kubectl --kubeconfig "${STATE_DIR}/kubeconfig" "$@"; }

# The kubelet's client certificate: user system:node:<name> in group system:nodes, bound to the system:node
# ClusterRole below (the control plane authorizes with RBAC only, no Node authorizer).
make_node_pki() {
  local dir="${NODE_DIR}/pki"
  [[ -f "${dir}/.complete" && "$(<"${dir}/.complete")" == "$NODE_NAME" ]] && return 0
  mkdir -p "$dir"
  (
    cd "$dir"
    umask 077
    printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n' >client.ext
    openssl req -new -nodes -newkey rsa:2048 -keyout kubelet.key -out kubelet.csr \
      -subj "/O=system:nodes/CN=system:node:${NODE_NAME}" 2>/dev/null
    openssl x509 -req -in kubelet.csr -CA "${PKI}/ca.crt" -CAkey "${PKI}/ca.key" -CAcreateserial \
      -CAserial "${dir}/ca.srl" -sha256 -days 3650 -extfile client.ext -out kubelet.crt 2>/dev/null
    rm -f kubelet.csr client.ext
    echo "$NODE_NAME" >.complete
  ) || die "kubelet certificate generation failed"
}

write_configs() {
  mkdir -p "${NODE_DIR}/containerd" "${NODE_DIR}/cni/net.d" "${NODE_DIR}/kubelet"
  cat >"${NODE_DIR}/kubelet.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster:
    server: https://127.0.0.1:${APISERVER_PORT}
    certificate-authority: ${PKI}/ca.crt
users:
- name: kubelet
  user:
    client-certificate: ${NODE_DIR}/pki/kubelet.crt
    client-key: ${NODE_DIR}/pki/kubelet.key
contexts:
- name: kubelet
  context:
    cluster: e2e
    user: kubelet
current-context: kubelet
EOF
  chmod 600 "${NODE_DIR}/kubelet.kubeconfig"

  # restrict_oom_score_adj: root here lacks CAP_SYS_RESOURCE, so runc may not lower oom_score_adj (every sandbox
  # would fail with "can't get final child's PID from pipe: EOF"). No systemd: cgroupfs.
  cat >"${NODE_DIR}/containerd/config.toml" <<EOF
version = 2
root = "${NODE_DIR}/containerd/root"
state = "${NODE_DIR}/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]

[grpc]
  address = "${CONTAINERD_SOCK}"

[ttrpc]
  address = "${CONTAINERD_SOCK}.ttrpc"

[plugins."io.containerd.internal.v1.opt"]
  path = "${NODE_DIR}/containerd/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${PAUSE_IMAGE}"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${NODE_DIR}/cni/net.d"
EOF

  # ipMasq false: pods only talk to the node's namespace (the relays, the kubelet's probes), so no NAT rule.
  cat >"${NODE_DIR}/cni/net.d/10-e2e-bridge.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "e2e-bridge",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "cni0",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{ "subnet": "${POD_SUBNET}", "gateway": "${POD_GATEWAY}" }]],
        "routes": [{ "dst": "0.0.0.0/0" }],
        "dataDir": "${NODE_DIR}/cni/ipam"
      }
    }
  ]
}
EOF

  # Cgroups v1 (hybrid) here: kubelet 1.35 refuses them unless failCgroupV1 is false. oomScoreAdj 0: see above.
  # Image GC off (thresholds at 100 %): imported images cannot be pulled again. Anonymous requests refused;
  # clients with a certificate from the cluster CA (the API server has none configured yet) may do anything.
  cat >"${NODE_DIR}/kubelet/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
cgroupRoot: /${CGROUP_ROOT}
failCgroupV1: false
oomScoreAdj: 0
containerRuntimeEndpoint: unix://${CONTAINERD_SOCK}
volumePluginDir: ${NODE_DIR}/kubelet/volume-plugins
podLogsDir: ${NODE_DIR}/pod-logs
resolvConf: /etc/resolv.conf
clusterDomain: cluster.local
failSwapOn: false
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: 100Mi
  nodefs.available: 1%
  imagefs.available: 1%
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: false
  x509:
    clientCAFile: ${PKI}/ca.crt
authorization:
  mode: AlwaysAllow
EOF
}

# --- images ---------------------------------------------------------------------------------------------------------

IMAGES_DIR="${NODE_DIR}/images"
build_images() {
  mkdir -p "$IMAGES_DIR"
  bash "${SCRIPT_DIR}/images/image.sh" go pause "$PAUSE_IMAGE" "${IMAGES_DIR}/pause.tar"
}

# --- the namespace holder -------------------------------------------------------------------------------------------

# Runs as the holder (pid 1 of nothing: only the mount and network namespaces are new), then becomes `sleep`.
HOLDER_SETUP='
set -euo pipefail
node_dir="$1" service_ip="$2" host_alias_ip="$3" node_ip="$4"
shift 4
for d in var run; do
  mkdir -p "${node_dir}/overlay/${d}/upper" "${node_dir}/overlay/${d}/work"
  mount -t overlay "e2e-node-${d}" -o "lowerdir=/${d},upperdir=${node_dir}/overlay/${d}/upper,workdir=${node_dir}/overlay/${d}/work" "/${d}"
done
mkdir -p "${node_dir}/sysctl"
for s in "$@"; do
  f="${node_dir}/sysctl/${s//\//.}"
  cat "/proc/sys/${s}" >"$f"
  mount --bind "$f" "/proc/sys/${s}"
done
ip link set lo up
ip addr add "${service_ip}/32" dev lo
ip addr add "${host_alias_ip}/32" dev lo
ip addr add "${node_ip}/32" dev lo
echo 1 >/proc/sys/net/ipv4/ip_forward
touch "${node_dir}/run/holder.ready"
exec -a "e2e-node-holder ${node_dir}" sleep infinity
'

start_holder() {
  if is_running holder; then
    IN_NODE=(nsenter -t "$(component_pid holder)" --mount --net --)
    return 0
  fi
  rm -f "${RUN}/holder.ready"
  local s
  for s in "${SYSCTLS[@]}"; do cat "/proc/sys/${s}"; done >"${NODE_DIR}/host-sysctls.before"
  start_component holder unshare --mount --net --propagation private -- \
    bash -c "$HOLDER_SETUP" holder "$NODE_DIR" "$SERVICE_IP" "$HOST_ALIAS_IP" "$NODE_IP" "${SYSCTLS[@]}"
  local i
  for ((i = 0; i < 100; i++)); do
    if [[ -f "${RUN}/holder.ready" ]]; then
      IN_NODE=(nsenter -t "$(<"${RUN}/holder.pid")" --mount --net --)
      return 0
    fi
    kill -0 "$(<"${RUN}/holder.pid")" 2>/dev/null || break
    sleep 0.1
  done
  tail -n 20 "${LOGS}/holder.log" >&2 || true
  die "the node's namespaces were not set up (log: ${LOGS}/holder.log)"
}

# --- relays ---------------------------------------------------------------------------------------------------------

# node -e RELAY NODE_DIR TARGET LISTEN...: accepts on each LISTEN (tcp:HOST:PORT or unix:PATH), pipes to TARGET.
RELAY='
const net = require("net"), fs = require("fs");
const [, target, ...listens] = process.argv.slice(1);
const addr = (s) => (s.startsWith("unix:") ? { path: s.slice(5) } : { host: s.split(":")[1], port: Number(s.split(":")[2]) });
for (const l of listens) {
  if (l.startsWith("unix:")) fs.rmSync(l.slice(5), { force: true });
  net
    .createServer((c) => {
      const u = net.connect(addr(target));
      const end = () => { c.destroy(); u.destroy(); };
      c.pipe(u).on("error", end);
      u.pipe(c).on("error", end);
      c.on("error", end).on("close", end);
      u.on("error", end).on("close", end);
    })
    .on("error", (e) => { console.error(`${l}: ${e.message}`); process.exit(1); })
    .listen(addr(l), () => console.error(`relay ${l} -> ${target}`));
}
process.on("SIGTERM", () => process.exit(0));
'

# start_relay NAME HOST_PORT NS_LISTEN...: the machine's 127.0.0.1:HOST_PORT, reachable at NS_LISTEN inside.
start_relay() {
  local name="$1" port="$2" sock="${RUN}/$1.sock" l args=()
  shift 2
  for l in "$@"; do args+=("tcp:${l}"); done
  is_running "${name}-out" || start_component "${name}-out" node -e "$RELAY" "$NODE_DIR" "tcp:127.0.0.1:${port}" "unix:${sock}"
  local i
  for ((i = 0; i < 50; i++)); do
    [[ -S "$sock" ]] && break
    sleep 0.1
  done
  [[ -S "$sock" ]] || die "relay ${name}: no socket ${sock} (log: ${LOGS}/${name}-out.log)"
  is_running "${name}-in" || start_component "${name}-in" "${IN_NODE[@]}" node -e "$RELAY" "$NODE_DIR" "unix:${sock}" "${args[@]}"
}

# --- containerd and kubelet -----------------------------------------------------------------------------------------

start_containerd() {
  if ! is_running containerd; then
    start_component containerd "${IN_NODE[@]}" containerd --config "${NODE_DIR}/containerd/config.toml"
  fi
  local i
  for ((i = 0; i < 150; i++)); do
    if [[ -S "$CONTAINERD_SOCK" ]] && ctr --address "$CONTAINERD_SOCK" version >/dev/null 2>&1; then return 0; fi
    is_running containerd || break
    sleep 0.2
  done
  tail -n 30 "${LOGS}/containerd.log" >&2 || true
  die "containerd did not start (log: ${LOGS}/containerd.log)"
}

import_images() {
  local f
  for f in "${IMAGES_DIR}"/*.tar; do
    bash "${SCRIPT_DIR}/images/image.sh" import "$CONTAINERD_SOCK" "$f" 2>>"${LOGS}/images.log"
  done
}

bind_node_role() {
  kc apply --server-side --field-manager=e2e-node -f - >/dev/null <<EOF || die "binding ClusterRole system:node failed"
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: e2e-nodes
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: system:node
subjects:
- apiGroup: rbac.authorization.k8s.io
  kind: Group
  name: system:nodes
EOF
}

start_kubelet() {
  is_running kubelet && return 0
  KUBELET_SINCE="$(date -u +%FT%TZ)"
  start_component kubelet "${IN_NODE[@]}" "$KUBELET_BIN" \
    --config "${NODE_DIR}/kubelet/config.yaml" \
    --kubeconfig "${NODE_DIR}/kubelet.kubeconfig" \
    --root-dir "${NODE_DIR}/kubelet/root" \
    --hostname-override "$NODE_NAME" \
    --node-ip "$NODE_IP" \
    --v 1
}

# The scheduler and the workload controllers run beside the control plane (on the machine, not in the node's
# namespaces), with the cluster's admin kubeconfig copied into the node dir (so their command lines name it and
# is_running finds them). A production control plane gives each its own identity; here RBAC is what the program's
# own service accounts are tested against, and these two are not.
start_control_loops() {
  install -m 600 "${STATE_DIR}/kubeconfig" "${NODE_DIR}/control.kubeconfig"
  cat >"${NODE_DIR}/scheduler.yaml" <<EOF
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
clientConnection:
  kubeconfig: ${NODE_DIR}/control.kubeconfig
leaderElection:
  leaderElect: false
EOF
  is_running kube-scheduler || start_component kube-scheduler "$SCHEDULER_BIN" \
    --config "${NODE_DIR}/scheduler.yaml" --secure-port 0 --v 1
  is_running workload-controllers || start_component workload-controllers kube-controller-manager \
    --kubeconfig "${NODE_DIR}/control.kubeconfig" \
    --controllers "$WORKLOAD_CONTROLLERS" \
    --use-service-account-credentials=false \
    --leader-elect=false \
    --secure-port 0 \
    --v 1
  sleep 1
  local c
  for c in kube-scheduler workload-controllers; do
    if ! is_running "$c"; then
      tail -n 30 "${LOGS}/${c}.log" >&2 || true
      die "${c} exited at startup (log: ${LOGS}/${c}.log)"
    fi
  done
}

# wait_node_ready SINCE: Ready, as posted by a kubelet heartbeat at or after SINCE (a restarted node's Node object
# still says Ready from its previous run).
wait_node_ready() {
  local since="$1" deadline=$((SECONDS + READY_TIMEOUT)) got
  while ((SECONDS < deadline)); do
    got="$(kc get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status} {.status.conditions[?(@.type=="Ready")].lastHeartbeatTime}' 2>/dev/null)" || true
    if [[ "$got" == "True "* && ! "${got#True }" < "$since" ]]; then
      return 0
    fi
    if ! is_running kubelet; then
      tail -n 30 "${LOGS}/kubelet.log" >&2 || true
      die "kubelet exited (log: ${LOGS}/kubelet.log)"
    fi
    sleep 1
  done
  kc get node "$NODE_NAME" -o yaml >&2 2>&1 || true
  tail -n 30 "${LOGS}/kubelet.log" >&2 || true
  die "node ${NODE_NAME} not Ready after ${READY_TIMEOUT}s (log: ${LOGS}/kubelet.log)"
}

# --- commands -------------------------------------------------------------------------------------------------------

cmd_start() {
  local t0=$SECONDS p
  [[ "$(id -u)" == 0 ]] || die "needs root (namespaces, mounts, cgroups)"
  find_binaries
  cluster_port
  mkdir -p "$RUN" "$LOGS"
  chmod 700 "$NODE_DIR"
  make_node_pki
  write_configs
  build_images
  start_holder
  start_relay apiserver "$APISERVER_PORT" "127.0.0.1:${APISERVER_PORT}" "${SERVICE_IP}:443"
  for p in $FORWARD_PORTS; do start_relay "port-${p}" "$p" "${HOST_ALIAS_IP}:${p}"; done
  make_cgroup_root
  start_containerd
  import_images
  bind_node_role
  KUBELET_SINCE="1970-01-01T00:00:00Z"
  start_kubelet
  wait_node_ready "$KUBELET_SINCE"
  start_control_loops
  log "node ${NODE_NAME} Ready in $((SECONDS - t0))s"
  echo "export CONTAINERD_ADDRESS=${CONTAINERD_SOCK}"
}

cmd_stop() {
  local purge=false holder p pids left=0
  [[ "${1:-}" == "--purge" ]] && purge=true
  if [[ -d "$RUN" ]]; then
    stop_component workload-controllers
    stop_component kube-scheduler
    stop_component kubelet 20
    # The pods' processes: kubelet leaves them running when it stops.
    pids="$(cgroup_pids)"
    if [[ -n "$pids" ]]; then
      log "stopping the pods' processes ($(wc -w <<<"$pids"))"
      # shellcheck disable=SC2086
      kill -KILL $pids 2>/dev/null || true
    fi
    stop_component containerd 20
    for p in "${RUN}"/*-in.pid "${RUN}"/*-out.pid; do
      [[ -f "$p" ]] && stop_component "$(basename "$p" .pid)"
    done
    holder="$(component_pid holder)"
    if [[ -n "$holder" ]]; then
      # What containerd started and left behind (its shims), found by their mount namespace.
      for p in $(namespace_pids "$holder"); do
        log "stopping pid ${p} ($(tr '\0' ' ' <"/proc/${p}/cmdline" 2>/dev/null | cut -c1-60))"
        kill_pid "$p" 5
      done
      stop_component holder
    fi
    rm -f "${RUN}/holder.ready"
  fi
  remove_cgroup_root
  # The machine as before: no cgroups, kernel settings, or mounts of the node left.
  if [[ -n "$(cgroups_left)" ]]; then
    log "WARNING: cgroups left: $(cgroups_left | tr '\n' ' ')"
    left=1
  fi
  if [[ -f "${NODE_DIR}/host-sysctls.before" ]]; then
    local s now=""
    now="$(for s in "${SYSCTLS[@]}"; do cat "/proc/sys/${s}"; done)"
    if [[ "$now" != "$(<"${NODE_DIR}/host-sysctls.before")" ]]; then
      log "WARNING: the machine's kernel settings changed: ${SYSCTLS[*]} = $(tr '\n' ' ' <<<"$now")"
      left=1
    fi
  fi
  if grep -qF -- "$NODE_DIR" /proc/self/mountinfo; then
    log "WARNING: mounts left under ${NODE_DIR}"
    left=1
  fi
  if $purge; then
    case "$STATE_DIR" in
      "" | / | "$HOME") die "refusing to purge ${NODE_DIR}" ;;
    esac
    log "removing ${NODE_DIR}"
    rm -rf "$NODE_DIR"
  fi
  return "$left"
}

cmd_status() {
  local rc=0 c pid
  for c in holder apiserver-out apiserver-in containerd kubelet kube-scheduler workload-controllers; do
    pid="$(component_pid "$c")"
    if [[ -n "$pid" ]]; then
      printf '%-24s running  pid %s\n' "$c" "$pid"
    else
      printf '%-24s stopped\n' "$c"
      rc=1
    fi
  done
  if [[ -f "${STATE_DIR}/kubeconfig" ]] && [[ -f "${CACHE_ROOT}/env.sh" ]]; then
    # shellcheck source=/dev/null
    . "${CACHE_ROOT}/env.sh"
    if [[ "$(kc get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" == True ]]; then
      printf '%-24s Ready\n' "node/${NODE_NAME}"
    else
      printf '%-24s not Ready\n' "node/${NODE_NAME}"
      rc=1
    fi
  fi
  printf '%-24s %s\n' "containerd" "$CONTAINERD_SOCK"
  printf '%-24s %s\n' "cgroup root" "/${CGROUP_ROOT}"
  return "$rc"
}

case "${1:-}" in
  deps) cmd_deps ;;
  start) cmd_start ;;
  stop)
    shift
    cmd_stop "$@"
    ;;
  status) cmd_status ;;
  env) echo "export CONTAINERD_ADDRESS=${CONTAINERD_SOCK}" ;;
  run)
    shift
    (($#)) || usage
    is_running holder || die "the node is not running"
    exec nsenter -t "$(component_pid holder)" --mount --net -- "$@"
    ;;
  *) usage ;;
esac
