#!/usr/bin/env python3
"""The off-site copy, run for real (issue 13, section 6): rclone with exactly the command, arguments and
environment of the program's `backup-offsite/offsite-copy` CronJob, from the real RGW to a second bucket
with its own user. Exit 0 only when every check passed.

  render (bin/e2e/offsite/render.js: the real program, bare metal, offsite.destination = a bucket on this RGW)
  apply to the private API server: what Rook needs first (CephObjectStore, operator ConfigMap: prerequisites a
    platform team has, not program objects), then the rendered Namespaces, StorageClass, CephObjectStoreUsers,
    key Secrets, ObjectBucketClaims, the off-site Secret and CronJob; the destination Secret by hand
  e2e/rook/rook.py reconcile --once: users with the rendered keys, buckets owned by backup-owner, bucket policies
  destination by hand: its own RGW user and a versioned bucket ("an existing bucket elsewhere")
  seed backup-shaped objects as each consumer, with the keys from the consumer Secrets read back from the API server
  run the CronJob's container as the kubelet would: the CronJob read back from the API server, every env
    secretKeyRef resolved from the API server's Secrets, its volumes under a temp root, as uid/gid 65534
  check: every object arrived, bytes equal (sha256) and ETag = MD5 where single-part; the replicator's keys
    (from the job's own env) cannot write or delete in the source; delete / overwrite / add at the source,
    run again: the deleted object stays, the new one arrives, the overwritten one keeps its old version.

Usage: offsite.py run --endpoint URL --ceph-conf FILE --rclone PATH [--work DIR]  (KUBECONFIG set; as root)
"""
import argparse
import base64
import hashlib
import json
import os
import secrets
import shlex
import shutil
import string
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "e2e", "rook"))
from kube import Kube  # noqa: E402
from rgw import Rgw  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402
from boto3.s3.transfer import TransferConfig  # noqa: E402

OFFSITE_NS, CRONJOB = "backup-offsite", "offsite-copy"
DST_SECRET, DST_BUCKET, DST_PREFIX, DST_REGION, DST_USER = "dr-s3", "dr-offsite", "kenya", "dr-1", "offsite-dr-writer"
AUDITOR = "offsite-e2e-auditor"
NOBODY = 65534
MIB = 1024 * 1024
# Kinds applied from the render (everything Rook and the copy job read); the rest is not needed here.
APPLIED = ("Namespace", "StorageClass", "CephObjectStoreUser", "ObjectBucketClaim", "Secret", "ConfigMap", "CronJob")
APPLIED_NAMESPACES = ("rook-ceph", OFFSITE_NS, "")

T0 = time.monotonic()
TIMINGS = []
RESULTS = {"passed": 0, "failed": 0}
auditor_client = None


def log(msg):
    print(f"[offsite {time.monotonic() - T0:6.1f}s] {msg}", flush=True)


def check(label, ok, detail=""):
    RESULTS["passed" if ok else "failed"] += 1
    print(f"{'ok  ' if ok else 'FAIL'}  {label}{'  -- ' + detail if detail else ''}", flush=True)
    return ok


class Failure(Exception):
    pass


class timed:
    def __init__(self, label):
        self.label = label

    def __enter__(self):
        self.t = time.monotonic()

    def __exit__(self, *exc):
        TIMINGS.append((self.label, time.monotonic() - self.t))


def unwrap(value):
    """render.ts keeps secrets as {"secret": value}; the API server must get the plain value."""
    if isinstance(value, dict):
        if set(value) == {"secret"}:
            return unwrap(value["secret"])
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value


def token(n, alphabet=string.ascii_uppercase + string.digits):
    return "".join(secrets.choice(alphabet) for _ in range(n))


def sha256(data):
    return hashlib.sha256(data).hexdigest()


# --- render and apply -------------------------------------------------------------------------------


def render(endpoint, dst_endpoint, ca_file=None):
    argv = ["node", os.path.join(REPO, "bin/e2e/offsite/render.js"), "--endpoint", endpoint, "--dst-endpoint", dst_endpoint,
            "--dst-region", DST_REGION, "--dst-bucket", DST_BUCKET, "--dst-secret", DST_SECRET, "--prefix", DST_PREFIX]
    argv += ["--ca-file", ca_file] if ca_file else []
    log("$ " + " ".join(shlex.quote(a) for a in argv))
    with timed(f"render the program (mocks, secrets kept{', caBundle' if ca_file else ''})"):
        out = subprocess.run(argv, cwd=REPO, check=True, capture_output=True, text=True).stdout
    return json.loads(out)["resources"]


def manifests(resources):
    """Rendered Kubernetes objects of the applied kinds, as the provider would send them (apiVersion/kind from the type)."""
    out = []
    for r in resources:
        parts = r["type"].split(":")
        if parts[0] != "kubernetes" or len(parts) != 3 or parts[2] not in APPLIED:
            continue
        group_version, kind = parts[1], parts[2]
        obj = unwrap(r["inputs"])
        if (obj.get("metadata") or {}).get("namespace", "") not in APPLIED_NAMESPACES:
            continue  # consumer Secrets in application namespaces: read from the render (below), not needed in the API
        api_version = group_version[len("core/"):] if group_version.startswith("core/") else group_version
        out.append({**obj, "apiVersion": api_version, "kind": kind})
    return out


def kubectl_apply(objs, manager):
    doc = {"apiVersion": "v1", "kind": "List", "items": objs}
    res = subprocess.run(["kubectl", "apply", "--server-side", "--force-conflicts", f"--field-manager={manager}", "-f", "-"],
                         input=json.dumps(doc), capture_output=True, text=True)
    if res.returncode != 0:
        raise Failure(f"kubectl apply failed: {res.stderr.strip()}")
    return res.stdout.strip().splitlines()


def prerequisites():
    """What a Rook cluster has before the program runs: the object store and the operator's allow-list (README)."""
    return [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "rook-ceph-operator-config", "namespace": "rook-ceph"},
         "data": {"ROOK_OBC_ALLOW_ADDITIONAL_CONFIG_FIELDS": "maxObjects,maxSize,bucketOwner,bucketPolicy,bucketLifecycle"}},
        {"apiVersion": "ceph.rook.io/v1", "kind": "CephObjectStore", "metadata": {"name": "ceph-objectstore", "namespace": "rook-ceph"},
         "spec": {"gateway": {"port": 80, "instances": 1}}},
    ]


def secret_data(kube, ns, name):
    s = kube.get(f"/api/v1/namespaces/{ns}/secrets/{name}")
    if s is None:
        raise Failure(f"Secret {ns}/{name} not found in the API server")
    return {k: base64.b64decode(v).decode() for k, v in (s.get("data") or {}).items()}


def rendered_secret(resources, ns, name):
    for r in resources:
        m = r["inputs"].get("metadata") or {}
        if r["type"] == "kubernetes:core/v1:Secret" and m.get("name") == name and m.get("namespace") == ns:
            return unwrap(r["inputs"].get("stringData") or {})
    raise Failure(f"the render has no Secret {ns}/{name}")


# --- the destination, by hand -------------------------------------------------------------------------


def destination(rgw, kube):
    keys = (token(20), token(40, string.ascii_letters + string.digits))
    rgw.create_user(DST_USER, "Off-site destination writer (by hand)", **{"access-key": keys[0], "secret-key": keys[1]})
    s3 = rgw.s3(*keys)
    s3.create_bucket(Bucket=DST_BUCKET)
    # README: "The bucket must be versioned and expire old objects itself".
    s3.put_bucket_versioning(Bucket=DST_BUCKET, VersioningConfiguration={"Status": "Enabled"})
    kubectl_apply([{"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "metadata": {"name": DST_SECRET, "namespace": OFFSITE_NS},
                    "stringData": {"AWS_ACCESS_KEY_ID": keys[0], "AWS_SECRET_ACCESS_KEY": keys[1]}}], "platform-team")
    log(f"destination: RGW user {DST_USER}, versioned bucket {DST_BUCKET}, Secret {OFFSITE_NS}/{DST_SECRET}")
    return s3


def auditor(rgw):
    """A --system user that reads every object on both sides, for the checks only (the job never uses it)."""
    res = rgw._radosgw_admin("user", "create", f"--uid={AUDITOR}", "--display-name=off-site e2e auditor", "--system")
    if res.returncode != 0:
        raise Failure(f"radosgw-admin user create {AUDITOR}: {res.stderr.strip()}")
    key = json.loads(res.stdout)["keys"][0]
    return rgw.s3(key["access_key"], key["secret_key"])


# --- seed objects shaped like real backups ---------------------------------------------------------------


def consumer_clients(rgw, secret_of):
    """Each consumer's S3 client, keyed from the Secret the program gave it (as the consumer reads it); secret_of(ns,
    name) gives that Secret's data: from the rendered objects here, from the live API server in pod.py."""
    clients = {}
    cloud = secret_of("velero", "velero-s3-credentials")["cloud"]
    kv = dict(line.split("=", 1) for line in cloud.splitlines() if "=" in line)
    clients["velero"] = rgw.s3(kv["aws_access_key_id"].strip(), kv["aws_secret_access_key"].strip())
    for ns in ("rciis-prod", "monitoring", "keycloak"):
        s = secret_of(ns, "cnpg-s3-credentials")
        clients[f"cnpg-{ns}"] = rgw.s3(s["ACCESS_KEY_ID"], s["ACCESS_SECRET_KEY"])
    s = secret_of("rciis-prod", "mssql-s3-credentials")
    clients["mssql"] = rgw.s3(s["AWS_ACCESS_KEY_ID"], s["AWS_SECRET_ACCESS_KEY"])
    return clients


def seed_plan():
    """(writer, bucket, key, size, multipart part size or None). Layouts as each tool writes them."""
    plan = []
    for b in ("daily-20261130020000", "daily-20261201020000"):
        base = f"backups/{b}/"
        plan += [("velero", "velero-backups", base + "velero-backup.json", 3000, None),
                 ("velero", "velero-backups", base + f"{b}.tar.gz", 3 * MIB, None),
                 ("velero", "velero-backups", base + f"{b}-logs.gz", 20000, None),
                 ("velero", "velero-backups", base + f"{b}-resource-list.json.gz", 900, None),
                 ("velero", "velero-backups", base + f"{b}-volumesnapshots.json.gz", 29, None)]
    plan.append(("velero", "velero-backups", "restores/restore-20261201/restore-restore-20261201-logs.gz", 4000, None))
    for writer, cluster in (("cnpg-rciis-prod", "esb-postgres"), ("cnpg-rciis-prod", "ss-postgres"),
                            ("cnpg-monitoring", "grafana-postgres"), ("cnpg-keycloak", "keycloak-pg")):
        root = f"{cluster}/{cluster}/"
        for seg in range(1, 4):
            plan.append((writer, "cnpg-backups", f"{root}wals/0000000100000000/00000001000000000000000{seg}.gz", 70000 + seg, None))
        bid = "20261201T020000"
        plan += [(writer, "cnpg-backups", f"{root}base/{bid}/backup.info", 1200, None),
                 (writer, "cnpg-backups", f"{root}base/{bid}/data.tar.gz", 6 * MIB, None)]
    # barman-cloud and SQL Server upload big files in parts: one multipart object each (no MD5 ETag).
    plan.append(("cnpg-rciis-prod", "cnpg-backups", "esb-postgres/esb-postgres/base/20261201T020000/data.tar", 18 * MIB, 5 * MIB))
    plan.append(("mssql", "mssql-backups", "mssql/rciis-prod/RCIIS/RCIIS_FULL_20261201_030000.bak", 12 * MIB, 5 * MIB))
    plan.append(("mssql", "mssql-backups", "mssql/rciis-prod/RCIIS/RCIIS_LOG_20261201_031500.trn", 250000, None))
    return plan


def put(client, bucket, key, data, part):
    if part:
        cfg = TransferConfig(multipart_threshold=part, multipart_chunksize=part, use_threads=False)
        import io
        client.upload_fileobj(io.BytesIO(data), bucket, key, Config=cfg)
    else:
        client.put_object(Bucket=bucket, Key=key, Body=data)


def seed(clients, plan):
    expected = {}
    for writer, bucket, key, size, part in plan:
        data = os.urandom(size)
        put(clients[writer], bucket, key, data, part)
        expected[(bucket, key)] = data
    log(f"seeded {len(plan)} objects ({sum(len(d) for d in expected.values()) // MIB} MiB) as their writers")
    return expected


# --- run the CronJob's container ----------------------------------------------------------------------


def container_of(kube):
    cj = kube.get(f"/apis/batch/v1/namespaces/{OFFSITE_NS}/cronjobs/{CRONJOB}")
    if cj is None:
        raise Failure(f"CronJob {OFFSITE_NS}/{CRONJOB} not in the API server")
    pod = cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return pod, pod["containers"][0]


def mount_map(kube, pod, container, root):
    """Every volume mount, materialised under root as the kubelet would (emptyDir, configMap, secret)."""
    volumes = {v["name"]: v for v in pod.get("volumes") or []}
    mapping = {}
    for m in container.get("volumeMounts") or []:
        target = root + m["mountPath"]
        os.makedirs(target, exist_ok=True)
        v = volumes[m["name"]]
        if "configMap" in v or "secret" in v:
            if "configMap" in v:
                src = kube.get(f"/api/v1/namespaces/{OFFSITE_NS}/configmaps/{v['configMap']['name']}") or {}
                files = {k: val.encode() for k, val in (src.get("data") or {}).items()}
            else:
                files = {k: base64.b64decode(val) for k, val in secret_data_raw(kube, v["secret"]["secretName"]).items()}
            for k, data in files.items():
                with open(os.path.join(target, k), "wb") as f:
                    f.write(data)
                os.chmod(os.path.join(target, k), 0o644)
        os.chown(target, NOBODY, NOBODY) if "emptyDir" in v else None
        mapping[m["mountPath"]] = target
    return mapping


def secret_data_raw(kube, name):
    s = kube.get(f"/api/v1/namespaces/{OFFSITE_NS}/secrets/{name}") or {}
    return s.get("data") or {}


def relocate(value, mapping):
    """A path (or a :-list of paths) under a mount point is moved under the temp root; anything else is kept."""
    parts = []
    for p in value.split(":"):
        for mount, target in sorted(mapping.items(), key=lambda kv: -len(kv[0])):
            if p == mount or p.startswith(mount.rstrip("/") + "/"):
                p = target + p[len(mount):]
                break
        parts.append(p)
    return ":".join(parts)


def resolve_env(kube, container, mapping):
    env, shown = {}, {}
    for e in container.get("env") or []:
        if "value" in e:
            env[e["name"]] = relocate(e["value"], mapping)
            shown[e["name"]] = env[e["name"]]
        else:
            ref = e["valueFrom"]["secretKeyRef"]
            data = secret_data_raw(kube, ref["name"])
            if ref["key"] not in data:
                raise Failure(f"env {e['name']}: Secret {OFFSITE_NS}/{ref['name']} has no key {ref['key']} (the pod would not start)")
            env[e["name"]] = base64.b64decode(data[ref["key"]]).decode()
            shown[e["name"]] = f"*** (secretKeyRef {ref['name']}/{ref['key']})"
    return env, shown


def run_job(kube, root, rclone, label, drop_env=(), extra_env=None):
    """The container's command + args with its env, as uid/gid 65534, PATH holding only the rclone binary and the system."""
    pod, c = container_of(kube)
    mapping = mount_map(kube, pod, c, root)
    env, shown = resolve_env(kube, c, mapping)
    for name in drop_env:  # negative checks only
        env.pop(name, None)
        shown[name] = "(removed for this run)"
    for name, value in (extra_env or {}).items():  # negative checks only: fail fast instead of retrying for minutes
        env[name] = shown[name] = value
    bindir = os.path.join(root, "bin")
    os.makedirs(bindir, exist_ok=True)
    if not os.path.exists(os.path.join(bindir, "rclone")):
        shutil.copy2(rclone, os.path.join(bindir, "rclone"))
        os.chmod(os.path.join(bindir, "rclone"), 0o755)
    env["PATH"] = f"{bindir}:/usr/bin:/bin"
    sc = {**(pod.get("securityContext") or {}), **(c.get("securityContext") or {})}
    uid, gid = sc.get("runAsUser", 0), sc.get("runAsGroup", 0)
    argv = list(c.get("command") or []) + list(c.get("args") or [])
    prefix = ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "--no-new-privs"] if os.getuid() == 0 else []
    log(f"{label}: image {c['image']} -> {rclone_version(rclone)}; uid {uid} gid {gid}; mounts {mapping}")
    log(f"{label}: env " + " ".join(f"{k}={v}" for k, v in shown.items()))
    log(f"{label}: $ " + " ".join(shlex.quote(a) for a in prefix + argv))
    with timed(f"{label}: the CronJob's command (rclone copy x3 buckets)"):
        res = subprocess.run(prefix + argv, env=env, cwd="/", capture_output=True, text=True, timeout=900)
    with open(os.path.join(root, f"{label}.log"), "w") as f:
        f.write(res.stdout + res.stderr)
    for line in (res.stdout + res.stderr).splitlines():
        print(f"    | {line}", flush=True)
    return res, env


def rclone_version(rclone):
    return subprocess.run([rclone, "version"], capture_output=True, text=True).stdout.splitlines()[0]


# --- checks -------------------------------------------------------------------------------------------


def listing(s3, bucket, prefix=""):
    out = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for o in page.get("Contents", []):
            out[o["Key"]] = o
    return out


def versions(s3, bucket, key):
    res = s3.list_object_versions(Bucket=bucket, Prefix=key)
    return [v for v in res.get("Versions", []) if v["Key"] == key]


def dst_key(bucket, key):
    return f"{DST_PREFIX}/{bucket}/{key}"


def check_copied(audit, expected, label):
    """Every expected object is at <prefix>/<bucket>/<key> with the same bytes; ETag = MD5 for single-part puts."""
    bad, multipart = [], 0
    for (bucket, key), data in sorted(expected.items()):
        try:
            obj = audit.get_object(Bucket=DST_BUCKET, Key=dst_key(bucket, key))
        except ClientError as e:
            bad.append(f"{bucket}/{key}: {e.response['Error']['Code']}")
            continue
        body = obj["Body"].read()
        etag = obj["ETag"].strip('"')
        if sha256(body) != sha256(data) or len(body) != len(data):
            bad.append(f"{bucket}/{key}: sha256 {sha256(body)[:12]} != {sha256(data)[:12]}")
        elif "-" in etag:
            multipart += 1  # rclone uploads above its cutoff in parts; the bytes were compared
        elif etag != hashlib.md5(data).hexdigest():
            bad.append(f"{bucket}/{key}: ETag {etag} != MD5 {hashlib.md5(data).hexdigest()}")
    check(f"{label}: all {len(expected)} objects at {DST_BUCKET}/{DST_PREFIX}/<bucket>/<key>, sha256 of the bytes equal"
          f" (ETag = MD5 of the bytes for {len(expected) - multipart - len(bad)})", not bad, "; ".join(bad[:5]))
    return not bad


def probe(label, expect_refused, fn):
    try:
        out = fn()
        errors = (out or {}).get("Errors") if isinstance(out, dict) else None
        if errors:  # DeleteObjects answers 200 with per-key errors
            detail, refused = f"200 with per-key errors: {errors[0]['Code']}", errors[0]["Code"] == "AccessDenied"
        else:
            detail, refused = "allowed", False
    except ClientError as e:
        status = e.response["ResponseMetadata"]["HTTPStatusCode"]
        detail, refused = f"{status} {e.response['Error']['Code']}", status == 403
    return check(f"{label:<70} expect {'refused' if expect_refused else 'allowed'}", refused == expect_refused, detail)


def check_replicator(rgw, env, expected, audit, root, rclone):
    """The job's own source keys (from its resolved env): read yes, write or delete nowhere in the source."""
    rep = rgw.s3(env["RCLONE_CONFIG_SRC_ACCESS_KEY_ID"], env["RCLONE_CONFIG_SRC_SECRET_ACCESS_KEY"])
    for bucket in ("velero-backups", "cnpg-backups", "mssql-backups"):
        key = next(k for (b, k) in sorted(expected) if b == bucket)
        probe(f"replicator get {bucket}/{key[:38]}", False, lambda: rep.get_object(Bucket=bucket, Key=key)["Body"].read())
        probe(f"replicator put {bucket}/{key[:38]} (overwrite)", True, lambda: rep.put_object(Bucket=bucket, Key=key, Body=b"x"))
        probe(f"replicator put {bucket}/offsite-probe (new)", True, lambda: rep.put_object(Bucket=bucket, Key="offsite-probe", Body=b"x"))
        probe(f"replicator start a multipart upload in {bucket}", True,
              lambda: rep.create_multipart_upload(Bucket=bucket, Key="offsite-probe-mp"))
        probe(f"replicator copy an object onto another in {bucket}", True,
              lambda: rep.copy_object(Bucket=bucket, Key="offsite-probe-copy", CopySource={"Bucket": bucket, "Key": key}))
        probe(f"replicator delete {bucket}/{key[:38]}", True, lambda: rep.delete_object(Bucket=bucket, Key=key))
        probe(f"replicator delete-objects (multi) {bucket}", True,
              lambda: rep.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": key}]}))
        probe(f"replicator put bucket policy on {bucket}", True,
              lambda: rep.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": []})))
        probe(f"replicator delete bucket lifecycle of {bucket}", True, lambda: rep.delete_bucket_lifecycle(Bucket=bucket))
        probe(f"replicator delete bucket {bucket}", True, lambda: rep.delete_bucket(Bucket=bucket))
    # The same through rclone with the job's environment: deletefile and copyto to src: fail.
    probe_file = os.path.join(root, "tmp", "probe.txt")
    with open(probe_file, "w") as f:
        f.write("probe")
    os.chown(probe_file, NOBODY, NOBODY)
    key = next(k for (b, k) in sorted(expected) if b == "velero-backups")
    # Low-level retries stay at rclone's default: RGW may answer a PutObject 403 and close the connection while
    # the body is still being sent, which rclone 1.71 (aws-sdk-go-v2) reports as a network error and retries.
    # copyto: --s3-no-check-bucket so that rclone goes straight to PutObject (otherwise its CreateBucket, with
    # the source region as LocationConstraint, is refused first with 400 InvalidLocationConstraint).
    for what, args in (("deletefile", ["deletefile", f"src:velero-backups/{key}"]),
                       ("copyto (upload)", ["copyto", probe_file, "src:velero-backups/offsite-probe.txt", "--s3-no-check-bucket"]),
                       ("purge", ["purge", "src:mssql-backups/mssql"])):
        res = subprocess.run(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                              os.path.join(root, "bin", "rclone"), *args, "--retries", "1"],
                             env=env, capture_output=True, text=True, timeout=120)
        err = res.stderr
        code = next((c for c in ("AccessDenied", "InvalidLocationConstraint", "NoSuchKey") if c in err), "")
        tail = (err.strip().splitlines() or [""])[-1]
        check(f"rclone {what} on the source with the job's env fails with AccessDenied", res.returncode != 0 and code == "AccessDenied",
              f"exit {res.returncode} {code}: {tail[-100:]}")
    # Nothing changed in the source: every seeded object is still there with its bytes, and no probe object appeared.
    missing = [f"{b}/{k}" for (b, k), d in expected.items()
               if sha256(audit.get_object(Bucket=b, Key=k)["Body"].read()) != sha256(d)]
    extra = [f"{b}/{k}" for b in ("velero-backups", "cnpg-backups", "mssql-backups")
             for k in listing(audit, b) if (b, k) not in expected]
    check("source unchanged after the probes (every object's bytes, no extra object)", not missing and not extra,
          "; ".join((missing + extra)[:5]))


# --- the run ------------------------------------------------------------------------------------------


def cmd_run(a):
    kube = Kube.from_kubeconfig()
    rgw = Rgw(a.endpoint, a.ceph_conf)
    work = a.work
    os.makedirs(work, exist_ok=True)
    os.chmod(work, 0o755)
    resources = render(a.endpoint, a.endpoint)

    with timed("apply prerequisites + rendered objects (kubectl apply --server-side)"):
        kubectl_apply(prerequisites(), "platform-team")
        objs = manifests(resources)
        ns_first = sorted(objs, key=lambda o: 0 if o["kind"] == "Namespace" else 1)
        kubectl_apply(ns_first, "backup-platform-baremetal")
    log(f"applied {len(objs)} rendered objects: " + ", ".join(sorted({o['kind'] for o in objs})))

    with timed("Rook stand-in: reconcile --once"):
        res = subprocess.run([sys.executable, os.path.join(REPO, "e2e/rook/rook.py"), "reconcile", "--once", "--quiet",
                              "--endpoint", a.endpoint, "--ceph-conf", a.ceph_conf], capture_output=True, text=True, timeout=300)
    print("\n".join(f"    | {line}" for line in res.stderr.strip().splitlines()), flush=True)
    if not check("Rook stand-in reconciled every rendered user and claim", res.returncode == 0, f"exit {res.returncode}"):
        raise Failure("the Rook stand-in failed")
    for b in ("velero-backups", "cnpg-backups", "mssql-backups"):
        info = rgw.bucket_info(b)
        check(f"bucket {b} exists, owned by backup-owner", info is not None and info["owner"] == "backup-owner",
              (info or {}).get("owner", "missing"))

    with timed("destination by hand (user, versioned bucket, Secret)"):
        destination(rgw, kube)
    global auditor_client
    audit = auditor_client = auditor(rgw)
    clients = consumer_clients(rgw, lambda ns, name: rendered_secret(resources, ns, name))
    plan = seed_plan()
    with timed("seed objects as each consumer"):
        expected = seed(clients, plan)
    listed = {(b, k) for b in ("velero-backups", "cnpg-backups", "mssql-backups") for k in listing(audit, b)}
    check(f"source holds exactly the {len(expected)} seeded objects", listed == set(expected),
          f"{len(listed)} listed")

    root = os.path.join(work, "pod")
    res, env = run_job(kube, root, a.rclone, "run 1")
    check("run 1: exit 0", res.returncode == 0, f"exit {res.returncode}")
    check("run 1: the script reports every bucket copied", "offsite: every bucket copied" in res.stdout)
    check("run 1: one `rclone copy` per bucket, each to <bucket>/<prefix>/<bucket>",
          all(f"offsite: copying bucket {b} to {DST_BUCKET}/{DST_PREFIX}/{b}" in res.stdout
              for b in ("cnpg-backups", "mssql-backups", "velero-backups")))
    with timed("run 1: verify every object (sha256 of bytes, ETag)"):
        check_copied(audit, expected, "run 1")
    dst_listed = listing(audit, DST_BUCKET)
    check("destination holds nothing else", set(dst_listed) == {dst_key(b, k) for b, k in expected},
          f"{len(dst_listed)} objects")

    with timed("replicator probes"):
        check_replicator(rgw, env, expected, audit, root, a.rclone)

    # Source changes between runs: Velero expires a backup (deletes), CNPG adds a WAL and retention deletes
    # an old one, an object is overwritten (ransomware-like). The copy must keep what was deleted.
    deleted = [("velero", "velero-backups", "backups/daily-20261130020000/daily-20261130020000.tar.gz"),
               ("velero", "velero-backups", "backups/daily-20261130020000/velero-backup.json"),
               ("cnpg-keycloak", "cnpg-backups", "keycloak-pg/keycloak-pg/wals/0000000100000000/000000010000000000000001.gz")]
    for writer, bucket, key in deleted:
        clients[writer].delete_object(Bucket=bucket, Key=key)
    added = ("cnpg-rciis-prod", "cnpg-backups", "ss-postgres/ss-postgres/wals/0000000100000000/000000010000000000000004.gz")
    added_data = os.urandom(70004)
    put(clients[added[0]], added[1], added[2], added_data, None)
    over = ("velero", "velero-backups", "backups/daily-20261201020000/velero-backup.json")
    # Same size: only the checksum (--checksum) tells the copies apart.
    over_old, over_new = expected[(over[1], over[2])], os.urandom(len(expected[(over[1], over[2])]))
    put(clients[over[0]], over[1], over[2], over_new, None)
    # The same for an object uploaded in parts (ETag not an MD5): reported, not asserted (see e2e/STANDINS.md).
    mp = ("mssql", "mssql-backups", "mssql/rciis-prod/RCIIS/RCIIS_FULL_20261201_030000.bak")
    mp_new = os.urandom(len(expected[(mp[1], mp[2])]))
    put(clients[mp[0]], mp[1], mp[2], mp_new, 5 * MIB)
    log(f"source changed: deleted {len(deleted)}, added 1, overwritten 2 (same sizes; one single-part, one multipart)")
    before = {dst_key(b, k): len(versions(audit, DST_BUCKET, dst_key(b, k))) for b, k in expected}

    res2, _ = run_job(kube, root, a.rclone, "run 2")
    check("run 2: exit 0", res2.returncode == 0, f"exit {res2.returncode}")
    still = [f"{b}/{k}" for _, b, k in deleted if (b, k) in expected]
    gone = []
    for _, b, k in deleted:
        try:
            body = audit.get_object(Bucket=DST_BUCKET, Key=dst_key(b, k))["Body"].read()
            if sha256(body) != sha256(expected[(b, k)]):
                gone.append(f"{b}/{k}: bytes differ")
        except ClientError as e:
            gone.append(f"{b}/{k}: {e.response['Error']['Code']}")
    check(f"run 2: the {len(still)} objects deleted at the source are still at the destination, same bytes (copy, never sync)",
          not gone, "; ".join(gone))
    try:
        body = audit.get_object(Bucket=DST_BUCKET, Key=dst_key(added[1], added[2]))["Body"].read()
        check("run 2: the object added at the source arrived, same bytes", sha256(body) == sha256(added_data))
    except ClientError as e:
        check("run 2: the object added at the source arrived, same bytes", False, e.response["Error"]["Code"])
    vs = versions(audit, DST_BUCKET, dst_key(over[1], over[2]))
    bodies = [sha256(audit.get_object(Bucket=DST_BUCKET, Key=dst_key(over[1], over[2]), VersionId=v["VersionId"])["Body"].read())
              for v in vs]
    latest = [sha256(audit.get_object(Bucket=DST_BUCKET, Key=dst_key(over[1], over[2]))["Body"].read())]
    check("run 2: the object overwritten with as many bytes: latest = the new bytes, the old bytes kept as a noncurrent version",
          latest == [sha256(over_new)] and sha256(over_old) in bodies and len(vs) == 2, f"{len(vs)} versions")
    mp_dst = sha256(audit.get_object(Bucket=DST_BUCKET, Key=dst_key(mp[1], mp[2]))["Body"].read())
    mp_seen = ("copied again: the destination has the new bytes" if mp_dst == sha256(mp_new) else
               "NOT copied again: the destination keeps the old bytes (no MD5 at the source, so --checksum compared sizes only)"
               if mp_dst == sha256(expected[(mp[1], mp[2])]) else "the destination has neither version's bytes")
    print(f"seen  run 2: a multipart source object overwritten with as many bytes was {mp_seen}", flush=True)
    after = {k: len(versions(audit, DST_BUCKET, k)) for k in before}
    recopied = [k for k in before if after[k] != before[k] and k not in (dst_key(over[1], over[2]), dst_key(mp[1], mp[2]))]
    check("run 2: nothing unchanged was uploaded again (one version each)", not recopied, "; ".join(recopied[:5]))
    if a.tls:
        tls_runs(a, kube, root, clients, work)
    return 0 if RESULTS["failed"] == 0 else 1


def tls_runs(a, kube, root, clients, work):
    """The source over https signed by a private CA (baremetal.caBundle): the CA ConfigMap, its volume and
    SSL_CERT_DIR as rendered. A TLS proxy (e2e/pitr's) in front of the plain-HTTP RGW stands in for RGW's TLS."""
    sys.path.insert(0, os.path.join(REPO, "e2e", "pitr"))
    from pitr import TlsProxy

    proxy = TlsProxy(a.endpoint, work)
    try:
        resources = render(proxy.endpoint, a.endpoint, proxy.ca)
        with timed("re-apply with caBundle (CA ConfigMap, CronJob with the CA volume)"):
            kubectl_apply(sorted(manifests(resources), key=lambda o: 0 if o["kind"] == "Namespace" else 1), "backup-platform-baremetal")
        _, c = container_of(kube)
        envs = {e["name"]: e.get("value") for e in c.get("env") or []}
        check("tls: the CronJob reads the source at the https endpoint, with SSL_CERT_DIR and the CA volume",
              envs.get("RCLONE_CONFIG_SRC_ENDPOINT") == proxy.endpoint and envs.get("SSL_CERT_DIR") == "/etc/ssl/certs:/etc/backup-ca"
              and any(m["mountPath"] == "/etc/backup-ca" for m in c.get("volumeMounts") or []), json.dumps(envs.get("SSL_CERT_DIR")))
        key = "grafana-postgres/grafana-postgres/wals/0000000100000000/000000010000000000000005.gz"
        data = os.urandom(70005)
        put(clients["cnpg-monitoring"], "cnpg-backups", key, data, None)
        res, _ = run_job(kube, os.path.join(work, "pod-no-ca"), a.rclone, "tls without the CA", drop_env=("SSL_CERT_DIR",),
                         extra_env={"RCLONE_RETRIES": "1", "RCLONE_LOW_LEVEL_RETRIES": "1"})
        check("tls: without SSL_CERT_DIR the same job fails (the certificate is not trusted)",
              res.returncode != 0 and "x509" in res.stdout + res.stderr, f"exit {res.returncode}")
        res, _ = run_job(kube, root, a.rclone, "tls run 3")
        check("tls run 3: exit 0", res.returncode == 0, f"exit {res.returncode}")
        audit = auditor_client
        try:
            body = audit.get_object(Bucket=DST_BUCKET, Key=dst_key("cnpg-backups", key))["Body"].read()
            check("tls run 3: the object added at the source arrived over https, same bytes", sha256(body) == sha256(data))
        except ClientError as e:
            check("tls run 3: the object added at the source arrived over https, same bytes", False, e.response["Error"]["Code"])
    finally:
        proxy.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--endpoint", required=True)
    r.add_argument("--ceph-conf", required=True)
    r.add_argument("--rclone", required=True)
    r.add_argument("--work", default=f"/tmp/offsite-e2e-{os.getpid()}")
    r.add_argument("--no-tls", dest="tls", action="store_false", help="skip the https source with a private CA")
    a = ap.parse_args()
    rc = 1
    try:
        rc = cmd_run(a)
    except Failure as e:
        check(f"run aborted: {e}", False)
    finally:
        for label, secs in TIMINGS:
            print(f"time  {secs:6.2f}s  {label}")
        print(f"{RESULTS['passed']} passed, {RESULTS['failed']} failed")
    return rc if RESULTS["failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
