#!/usr/bin/env python3
"""PostgreSQL point-in-time recovery with exactly what the program renders, for both CNPG methods.

CloudNativePG's operator cannot be built here, but its instance manager (in-tree barmanObjectStore)
and the Barman Cloud Plugin's sidecar (plugin) only turn a BarmanObjectStoreConfiguration and the
Secrets it names into barman-cloud command lines and an environment. This driver does the same, from
the objects `e2e/pitr/render.ts` prints (the real program under mocks, secrets revealed), against a real
RGW and a real PostgreSQL 15:

  render -> RGW user and bucket from the CephObjectStoreUser / ObjectBucketClaim / Secrets
  initdb, archive_command = this file's `wal-archive` (as /controller/manager wal-archive)
  barman-cloud-check-wal-archive, start, rows, barman-cloud-backup, rows, T, rows, switch WAL, stop
  render again with a cnpg.recoveries entry to T, and the drill Cluster to T
  for the recovery Cluster and the drill Cluster: backup-list, pick the backup as CNPG does, check the
  first WAL, barman-cloud-restore, restore_command = this file's `wal-restore`, start, assert rows.

Why Python: barman-cloud is Python and lives in the venv this runs from; boto3 (bucket setup) is
there too; and mapping nested JSON to argv is clearer here than in bash.

Usage (as root; PostgreSQL runs as the `postgres` user):
  pitr.py run --endpoint URL --ceph-conf FILE [--methods plugin,barmanObjectStore,plugin+tls] [--work DIR] [--keep]
      (a method with +tls: https through a TLS proxy whose private CA is rendered as caBundle)
  pitr.py wal-archive PLAN WAL_PATH          (archive_command)
  pitr.py wal-restore PLAN WAL_NAME DEST     (restore_command)
"""
import argparse
import base64
import datetime as dt
import json
import os
import shlex
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
PG_BIN = os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin")
PG_USER = "postgres"
RUNUSER = shutil.which("runuser") or "/usr/sbin/runuser"
BARMAN_PLUGIN = "barman-cloud.cloudnative-pg.io"
VENV_BIN = os.path.dirname(os.path.abspath(sys.executable))
# The database each method renders; names differ so the archives can coexist in one bucket.
DATABASES = {"plugin": "pitr-plugin", "barmanObjectStore": "pitr-intree"}
# A variant is a method, optionally "+tls": an https endpoint signed by a private CA (caBundle).
TLS_SUFFIX = "+tls"
NAMESPACE = "pitr"
ROWS_BACKUP, ROWS_BEFORE, ROWS_AFTER = 100, 50, 50
SECRET_NAMES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")

T0 = time.monotonic()
TIMINGS = []


def log(msg):
    print(f"[pitr {time.monotonic() - T0:6.1f}s] {msg}", flush=True)


class Failure(Exception):
    pass


def shown(argv, env=None):
    """A command line as printed: secret values masked, only the variables the driver set."""
    pre = [f"{k}={'***' if k in SECRET_NAMES else v}" for k, v in (env or {}).items()]
    return " ".join(shlex.quote(x) for x in pre + list(argv))


def timed(label):
    class Timer:
        def __enter__(self):
            self.t = time.monotonic()

        def __exit__(self, *exc):
            TIMINGS.append((label, time.monotonic() - self.t))

    return Timer()


# --- the rendered objects -------------------------------------------------------------------------


class Render:
    def __init__(self, doc):
        self.resources = doc["resources"]
        self.drill_cluster = doc.get("drillCluster")

    def find(self, type_suffix, name, namespace=None):
        for r in self.resources:
            meta = r["inputs"].get("metadata", {})
            if r["type"].endswith(type_suffix) and meta.get("name") == name and (namespace is None or meta.get("namespace") == namespace):
                return r["inputs"]
        raise Failure(f"the render has no {type_suffix} {namespace}/{name}")

    def all(self, type_suffix):
        return [r["inputs"] for r in self.resources if r["type"].endswith(type_suffix)]

    def secret_value(self, namespace, ref):
        """What the kubelet / CNPG would read: Secret data[key] (stringData merged into data)."""
        s = self.find(":core/v1:Secret", ref["name"], namespace)
        data = {k: base64.b64decode(v).decode() for k, v in unwrap(s.get("data") or {}).items()}
        data.update(unwrap(s.get("stringData") or {}))
        if ref["key"] not in data:
            raise Failure(f"Secret {namespace}/{ref['name']} has no key {ref['key']}")
        return data[ref["key"]]


def unwrap(value):
    """render.ts keeps secrets as {"secret": value}."""
    if isinstance(value, dict) and set(value) == {"secret"}:
        return value["secret"]
    return value


def render(method, endpoint, database, target=None, ca_file=None):
    argv = ["node", os.path.join(REPO, "bin/e2e/pitr/render.js"), "--method", method, "--endpoint", endpoint,
            "--database", database, "--namespace", NAMESPACE]
    if target:
        argv += ["--target-time", target]
    if ca_file:
        argv += ["--ca-file", ca_file]
    log(f"$ {shown(argv)}")
    with timed(f"{database}: render{' with recovery' if target else ''}"):
        out = subprocess.run(argv, cwd=REPO, check=True, capture_output=True, text=True).stdout
    return Render(json.loads(out))


# --- CNPG's mapping: BarmanObjectStoreConfiguration -> barman-cloud argv and env -----------------
# Mirrors github.com/cloudnative-pg/barman-cloud pkg/command, pkg/archiver, pkg/backup, pkg/restorer,
# pkg/credentials, and plugin-barman-cloud internal/cnpgi/restore (options in the same order).


class Store:
    """One object store as CNPG resolves it: configuration, server name, namespace, extra env."""

    def __init__(self, render_, namespace, config, server_name, extra_env, origin):
        self.render = render_
        self.namespace = namespace
        self.config = config
        self.server_name = config.get("serverName") or server_name
        self.extra_env = extra_env
        self.origin = origin

    def cloud_provider(self):
        # appendCloudProviderOptions: s3Credentials -> aws-s3 (the program renders nothing else).
        if "s3Credentials" in self.config:
            return ["--cloud-provider", "aws-s3"]
        raise Failure(f"{self.origin}: no s3Credentials; this driver maps only S3")

    def endpoint(self):
        return ["--endpoint-url", self.config["endpointURL"]] if self.config.get("endpointURL") else []

    def positional(self):
        return [self.config["destinationPath"], self.server_name]

    def wal_archive(self):
        c, wal = self.config, self.config.get("wal") or {}
        opts = [f"--{wal['compression']}"] if wal.get("compression") else []
        opts += ["-e", wal["encryption"]] if wal.get("encryption") else []
        opts += wal.get("archiveAdditionalCommandArgs") or []
        opts += self.endpoint()
        opts += tags("--tags", c.get("tags")) + tags("--history-tags", c.get("historyTags"))
        return ["barman-cloud-wal-archive"] + opts + self.cloud_provider() + self.positional()

    def check_wal_archive(self):
        return ["barman-cloud-check-wal-archive"] + self.endpoint() + self.cloud_provider() + self.positional()

    def backup(self, name):
        c, data = self.config, self.config.get("data") or {}
        opts = ["-U", "postgres", "-n", name]
        opts += [f"--{data['compression']}"] if data.get("compression") else []
        opts += ["--encryption", data["encryption"]] if data.get("encryption") else []
        opts += ["--immediate-checkpoint"] if data.get("immediateCheckpoint") else []
        opts += ["--jobs", str(data["jobs"])] if data.get("jobs") is not None else []
        opts += data.get("additionalCommandArgs") or []
        opts += tags("--tags", c.get("tags")) + self.endpoint()
        return ["barman-cloud-backup"] + opts + self.cloud_provider() + self.positional()

    def backup_list(self):
        return ["barman-cloud-backup-list", "--format", "json"] + self.endpoint() + self.cloud_provider() + self.positional()

    def wal_restore(self):
        # CloudWalRestoreOptions; the restorer appends the WAL name and the destination.
        extra = (self.config.get("wal") or {}).get("restoreAdditionalCommandArgs") or []
        return ["barman-cloud-wal-restore"] + self.endpoint() + self.cloud_provider() + self.positional() + extra

    def restore(self, backup_id, pgdata):
        # restoreDataDir: endpoint, destination, server, backup id, cloud provider, PGDATA.
        return (["barman-cloud-restore"] + self.endpoint() + self.positional() + [backup_id] + self.cloud_provider()
                + ((self.config.get("data") or {}).get("restoreAdditionalCommandArgs") or []) + [pgdata])

    def env(self, ca_dir):
        """EnvSet{Backup,Restore}CloudCredentials on top of the container's env (sidecar / Cluster .spec.env)."""
        env = {e["name"]: e["value"] for e in self.extra_env}
        if self.config.get("endpointCA"):
            ca = self.render.secret_value(self.namespace, self.config["endpointCA"])
            path = os.path.join(ca_dir, "barman-ca.crt")
            with open(path, "w") as f:
                f.write(ca)
            env["AWS_CA_BUNDLE"] = path
        creds = self.config["s3Credentials"]
        if creds.get("inheritFromIAMRole"):
            return env
        if creds.get("region"):
            env["AWS_DEFAULT_REGION"] = self.render.secret_value(self.namespace, creds["region"])
        if creds.get("sessionToken"):
            env["AWS_SESSION_TOKEN"] = self.render.secret_value(self.namespace, creds["sessionToken"])
        env["AWS_ACCESS_KEY_ID"] = self.render.secret_value(self.namespace, creds["accessKeyId"])
        env["AWS_SECRET_ACCESS_KEY"] = self.render.secret_value(self.namespace, creds["secretAccessKey"])
        return env


def tags(flag, mapping):
    return [flag] + [f"{k},{v}" for k, v in sorted(mapping.items())] if mapping else []


def object_store(r, namespace, name):
    spec = r.find(":barmancloud.cnpg.io/v1:ObjectStore", name, namespace)["spec"]
    return spec["configuration"], (spec.get("instanceSidecarConfiguration") or {}).get("env") or []


def archive_store(r, method, cluster):
    """Where the database archives: the Cluster patch's plugin -> ObjectStore, or spec.backup.barmanObjectStore."""
    patch = r.find(":postgresql.cnpg.io/v1:ClusterPatch", cluster, NAMESPACE)["spec"]
    if method == "plugin":
        plugin = next(p for p in patch["plugins"] if p["name"] == BARMAN_PLUGIN and p.get("isWALArchiver"))
        params = plugin["parameters"]
        config, env = object_store(r, NAMESPACE, params["barmanObjectName"])
        return Store(r, NAMESPACE, config, params.get("serverName", cluster), env, f"ObjectStore {params['barmanObjectName']}")
    return Store(r, NAMESPACE, patch["backup"]["barmanObjectStore"], cluster, patch.get("env") or [], f"Cluster {cluster} spec.backup")


def recovery_stores(r, cluster):
    """(source store, own archive store or None, target time) for a Cluster bootstrapped by recovery."""
    spec, ns, name = cluster["spec"], cluster["metadata"]["namespace"], cluster["metadata"]["name"]
    recovery = spec["bootstrap"]["recovery"]
    ext = next(e for e in spec["externalClusters"] if e["name"] == recovery["source"])
    target = (recovery.get("recoveryTarget") or {}).get("targetTime")
    own_plugin = next((p for p in spec.get("plugins") or [] if p["name"] == BARMAN_PLUGIN and p.get("isWALArchiver")), None)
    if "plugin" in ext:
        params = ext["plugin"]["parameters"]
        config, src_env = object_store(r, ns, params["barmanObjectName"])
        own, own_env = None, []
        if own_plugin:
            own_cfg, own_env = object_store(r, ns, own_plugin["parameters"]["barmanObjectName"])
            own = Store(r, ns, own_cfg, own_plugin["parameters"].get("serverName", name), own_env, "own ObjectStore")
        # collectAdditionalEnvs: the archive store's sidecar env first, then the recovery store's.
        src = Store(r, ns, config, params.get("serverName", ext["name"]), own_env + src_env, f"ObjectStore {params['barmanObjectName']}")
        return src, own, target
    env = spec.get("env") or []
    src = Store(r, ns, ext["barmanObjectStore"], ext["name"], env, f"externalClusters[{ext['name']}].barmanObjectStore")
    backup = (spec.get("backup") or {}).get("barmanObjectStore")
    own = Store(r, ns, backup, name, env, f"Cluster {name} spec.backup") if backup else None
    return src, own, target


def pick_backup(listing, target):
    """catalog.FindBackupInfo for a targetTime: the latest completed backup that ended before it."""
    limit = parse_time(target) if target else None
    done = [b for b in listing.get("backups_list", []) if b.get("status") == "DONE"]
    done = [b for b in done if limit is None or parse_barman_time(b["end_time"]) <= limit]
    if not done:
        raise Failure(f"no completed backup ends before {target}")
    return max(done, key=lambda b: parse_barman_time(b["end_time"]))


def parse_time(rfc3339):
    return dt.datetime.fromisoformat(rfc3339.replace("Z", "+00:00"))


def parse_barman_time(text):
    # barman-cloud-backup-list --format json prints ctime-like times ("Wed Dec  2 00:20:01 2026") in UTC
    # when the server runs in UTC; ISO in newer versions.
    try:
        t = dt.datetime.fromisoformat(text)
    except ValueError:
        t = dt.datetime.strptime(" ".join(text.split()), "%a %b %d %H:%M:%S %Y")
    return t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)


def postgres_time(rfc3339):
    """utils.ConvertToPostgresFormat: RFC 3339 -> 'YYYY-MM-DD HH:MM:SS.ffffff+HH:MM'."""
    return parse_time(rfc3339).isoformat(sep=" ", timespec="microseconds")


# --- processes -------------------------------------------------------------------------------------


def base_env():
    """The container's own environment, reduced to what a pod would have (no AWS_* from this shell)."""
    return {"PATH": f"{VENV_BIN}:{PG_BIN}:/usr/bin:/bin", "HOME": "/var/lib/postgresql", "LANG": "C.UTF-8", "TZ": "UTC"}


def run(argv, env=None, as_postgres=False, capture=False, check=True, quiet=False):
    """Runs argv (as the postgres user: with only the base env plus `env`, passed in the environment, never in argv)."""
    if not quiet:
        log(f"$ {shown(argv, env)}")
    if as_postgres:
        full, proc_env = [RUNUSER, "-u", PG_USER, "--"] + list(argv), {**base_env(), **(env or {})}
    else:
        full, proc_env = list(argv), {**os.environ, **(env or {})}
    res = subprocess.run(full, capture_output=capture, text=True, env=proc_env)
    if check and res.returncode != 0:
        raise Failure(f"{argv[0]} exited {res.returncode}: {(res.stderr or '')[-2000:]}")
    return res


def barman(argv, env, capture=False, check=True):
    """A barman-cloud command as the postgres user, with exactly `env` on top of the base environment."""
    log(f"$ {shown(argv, env)}")
    with timed(argv[0]):
        return run([os.path.join(VENV_BIN, argv[0])] + argv[1:], env=env, as_postgres=True, capture=capture, check=check, quiet=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Postgres:
    def __init__(self, work, name):
        self.data = os.path.join(work, name)
        self.sock = os.path.join(work, "run")
        self.log = os.path.join(work, f"{name}.log")
        self.port = free_port()
        self.pid = None

    def pg(self, *argv, **kw):
        return run([os.path.join(PG_BIN, argv[0])] + list(argv[1:]), as_postgres=True, **kw)

    def conf(self, text):
        with open(os.path.join(self.data, "postgresql.auto.conf"), "a") as f:
            f.write(text)

    def local_conf(self):
        return (f"listen_addresses = ''\nunix_socket_directories = '{self.sock}'\nport = {self.port}\n"
                f"timezone = 'UTC'\nlog_timezone = 'UTC'\n")

    def start(self):
        with timed("pg_ctl start"):
            self.pg("pg_ctl", "-D", self.data, "-l", self.log, "-w", "-t", "120", "start")
        with open(os.path.join(self.data, "postmaster.pid")) as f:
            self.pid = int(f.readline())
        log(f"postgres pid {self.pid} on {self.sock}:{self.port}")

    def stop(self):
        if self.pid is None:
            return
        # pg_ctl signals the postmaster by the pid in postmaster.pid: the process this driver started.
        self.pg("pg_ctl", "-D", self.data, "-m", "fast", "-w", "-t", "120", "stop", check=False)
        if self.alive():
            log(f"postgres pid {self.pid} still running after pg_ctl stop; sending SIGQUIT")
            os.kill(self.pid, 3)
        self.pid = None

    def alive(self):
        """Our postmaster still runs: not gone, not a zombie (PID 1 reaps it later), not a recycled pid."""
        try:
            with open(f"/proc/{self.pid}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
            with open(f"/proc/{self.pid}/cmdline") as f:
                mine = self.data in f.read()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            return False
        return state != "Z" and mine

    def sql(self, query):
        res = self.pg("psql", "-h", self.sock, "-p", str(self.port), "-U", "postgres", "-d", "postgres", "-XAtq",
                      "-v", "ON_ERROR_STOP=1", "-c", query, capture=True, quiet=True)
        return res.stdout.strip()


def write_plan(path, argv, env):
    """What /controller/manager knows when PostgreSQL calls it: options and env (credentials: 0600)."""
    with open(path, "w") as f:
        json.dump({"argv": argv, "env": env}, f)
    os.chmod(path, 0o600)
    shutil.chown(path, PG_USER, PG_USER)


def shim(sub, plan, *args):
    return " ".join(shlex.quote(x) for x in [sys.executable, os.path.abspath(__file__), sub, plan] + list(args))


class TlsProxy:
    """https://127.0.0.1:<port> in front of the RGW, with a certificate from a throwaway private CA.

    Stands in for an RGW behind TLS (Rook's gateway.securePort): what is exercised is the program's
    caBundle -> endpointCA Secret -> AWS_CA_BUNDLE path, not RGW's own TLS. Threads of this process.
    """

    def __init__(self, upstream, work):
        self.upstream = ("127.0.0.1", int(upstream.rsplit(":", 1)[1].rstrip("/")))
        d = os.path.join(work, "tls")
        os.makedirs(d, exist_ok=True)
        self.ca = os.path.join(d, "ca.crt")
        ossl = ["openssl"]
        q = {"capture": True, "quiet": True}
        run(ossl + ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{d}/ca.key", "-out", self.ca, "-days", "1",
                    "-subj", "/CN=pitr-e2e private CA", "-addext", "basicConstraints=critical,CA:TRUE",
                    "-addext", "keyUsage=critical,keyCertSign,cRLSign"], **q)
        run(ossl + ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{d}/server.key", "-out", f"{d}/server.csr",
                    "-subj", "/CN=127.0.0.1"], **q)
        with open(f"{d}/server.ext", "w") as f:
            f.write("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                    "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n")
        run(ossl + ["x509", "-req", "-in", f"{d}/server.csr", "-CA", self.ca, "-CAkey", f"{d}/ca.key", "-CAcreateserial",
                    "-out", f"{d}/server.crt", "-days", "1", "-extfile", f"{d}/server.ext"], **q)
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(f"{d}/server.crt", f"{d}/server.key")
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.endpoint = f"https://127.0.0.1:{self.listener.getsockname()[1]}"
        threading.Thread(target=self.accept, daemon=True).start()
        log(f"TLS endpoint {self.endpoint} -> RGW {upstream} (CA {self.ca})")

    def accept(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    def serve(self, conn):
        try:
            tls = self.ctx.wrap_socket(conn, server_side=True)
            up = socket.create_connection(self.upstream)
        except (OSError, ssl.SSLError):
            conn.close()
            return
        threading.Thread(target=self.pipe, args=(up, tls), daemon=True).start()
        self.pipe(tls, up)

    @staticmethod
    def pipe(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                try:
                    sock.close()
                except OSError:
                    pass

    def close(self):
        self.listener.close()


# --- the object store side (what Rook would do for the rendered user and claim) --------------------


def rgw_user(admin, uid, display, keys):
    """The RGW user `uid` as Rook makes it for a CephObjectStoreUser: with the keys its spec.keys Secrets hold, or
    with a generated key when it has none (the bucket owner). Returns its (access, secret) key."""
    info = run(admin + ["user", "info", "--uid", uid], capture=True, check=False, quiet=True)
    if info.returncode != 0:
        extra = ["--access-key", keys[0], "--secret-key", keys[1]] if keys else ["--gen-access-key", "--gen-secret"]
        run(admin + ["user", "create", "--uid", uid, "--display-name", display] + extra, capture=True, quiet=True)
        log(f"RGW user {uid} created ({'keys from its Secret' if keys else 'generated key, as Rook does without spec.keys'})")
    elif keys and keys[0] not in [k["access_key"] for k in json.loads(info.stdout)["keys"]]:
        run(admin + ["key", "create", "--uid", uid, "--key-type", "s3", "--access-key", keys[0], "--secret-key", keys[1]],
            capture=True, quiet=True)
        log(f"RGW user {uid}: key from its Secret added")
    if keys:
        return keys
    k = json.loads(run(admin + ["user", "info", "--uid", uid], capture=True, quiet=True).stdout)["keys"][0]
    return k["access_key"], k["secret_key"]


def provision(r, endpoint, ceph_conf, destinations):
    """What Rook does for the rendered object users and the claim of the database's bucket: every user with its keys,
    the bucket created by its owner (a user no consumer holds the keys of), the claim's bucket policy applied. The
    writers and readers then reach the bucket only through that policy, as under Rook."""
    import boto3
    from botocore.config import Config

    admin = ["radosgw-admin", "--conf", ceph_conf]
    users = {u["metadata"]["name"]: u for u in r.all(":ceph.rook.io/v1:CephObjectStoreUser")}

    def keys_of(user):
        refs = user["spec"].get("keys") or []
        if not refs:
            return None
        ns = user["metadata"]["namespace"]
        return r.secret_value(ns, refs[0]["accessKeyRef"]), r.secret_value(ns, refs[0]["secretKeyRef"])

    for uid, user in users.items():
        if user["spec"].get("keys"):
            rgw_user(admin, uid, user["spec"].get("displayName", uid), keys_of(user))
    buckets = {d.split("/")[2] for d in destinations}
    for obc in r.all(":objectbucket.io/v1alpha1:ObjectBucketClaim"):
        bucket = obc["spec"].get("bucketName")
        if bucket not in buckets:
            continue
        config = obc["spec"]["additionalConfig"]
        owner = config["bucketOwner"]
        user = users[owner]
        access, secret = rgw_user(admin, owner, user["spec"].get("displayName", owner), keys_of(user))
        s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=access, aws_secret_access_key=secret,
                          region_name="us-east-1", config=Config(s3={"addressing_style": "path"}))
        try:
            s3.head_bucket(Bucket=bucket)
        except s3.exceptions.ClientError:
            s3.create_bucket(Bucket=bucket)
            log(f"bucket {bucket} created by its owner {owner} (ObjectBucketClaim {obc['metadata']['name']})")
        if config.get("bucketPolicy"):
            s3.put_bucket_policy(Bucket=bucket, Policy=config["bucketPolicy"])
            log(f"bucket {bucket}: the claim's bucket policy applied")
        for d in destinations:
            purge(s3, d)
        return s3
    raise Failure(f"no ObjectBucketClaim renders the bucket of {sorted(destinations)}")


def purge(s3, destination):
    _, _, bucket, *prefix = destination.split("/")
    prefix = "/".join(prefix).rstrip("/") + "/"
    keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
            for o in page.get("Contents", [])]
    for i in range(0, len(keys), 1000):
        s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys[i:i + 1000]]})
    return len(keys)


def count_objects(s3, destination):
    _, _, bucket, *prefix = destination.split("/")
    prefix = "/".join(prefix).rstrip("/") + "/"
    return sum(page.get("KeyCount", 0) for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix))


# --- one method, end to end ------------------------------------------------------------------------


def run_method(variant, args, started):
    method, tls = variant.removesuffix(TLS_SUFFIX), variant.endswith(TLS_SUFFIX)
    db = DATABASES[method] + ("-tls" if tls else "")
    # Short: barman-cloud-backup puts multiprocessing sockets under TMPDIR (AF_UNIX paths max 107 bytes).
    work = os.path.join(args.work, db)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(os.path.join(work, "run"))
    for d in (args.work, work, os.path.join(work, "run")):
        shutil.chown(d, PG_USER, PG_USER)
    os.chmod(work, 0o700)

    proxy = TlsProxy(args.endpoint, work) if tls else None
    try:
        return exercise(method, db, work, proxy, args, started)
    finally:
        if proxy is not None:
            proxy.close()


def exercise(method, db, work, proxy, args, started):
    label = method + (TLS_SUFFIX if proxy else "")
    endpoint, ca = (proxy.endpoint, proxy.ca) if proxy else (args.endpoint, None)
    r0 = render(method, endpoint, db, ca_file=ca)
    src = archive_store(r0, method, db)
    log(f"{label}: archive of {db} = {src.origin}: {json.dumps(src.config, sort_keys=True)}")
    own_dest = src.config["destinationPath"] + "-pitr"  # the declared recovery's own prefix, purged too
    with timed(f"{label}: RGW user, bucket, purge"):
        s3 = provision(r0, args.endpoint, args.ceph_conf, [src.config["destinationPath"], own_dest])

    env = src.env(work)
    pg = Postgres(work, "source")
    started.append(pg)
    with timed(f"{label}: initdb"):
        pg.pg("initdb", "-D", pg.data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", capture=True)
    plan = os.path.join(work, "archive.json")
    write_plan(plan, src.wal_archive(), env)
    pg.conf(pg.local_conf() + "archive_mode = on\n"
            f"archive_command = '{shim('wal-archive', plan, '%p')}'\n")
    log(f"{label}: archive_command = {shim('wal-archive', plan, '%p')}")
    log(f"{label}:   -> {shown(src.wal_archive() + ['<%p>'], env)}")

    # The instance manager checks the archive is empty before the first archive (check-empty-wal-archive).
    barman(src.check_wal_archive(), env)
    if "AWS_CA_BUNDLE" in env:
        # The mapped CA is what makes the endpoint trusted: without it the same command must fail.
        bare = {k: v for k, v in env.items() if k != "AWS_CA_BUNDLE"}
        if barman(src.check_wal_archive(), bare, capture=True, check=False).returncode == 0:
            raise Failure("the https endpoint was trusted without AWS_CA_BUNDLE: the CA test proves nothing")
        log(f"{label}: without AWS_CA_BUNDLE the same command fails (certificate not trusted), as it should")
    pg.start()
    pg.sql("CREATE TABLE pitr (id int PRIMARY KEY, batch text NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp())")
    pg.sql(f"INSERT INTO pitr (id, batch) SELECT g, 'before-backup' FROM generate_series(1, {ROWS_BACKUP}) g")

    sched = r0.find(":postgresql.cnpg.io/v1:ScheduledBackup", f"{db}-base-backup", NAMESPACE)
    backup_name = f"{sched['metadata']['name']}-{dt.datetime.now(dt.timezone.utc):%Y%m%d%H%M%S}"
    barman(src.backup(backup_name), {**env, "PGHOST": pg.sock, "PGPORT": str(pg.port), "TMPDIR": work})

    pg.sql(f"INSERT INTO pitr (id, batch) SELECT g, 'before-T' FROM generate_series({ROWS_BACKUP + 1}, {ROWS_BACKUP + ROWS_BEFORE}) g")
    pg.sql("SELECT pg_switch_wal()")
    time.sleep(1)
    now = dt.datetime.now(dt.timezone.utc)
    target_dt = now.replace(microsecond=0) + dt.timedelta(seconds=1)
    target = target_dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    time.sleep(max(0.0, (target_dt - dt.datetime.now(dt.timezone.utc)).total_seconds()) + 1.0)
    log(f"{label}: T = {target} ({ROWS_BACKUP + ROWS_BEFORE} rows committed before it)")
    first, last = ROWS_BACKUP + ROWS_BEFORE + 1, ROWS_BACKUP + ROWS_BEFORE + ROWS_AFTER
    pg.sql(f"INSERT INTO pitr (id, batch) SELECT g, 'after-T' FROM generate_series({first}, {last}) g")
    wal = pg.sql("SELECT pg_walfile_name(pg_switch_wal())")
    with timed(f"{label}: wait for WAL {wal} archived"):
        deadline = time.monotonic() + 120
        while pg.sql("SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver") < wal:
            if time.monotonic() > deadline:
                raise Failure(f"WAL {wal} not archived in 120 s: {pg.sql('SELECT * FROM pg_stat_archiver')}")
            time.sleep(0.2)
    total = pg.sql("SELECT count(*) FROM pitr")
    if total != str(last):
        raise Failure(f"the source holds {total} rows, expected {last}")
    stats = pg.sql("SELECT archived_count || ' archived, ' || failed_count || ' failed' FROM pg_stat_archiver")
    log(f"{label}: archiver: {stats}; last {wal}")
    pg.stop()
    log(f"{label}: {count_objects(s3, src.config['destinationPath'])} objects under {src.config['destinationPath']}/")

    r1 = render(method, endpoint, db, target, ca_file=ca)
    recovered = r1.find(":postgresql.cnpg.io/v1:Cluster", f"{db}-pitr", NAMESPACE)
    results = []
    for kind, cluster in (("recovery", recovered), ("drill", r1.drill_cluster)):
        with timed(f"{label}: {kind} restore to T and check"):
            results.append(restore(label, kind, r1, cluster, work, started))
    purged = 0 if args.keep else sum(purge(s3, d) for d in (src.config["destinationPath"], own_dest))
    if purged:
        log(f"{label}: removed {purged} objects of this run from the bucket")
    return results


def restore(label, kind, r, cluster, work, started):
    name = cluster["metadata"]["name"]
    src, own, target = recovery_stores(r, cluster)
    log(f"{label}/{kind}: Cluster {name} recovers from {src.origin} (server {src.server_name}) to {target}")
    env = src.env(work)
    if own is not None:
        # Before restoring, CNPG checks that the new cluster's own archive is unused.
        barman(own.check_wal_archive(), own.env(work))
    listing = json.loads(barman(src.backup_list(), env, capture=True).stdout)
    chosen = pick_backup(listing, target)
    log(f"{label}/{kind}: backup {chosen['backup_id']} ({chosen.get('backup_name')}), ended {chosen['end_time']}, begin WAL {chosen['begin_wal']}")
    probe = os.path.join(work, "run", "test.wal")
    barman(src.wal_restore() + [chosen["begin_wal"], probe], env)
    os.remove(probe)

    pg = Postgres(work, kind)
    started.append(pg)
    os.makedirs(pg.data, mode=0o700)
    shutil.chown(pg.data, PG_USER, PG_USER)
    barman(src.restore(chosen["backup_id"], pg.data), env)
    plan = os.path.join(work, f"{kind}-restore.json")
    write_plan(plan, src.wal_restore(), env)
    restore_command = shim("wal-restore", plan, "%f", "%p")
    # What CNPG appends for a recovery bootstrap; archiving stays off (see STANDINS.md).
    pg.conf(pg.local_conf() + "archive_mode = off\n"
            f"restore_command = '{restore_command}'\nrecovery_target_action = promote\n"
            f"recovery_target_time = '{postgres_time(target)}'\n")
    open(os.path.join(pg.data, "recovery.signal"), "w").close()
    shutil.chown(os.path.join(pg.data, "recovery.signal"), PG_USER, PG_USER)
    log(f"{label}/{kind}: restore_command = {restore_command}")
    log(f"{label}/{kind}:   -> {shown(src.wal_restore() + ['<%f>', '<%p>'], env)}")
    log(f"{label}/{kind}: recovery_target_time = '{postgres_time(target)}'")
    pg.start()
    deadline = time.monotonic() + 120
    while pg.sql("SELECT pg_is_in_recovery()") != "f":
        if time.monotonic() > deadline:
            raise Failure(f"{name} still in recovery after 120 s (log: {pg.log})")
        time.sleep(0.2)
    got = pg.sql("SELECT count(*) || ' ' || min(id) || ' ' || max(id) || ' ' || string_agg(DISTINCT batch, ',' ORDER BY batch) FROM pitr")
    restored_wals = sum(1 for line in open(pg.log) if "restored log file" in line)
    pg.stop()
    want = f"{ROWS_BACKUP + ROWS_BEFORE} 1 {ROWS_BACKUP + ROWS_BEFORE} before-T,before-backup"
    ok = got == want
    log(f"{label}/{kind}: rows = {got!r}, expected {want!r}: {'OK' if ok else 'MISMATCH'} ({restored_wals} WAL files restored)")
    if not ok:
        raise Failure(f"{label}/{kind}: restored rows {got!r}, expected {want!r}")
    return f"{label}/{kind}: OK"


# --- entry points ----------------------------------------------------------------------------------


def venv_visible_to_postgres():
    probe = [os.path.join(VENV_BIN, "python"), "-c", "import barman"]
    return subprocess.run([RUNUSER, "-u", PG_USER, "--"] + probe, capture_output=True).returncode == 0


def expose_root(view):
    """In this private mount namespace only: /root becomes a 0755 view of the entries the venv needs.

    The venv (and the pyenv interpreter behind it) live under /root (0700); in a CNPG image barman-cloud
    is installed where uid 26 reads it. Nothing changes outside this process tree.
    """
    needed = {os.path.realpath(VENV_BIN), os.path.realpath(sys.executable), os.path.realpath(sys.base_prefix)}
    entries = sorted({p.split("/")[2] for p in needed if p.startswith("/root/")})
    os.makedirs(view, exist_ok=True)
    os.chmod(view, 0o755)
    for e in entries:
        os.makedirs(os.path.join(view, e), exist_ok=True)
        subprocess.run(["mount", "--rbind", f"/root/{e}", os.path.join(view, e)], check=True)
    subprocess.run(["mount", "--rbind", view, "/root"], check=True)
    log(f"mount namespace: /root shows only {entries} (for the postgres user to run the venv)")


def cmd_run(args):
    if not args.in_namespace and not venv_visible_to_postgres():
        argv = ["unshare", "--mount", "--propagation", "private", "--", sys.executable, os.path.abspath(__file__)] + sys.argv[1:] + ["--in-namespace"]
        log(f"the postgres user cannot read {VENV_BIN}: re-running in a private mount namespace")
        os.execvp("unshare", argv)
    if args.in_namespace:
        expose_root(os.path.join(args.work, "rootview"))
        if not venv_visible_to_postgres():
            raise Failure("the venv is still unreadable for the postgres user")
    os.makedirs(args.work, exist_ok=True)
    log(f"barman-cloud {subprocess.run([os.path.join(VENV_BIN, 'barman-cloud-backup'), '--version'], capture_output=True, text=True).stdout.strip()}, "
        f"PostgreSQL {subprocess.run([os.path.join(PG_BIN, 'postgres'), '--version'], capture_output=True, text=True).stdout.strip()}")
    started, results, failed = [], [], []
    try:
        for method in args.methods.split(","):
            try:
                with timed(f"{method}: total"):
                    results += run_method(method, args, started)
            except (Failure, subprocess.CalledProcessError) as e:
                failed.append(f"{method}: {e}")
                log(f"FAILED {method}: {e}")
            finally:
                for pg in started:
                    pg.stop()
                started.clear()
    finally:
        for pg in started:
            pg.stop()
    print("\n[pitr] timings:")
    for label, secs in TIMINGS:
        print(f"  {secs:7.2f}s  {label}")
    print("\n[pitr] results:")
    for line in results + [f"{f} FAILED" for f in failed]:
        print(f"  {line}")
    return 1 if failed else 0


def cmd_wal(args):
    """The /controller/manager wal-archive / wal-restore stand-in PostgreSQL calls."""
    with open(args.plan) as f:
        plan = json.load(f)
    argv = plan["argv"] + args.rest
    env = {**base_env(), **plan["env"]}
    with open(os.path.join(os.path.dirname(args.plan), f"{args.sub}.log"), "a") as f:
        f.write(f"{dt.datetime.now(dt.timezone.utc).isoformat()} {shown(argv, plan['env'])}\n")
    return subprocess.run([os.path.join(VENV_BIN, argv[0])] + argv[1:], env=env).returncode


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="sub", required=True)
    r = sub.add_parser("run")
    r.add_argument("--endpoint", default=os.environ.get("BACKUP_PLATFORM_S3_ENDPOINT"))
    r.add_argument("--ceph-conf", default=os.environ.get("BACKUP_PLATFORM_CEPH_CONF"))
    r.add_argument("--methods", default="plugin,barmanObjectStore,plugin+tls",
                   help="variants: plugin, barmanObjectStore, each optionally +tls (https with a private CA)")
    r.add_argument("--work", default="/tmp/k8s-backup-platform-pitr")
    r.add_argument("--keep", action="store_true", help="keep this run's objects in the bucket")
    r.add_argument("--in-namespace", action="store_true", help=argparse.SUPPRESS)
    for name in ("wal-archive", "wal-restore"):
        w = sub.add_parser(name)
        w.add_argument("plan")
        w.add_argument("rest", nargs="+")
    args = p.parse_args()
    if args.sub == "run":
        if not args.endpoint or not args.ceph_conf:
            p.error("--endpoint and --ceph-conf (or BACKUP_PLATFORM_S3_ENDPOINT / BACKUP_PLATFORM_CEPH_CONF) are required")
        return cmd_run(args)
    return cmd_wal(args)


if __name__ == "__main__":
    sys.exit(main())
