#!/usr/bin/env python3
"""A PostgreSQL 15 pod archiving and backing up with barman-cloud, then restoring (e2e/test/postgres-pod.e2e.ts).

Runs inside the pod, as the image's `postgres` user (26:26, as in CloudNativePG's images), on a read-only root filesystem (data, socket and /tmp are
emptyDir volumes). The object store is the program's live ObjectStore, passed as JSON in OBJECT_STORE with the
server name in SERVER_NAME; its credentials are the program's Secret, which the pod spec maps into
AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY from the keys the ObjectStore names (as the Barman Cloud Plugin does).
The barman-cloud command lines come from pitr.py's Store, the same mapping the process-based PITR proof uses.

  initdb, archive_command = barman-cloud-wal-archive, start, ROWS_BACKUP rows, barman-cloud-backup,
  ROWS_AFTER rows, switch WAL, wait until archived, stop;
  barman-cloud-backup-list, barman-cloud-restore into a new data dir, restore_command = barman-cloud-wal-restore,
  start (recovers to the end of the archive, promotes), count the rows.

The result goes to /dev/termination-log (the pod's status carries it, no `kubectl logs` needed):
  ok rows=<n> backup=<id> archived=<last WAL>
or `failed: <reason>`. Exit 0 only when every row came back.
"""
import json
import os
import shlex
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pitr import Store  # noqa: E402  (the same mapping as the process-based proof)

PG_BIN = "/usr/lib/postgresql/15/bin"
DATA = "/var/lib/postgresql/data"
SOCKET = "/run/postgresql"
ROWS_BACKUP, ROWS_AFTER = 100, 50


def log(msg):
    print(f"[pod] {msg}", flush=True)


def run(argv, capture=False):
    log("$ " + " ".join(shlex.quote(a) for a in argv))
    res = subprocess.run(argv, check=False, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if not capture:
        print(res.stdout, end="", flush=True)
    print(res.stderr, end="", file=sys.stderr, flush=True)
    if res.returncode != 0:
        # The end of what it said goes into the pod's status with the reason.
        raise RuntimeError(f"{argv[0]} exited {res.returncode}: {(res.stdout + res.stderr)[-1500:]}")
    return res.stdout if capture else ""


def psql(port, sql):
    return run([f"{PG_BIN}/psql", "-h", SOCKET, "-p", str(port), "-U", "postgres", "-Atqc", sql], capture=True).strip()


def start(pgdata, port):
    run([f"{PG_BIN}/pg_ctl", "-D", pgdata, "-w", "-t", "120", "-l", f"/tmp/{os.path.basename(pgdata)}.log",
         "-o", f"-p {port}", "start"])


def stop(pgdata):
    run([f"{PG_BIN}/pg_ctl", "-D", pgdata, "-w", "-m", "fast", "stop"])


def conf(pgdata, lines):
    with open(os.path.join(pgdata, "postgresql.conf"), "a") as f:
        f.write("\n".join(lines) + "\n")


def wait(what, seconds, check):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(1)
    raise RuntimeError(f"timed out waiting for {what}")


def main():
    store = Store(None, os.environ["NAMESPACE"], json.loads(os.environ["OBJECT_STORE"]), os.environ["SERVER_NAME"], [],
                  "the program's ObjectStore")
    source, restored = f"{DATA}/source", f"{DATA}/restored"
    os.environ.update(PGHOST=SOCKET, PGPORT="5432")

    run([f"{PG_BIN}/initdb", "-D", source, "-U", "postgres", "--auth=trust"])
    conf(source, ["listen_addresses = ''", f"unix_socket_directories = '{SOCKET}'", "wal_level = replica",
                  "archive_mode = on", f"archive_command = '{shlex.join(store.wal_archive())} %p'"])
    start(source, 5432)
    psql(5432, f"CREATE TABLE t (i int); INSERT INTO t SELECT generate_series(1, {ROWS_BACKUP})")
    run(store.backup("pod-e2e"))  # connects through PGHOST/PGPORT
    psql(5432, f"INSERT INTO t SELECT generate_series({ROWS_BACKUP + 1}, {ROWS_BACKUP + ROWS_AFTER})")
    last = psql(5432, "SELECT pg_walfile_name(pg_switch_wal())")
    wait(f"WAL {last} archived", 120,
         lambda: psql(5432, "SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver") >= last)
    failed = psql(5432, "SELECT failed_count FROM pg_stat_archiver")
    stop(source)

    backups = json.loads(run(store.backup_list(), capture=True))["backups_list"]
    backup_id = backups[-1]["backup_id"]
    run(store.restore(backup_id, restored))
    os.chmod(restored, 0o700)
    open(os.path.join(restored, "recovery.signal"), "w").close()
    conf(restored, ["archive_mode = off", f"restore_command = '{shlex.join(store.wal_restore())} %f %p'",
                    "recovery_target_action = 'promote'"])
    start(restored, 5433)
    wait("recovery to end", 180, lambda: psql(5433, "SELECT pg_is_in_recovery()") == "f")
    rows = int(psql(5433, "SELECT count(*) FROM t"))
    stop(restored)
    result = f"ok rows={rows} backup={backup_id} archived={last} archive_failures={failed}"
    log(result)
    with open("/dev/termination-log", "w") as f:
        f.write(result if rows == ROWS_BACKUP + ROWS_AFTER else f"failed: {rows} rows back, not "
                f"{ROWS_BACKUP + ROWS_AFTER} ({result})")
    return 0 if rows == ROWS_BACKUP + ROWS_AFTER else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:  # the reason into the pod's status
        with open("/dev/termination-log", "w") as f:
            f.write(f"failed: {e}")
        raise
