# shellcheck shell=bash
# shellcheck disable=SC2034 # STOPPED_CLEANLY is read by the scripts that source this file
# The daemons an e2e script starts (e2e/cluster.sh, e2e/objectstore.sh, e2e/node.sh), tracked by pid files, never
# by name: nothing here signals a process it cannot tie to the caller's state dir. Sourced; the caller sets
#   LOG_TAG       the prefix of every message ([cluster], [node], ...)
#   RUN, LOGS     the dirs of the pid files (RUN/NAME.pid) and the logs (LOGS/NAME.LOG_SUFFIX)
#   LOG_SUFFIX    default .log
# and may define `process_matches NAME CMDLINE` (default: CMDLINE contains NAME) to say which command lines are its
# own, so a recycled pid or another state dir's daemon is never taken for one of its own.
# Hand-written: bash has no process-supervision library worth a dependency, and the three scripts must stay plain bash.

log() { printf '[%s] %s\n' "$LOG_TAG" "$*" >&2; }
die() {
  printf '[%s] ERROR: %s\n' "$LOG_TAG" "$*" >&2
  exit 1
}

if ! declare -F process_matches >/dev/null; then
  process_matches() { [[ "$2" == *"$1"* ]]; }
fi

# component_pid NAME: the pid of the running NAME, or nothing.
component_pid() {
  local pidfile="${RUN}/$1.pid" pid cmd
  [[ -f "$pidfile" ]] || return 0
  pid="$(<"$pidfile")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 0
  cmd="$(tr '\0' ' ' <"/proc/${pid}/cmdline" 2>/dev/null)" || return 0
  if [[ -n "$cmd" ]] && process_matches "$1" "$cmd"; then echo "$pid"; fi
}

is_running() { [[ -n "$(component_pid "$1")" ]]; }

# alive PID: running. A process that exited stays a zombie until its parent or PID 1 reaps it (seconds, here): gone.
alive() {
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  stat="${stat##*) }"
  [[ -n "$stat" && "${stat%% *}" != Z ]]
}

# start_component NAME COMMAND...: detached in its own session (it outlives the caller's shell), output to
# LOGS/NAME<LOG_SUFFIX>, pid to RUN/NAME.pid.
start_component() {
  local name="$1"
  shift
  log "starting ${name}"
  setsid "$@" >>"${LOGS}/${name}${LOG_SUFFIX:-.log}" 2>&1 </dev/null &
  local pid=$! i
  echo "$pid" >"${RUN}/${name}.pid"
  # Until it execs, the child is a copy of this shell (its command line is the script's, its log not yet opened): a
  # check right after this would take it for a process that is not ours and report the daemon gone (seen under load:
  # "containerd did not start", no log file). Wait until it runs the command, or is gone.
  for ((i = 0; i < 100; i++)); do
    if is_running "$name" || ! alive "$pid"; then return 0; fi
    sleep 0.05
  done
}

# kill_pid PID [SECONDS]: TERM, KILL after SECONDS (default 10), then waits until it is gone. Sets STOPPED_CLEANLY
# to true only when the process exited on TERM (read by the callers).
STOPPED_CLEANLY=false
kill_pid() {
  local pid="$1" secs="${2:-10}" i
  STOPPED_CLEANLY=false
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < secs * 10; i++)); do
    if ! alive "$pid"; then
      STOPPED_CLEANLY=true
      return 0
    fi
    sleep 0.1
  done
  log "pid ${pid} did not exit after ${secs} s; sending KILL"
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    alive "$pid" || return 0
    sleep 0.1
  done
}

# stop_component NAME [SECONDS]: stops NAME if it runs (kill_pid), removes its pid file. STOPPED_CLEANLY as kill_pid
# (false when it was not running).
stop_component() {
  local pid t0=$SECONDS
  STOPPED_CLEANLY=false
  pid="$(component_pid "$1")"
  if [[ -n "$pid" ]]; then
    kill_pid "$pid" "${2:-10}"
    log "stopped $1 (pid ${pid}) in $((SECONDS - t0)) s"
  fi
  rm -f "${RUN}/$1.pid"
}
