"""End-to-end test of the Rook stand-in against the local API server and the real RGW.

Applies by hand, in a namespace of its own: the operator ConfigMap (allow-listing bucketOwner,
bucketPolicy, bucketLifecycle), a CephObjectStore, a writer CephObjectStoreUser keyed from a Secret,
a reader CephObjectStoreUser with generated keys, a Retain StorageClass and an ObjectBucketClaim
owned by the writer, with a policy granting the reader list+get on `shared/` and a lifecycle. Runs
`rook.py reconcile --once` and checks, with S3 requests signed by each user, what the policy allows
and refuses; the lifecycle read back; the Secrets/ConfigMap; idempotency; a changed policy and
lifecycle re-applied; the allow-list refusing a field; deletion of the Retain claim keeping the
bucket. Every pass is limited to that namespace (`--namespace`), so objects elsewhere in a shared
cluster are left to whoever reconciles them. Prints one line per check, the phase timings, and
`N passed, N failed` last.

  eval "$(e2e/cluster.sh env)"; eval "$(e2e/objectstore.sh env)"
  <cache>/venv/bin/python e2e/rook/test_rook.py [--keep]
"""

import argparse
import base64
import json
import os
import re
import secrets
import string
import subprocess
import sys
import time

from botocore.exceptions import ClientError

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kube import Kube, api_path  # noqa: E402
from rgw import Rgw  # noqa: E402
from claims import _same_rules  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
results = {"passed": 0, "failed": 0}
timings = []


def check(label, ok, detail=""):
    results["passed" if ok else "failed"] += 1
    print(f"{'ok  ' if ok else 'FAIL'}  {label}{'  -- ' + detail if detail else ''}", flush=True)


def timed(label, fn):
    t0 = time.monotonic()
    out = fn()
    timings.append((label, time.monotonic() - t0))
    return out


def s3_probe(label, expect_ok, fn):
    try:
        fn()
        seen, detail = True, "allowed"
    except ClientError as e:
        status = e.response["ResponseMetadata"]["HTTPStatusCode"]
        detail = f"{status} {e.response['Error']['Code']}"
        # A refusal is a 403; anything else (404 NoSuchBucket, ...) is neither allowed nor refused.
        seen = False if status == 403 else None
    check(f"{label:<58} expect {'allowed' if expect_ok else 'refused'}", seen == expect_ok, detail)


def reconcile(ns, *extra):
    """One `reconcile --once`; returns (exit code, number of changes, stderr)."""
    res = subprocess.run(
        [sys.executable, os.path.join(HERE, "rook.py"), "reconcile", "--once", "--operator-namespace", ns, "--namespace", ns, *extra],
        capture_output=True, text=True, timeout=300,
    )
    m = re.search(r"pass done in [0-9.]+s: (\d+) change\(s\)", res.stderr)
    return res.returncode, int(m.group(1)) if m else -1, res.stderr


def token(n, alphabet=string.ascii_uppercase + string.digits):
    return "".join(secrets.choice(alphabet) for _ in range(n))


def lifecycle(days):
    """A lifecycle like the program's rookLifecycle(): rules sorted by ID, each with a Filter prefix."""
    return json.dumps({"Rules": [
        {"ID": "abort-multipart", "Status": "Enabled", "Filter": {"Prefix": ""},
         "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7}},
        {"ID": "expire-shared", "Status": "Enabled", "Filter": {"Prefix": "shared/"}, "Expiration": {"Days": days}},
    ]})


def policy(bucket, reader, actions):
    """A grant like the program's rookBucketPolicy(): list with an s3:prefix condition, objects under the prefix."""
    principal = {"AWS": [f"arn:aws:iam:::user/{reader}"]}
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": f"{reader}-list", "Effect": "Allow", "Principal": principal,
         "Action": ["s3:GetBucketLocation", "s3:ListBucket"], "Resource": [f"arn:aws:s3:::{bucket}"],
         "Condition": {"StringLike": {"s3:prefix": ["shared", "shared/*"]}}},
        {"Sid": f"{reader}-objects", "Effect": "Allow", "Principal": principal, "Action": actions,
         "Resource": [f"arn:aws:s3:::{bucket}/shared/*"]},
    ]})


def secret_data(kube, ns, name):
    s = kube.get(f"/api/v1/namespaces/{ns}/secrets/{name}")
    return None if s is None else {k: base64.b64decode(v).decode() for k, v in (s.get("data") or {}).items()}


def wait_for(fn, timeout=20.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if fn():
            return True
        time.sleep(0.2)
    return fn()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keep", action="store_true", help="leave the namespace, users and bucket behind")
    a = ap.parse_args()
    kube = Kube.from_kubeconfig()
    rgw = Rgw(os.environ["BACKUP_PLATFORM_S3_ENDPOINT"], os.environ["BACKUP_PLATFORM_CEPH_CONF"])
    run = secrets.token_hex(3)
    ns = f"rook-standin-{run}"
    writer, reader, bucket = f"e2e-{run}-writer", f"e2e-{run}-reader", f"e2e-{run}-backups"
    store, sc_name = "e2e-store", f"rook-standin-{run}-buckets"
    allowed = "maxObjects,maxSize,bucketOwner,bucketPolicy,bucketLifecycle"
    users_path = api_path("ceph.rook.io", "v1", "cephobjectstoreusers", ns)
    claims_path = api_path("objectbucket.io", "v1alpha1", "objectbucketclaims", ns)
    print(f"namespace {ns}, bucket {bucket}, endpoint {rgw.endpoint}", flush=True)

    def apply_all():
        kube.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        kube.create(f"/api/v1/namespaces/{ns}/configmaps", {"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": "rook-ceph-operator-config"},
                    "data": {"ROOK_OBC_ALLOW_ADDITIONAL_CONFIG_FIELDS": allowed}})
        kube.create(api_path("ceph.rook.io", "v1", "cephobjectstores", ns), {
            "apiVersion": "ceph.rook.io/v1", "kind": "CephObjectStore", "metadata": {"name": store},
            "spec": {"gateway": {"port": 80, "instances": 1}}})
        kube.create(f"/api/v1/namespaces/{ns}/secrets", {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                    "metadata": {"name": f"{writer}-s3-keys"},
                    "stringData": {"access-key": writer_key[0], "secret-key": writer_key[1]}})
        kube.create(users_path, {"apiVersion": "ceph.rook.io/v1", "kind": "CephObjectStoreUser",
                    "metadata": {"name": writer}, "spec": {"store": store, "displayName": "Backup writer: e2e",
                    "keys": [{"accessKeyRef": {"name": f"{writer}-s3-keys", "key": "access-key"},
                              "secretKeyRef": {"name": f"{writer}-s3-keys", "key": "secret-key"}}]}})
        kube.create(users_path, {"apiVersion": "ceph.rook.io/v1", "kind": "CephObjectStoreUser",
                    "metadata": {"name": reader}, "spec": {"store": store, "displayName": "Reader: e2e"}})
        kube.create("/apis/storage.k8s.io/v1/storageclasses", {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
                    "metadata": {"name": sc_name}, "provisioner": f"{ns}.ceph.rook.io/bucket", "reclaimPolicy": "Retain",
                    "parameters": {"objectStoreName": store, "objectStoreNamespace": ns, "region": "us-east-1"}})
        kube.create(claims_path, {"apiVersion": "objectbucket.io/v1alpha1", "kind": "ObjectBucketClaim",
                    "metadata": {"name": "backups"}, "spec": {"bucketName": bucket, "storageClassName": sc_name,
                    "additionalConfig": {"bucketOwner": writer, "bucketLifecycle": lifecycle(30),
                                         "bucketPolicy": policy(bucket, reader, ["s3:GetObject"])}}})

    writer_key = (token(20), token(40, string.ascii_letters + string.digits))
    try:
        timed("apply objects by hand (namespace, ConfigMap, store, Secret, 2 users, StorageClass, claim)", apply_all)
        rc, changes, err = timed("reconcile --once (first pass)", lambda: reconcile(ns))
        check("first pass exits 0", rc == 0, err.strip().splitlines()[-1] if err.strip() else "")
        if rc != 0:
            print(err, file=sys.stderr)

        # Kubernetes side: statuses, the Secrets and the ConfigMap.
        for u in (writer, reader):
            obj = kube.get(f"{users_path}/{u}")
            check(f"CephObjectStoreUser {u} Ready", (obj.get("status") or {}).get("phase") == "Ready", str(obj.get("status")))
        claim = kube.get(f"{claims_path}/backups")
        check("ObjectBucketClaim Bound", (claim.get("status") or {}).get("phase") == "Bound", str(claim.get("status")))
        ws = secret_data(kube, ns, f"rook-ceph-object-user-{store}-{writer}")
        check("writer's rook-ceph-object-user Secret holds the keys from spec.keys",
              ws is not None and (ws["AccessKey"], ws["SecretKey"]) == writer_key)
        rs = secret_data(kube, ns, f"rook-ceph-object-user-{store}-{reader}")
        ru = rgw.get_user(reader)
        check("reader's rook-ceph-object-user Secret holds its generated (only) key", rs is not None and
              [(k["access_key"], k["secret_key"]) for k in ru["keys"]] == [(rs["AccessKey"], rs["SecretKey"])])
        cs = secret_data(kube, ns, "backups")
        check("claim Secret: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY are the bucketOwner's keys",
              cs is not None and (cs.get("AWS_ACCESS_KEY_ID"), cs.get("AWS_SECRET_ACCESS_KEY")) == writer_key)
        cm = kube.get(f"/api/v1/namespaces/{ns}/configmaps/backups")
        data = (cm or {}).get("data") or {}
        host = rgw.endpoint.split("://")[1]
        check("claim ConfigMap: BUCKET_NAME, BUCKET_HOST, BUCKET_PORT, BUCKET_REGION",
              data.get("BUCKET_NAME") == bucket and f"{data.get('BUCKET_HOST')}:{data.get('BUCKET_PORT')}" == host
              and data.get("BUCKET_REGION") == "", json.dumps(data))

        # RGW side: user, owner, caps.
        info = rgw.bucket_info(bucket)
        check("bucket exists and is owned by the bucketOwner", info is not None and info["owner"] == writer,
              (info or {}).get("owner", "missing"))
        wu = rgw.get_user(writer)
        check("writer: display name and exactly the Secret's key", wu["display_name"] == "Backup writer: e2e" and
              [(k["access_key"], k["secret_key"]) for k in wu["keys"]] == [writer_key])
        check("writer: no caps, max_buckets 1000 (Rook's default)", wu["caps"] == [] and wu["max_buckets"] == 1000)

        # S3, signed as each user: what the policy promises and nothing else.
        w = rgw.s3(*writer_key)
        r = rgw.s3(rs["AccessKey"], rs["SecretKey"])
        s3_probe("writer put shared/a", True, lambda: w.put_object(Bucket=bucket, Key="shared/a", Body=b"a"))
        s3_probe("writer put private/b", True, lambda: w.put_object(Bucket=bucket, Key="private/b", Body=b"b"))
        s3_probe("writer list bucket", True, lambda: w.list_objects_v2(Bucket=bucket))
        s3_probe("writer get private/b", True, lambda: w.get_object(Bucket=bucket, Key="private/b"))
        s3_probe("reader list prefix shared/", True, lambda: r.list_objects_v2(Bucket=bucket, Prefix="shared/"))
        s3_probe("reader list without prefix", False, lambda: r.list_objects_v2(Bucket=bucket))
        s3_probe("reader list prefix private/", False, lambda: r.list_objects_v2(Bucket=bucket, Prefix="private/"))
        s3_probe("reader get shared/a", True, lambda: r.get_object(Bucket=bucket, Key="shared/a"))
        s3_probe("reader get private/b", False, lambda: r.get_object(Bucket=bucket, Key="private/b"))
        s3_probe("reader put shared/c", False, lambda: r.put_object(Bucket=bucket, Key="shared/c", Body=b"c"))
        s3_probe("reader delete shared/a", False, lambda: r.delete_object(Bucket=bucket, Key="shared/a"))
        s3_probe("reader get bucket policy", False, lambda: r.get_bucket_policy(Bucket=bucket))
        live_lc = w.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
        # RGW 16 hands `Filter: {Prefix: ""}` back as `Prefix: ""`: the same rule in its legacy form.
        check("lifecycle read back (as the writer) equals the claim's",
              _same_rules(live_lc, json.loads(lifecycle(30))["Rules"]), json.dumps(live_lc))
        check("policy read back equals the claim's text",
              w.get_bucket_policy(Bucket=bucket)["Policy"] == policy(bucket, reader, ["s3:GetObject"]))

        # Idempotency.
        rc, changes, err = timed("reconcile --once (second pass, nothing changed)", lambda: reconcile(ns))
        check("second pass exits 0 and changes nothing", rc == 0 and changes == 0, f"{changes} change(s)")

        # A changed policy and lifecycle are re-applied.
        kube.merge_patch(f"{claims_path}/backups", {"spec": {"additionalConfig": {
            "bucketLifecycle": lifecycle(31), "bucketPolicy": policy(bucket, reader, ["s3:GetObject", "s3:PutObject"])}}})
        rc, changes, err = timed("reconcile --once (policy and lifecycle changed)", lambda: reconcile(ns))
        check("changed pass exits 0 with 2 changes (policy, lifecycle)", rc == 0 and changes == 2, f"{changes} change(s)")
        check("changed lifecycle read back", _same_rules(w.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"],
                                                         json.loads(lifecycle(31))["Rules"]))
        s3_probe("reader put shared/c after the policy grants PutObject", True,
                 lambda: r.put_object(Bucket=bucket, Key="shared/c", Body=b"c"))
        s3_probe("reader put private/c still", False, lambda: r.put_object(Bucket=bucket, Key="private/c", Body=b"c"))

        # The allow-list: a claim using a field the operator does not allow is refused, as Rook refuses it.
        kube.merge_patch(f"/api/v1/namespaces/{ns}/configmaps/rook-ceph-operator-config",
                         {"data": {"ROOK_OBC_ALLOW_ADDITIONAL_CONFIG_FIELDS": "maxObjects,maxSize"}})
        kube.create(claims_path, {"apiVersion": "objectbucket.io/v1alpha1", "kind": "ObjectBucketClaim",
                    "metadata": {"name": "refused"}, "spec": {"bucketName": f"{bucket}-refused", "storageClassName": sc_name,
                    "additionalConfig": {"bucketOwner": writer}}})
        rc, changes, err = timed("reconcile --once (a field not allow-listed)", lambda: reconcile(ns))
        check("pass exits 1 naming the refused field", rc == 1 and 'OBC config "bucketOwner" is not allowed' in err,
              next((l for l in err.splitlines() if "ERROR" in l), ""))
        refused = kube.get(f"{claims_path}/refused")
        check("refused claim stays Pending, no bucket", (refused.get("status") or {}).get("phase") == "Pending"
              and rgw.bucket_info(f"{bucket}-refused") is None, str(refused.get("status")))
        kube.merge_patch(f"/api/v1/namespaces/{ns}/configmaps/rook-ceph-operator-config",
                         {"data": {"ROOK_OBC_ALLOW_ADDITIONAL_CONFIG_FIELDS": allowed}})
        kube.delete(f"{claims_path}/refused")
        kube.merge_patch(f"{claims_path}/refused", {"metadata": {"finalizers": None}}) if kube.get(f"{claims_path}/refused") else None

        # watch, as the harness will run it: a child process, a pass a second, stopped by its pid. A claim
        # without bucketOwner gets a generated user; reclaimPolicy Delete removes bucket and user with the claim.
        watch_log = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"rook-standin-{run}-watch.log")
        with open(watch_log, "w") as log:
            watcher = subprocess.Popen([sys.executable, os.path.join(HERE, "rook.py"), "watch", "--operator-namespace", ns,
                                        "--namespace", ns, "--quiet"], stderr=log, stdout=log)
        try:
            kube.create("/apis/storage.k8s.io/v1/storageclasses", {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
                        "metadata": {"name": f"{sc_name}-delete"}, "provisioner": f"{ns}.ceph.rook.io/bucket",
                        "reclaimPolicy": "Delete", "parameters": {"objectStoreName": store, "objectStoreNamespace": ns}})
            kube.create(claims_path, {"apiVersion": "objectbucket.io/v1alpha1", "kind": "ObjectBucketClaim",
                        "metadata": {"name": "scratch"}, "spec": {"generateBucketName": f"e2e-{run}-scratch",
                        "storageClassName": f"{sc_name}-delete", "additionalConfig": {"maxObjects": "10"}}})
            phase = lambda: ((kube.get(f"{claims_path}/scratch") or {}).get("status") or {}).get("phase")  # noqa: E731
            bound = timed("watch: claim created -> Bound", lambda: wait_for(lambda: phase() == "Bound", 30))
            check("watch: a claim with generateBucketName and no bucketOwner becomes Bound", bound, str(phase()))
            scratch = kube.get(f"{claims_path}/scratch")
            ob = kube.get(api_path("objectbucket.io", "v1alpha1", "objectbuckets", None, scratch["spec"]["objectBucketName"]))
            gen_user, gen_bucket = ob["spec"]["additionalState"]["cephUser"], scratch["spec"]["bucketName"]
            gu = rgw.get_user(gen_user)
            check("generated user obc-<ns>-<name>-<uid> owns the bucket; max_buckets 1; user quota maxObjects 10",
                  gen_user == f"obc-{ns}-scratch-{scratch['metadata']['uid']}" and gu["max_buckets"] == 1
                  and rgw.bucket_info(gen_bucket)["owner"] == gen_user and gu["user_quota"]["max_objects"] == 10
                  and gu["user_quota"]["enabled"], f"{gen_user} {gen_bucket}")
            sc_keys = secret_data(kube, ns, "scratch")
            g = rgw.s3(sc_keys["AWS_ACCESS_KEY_ID"], sc_keys["AWS_SECRET_ACCESS_KEY"])
            s3_probe("claim Secret's keys put into the generated bucket", True,
                     lambda: g.put_object(Bucket=gen_bucket, Key="x", Body=b"x"))
            s3_probe("generated user reads the writer's bucket", False, lambda: g.list_objects_v2(Bucket=bucket))
            kube.delete(f"{claims_path}/scratch")
            gone = timed("watch: Delete claim deleted -> bucket and user gone", lambda: wait_for(
                lambda: kube.get(f"{claims_path}/scratch") is None and rgw.bucket_info(gen_bucket) is None
                and rgw.get_user(gen_user) is None, 30))
            check("watch: deleting a reclaimPolicy Delete claim removes its bucket, objects and generated user", gone)
        finally:
            t0 = time.monotonic()
            watcher.terminate()  # SIGTERM to the pid, as the harness will
            try:
                rc = watcher.wait(timeout=10)
            except subprocess.TimeoutExpired:
                watcher.kill()
                rc = watcher.wait()
            timings.append(("watch: SIGTERM -> exited", time.monotonic() - t0))
            kube.delete(f"/apis/storage.k8s.io/v1/storageclasses/{sc_name}-delete")
        check("watch exits 0 on SIGTERM", rc == 0, f"exit {rc}")
        with open(watch_log) as log:
            errors = [line.strip() for line in log if "ERROR" in line]
        os.unlink(watch_log)
        check("watch reported no error", not errors, "; ".join(errors[:3]))

        # Deleting a Retain claim keeps the bucket and its objects.
        kube.delete(f"{claims_path}/backups")
        rc, changes, err = timed("reconcile --once (Retain claim deleted)", lambda: reconcile(ns))
        check("deletion pass exits 0", rc == 0, err.strip().splitlines()[-1] if err.strip() else "")
        check("claim is gone", wait_for(lambda: kube.get(f"{claims_path}/backups") is None))
        info = rgw.bucket_info(bucket)
        check("bucket kept (reclaimPolicy Retain), objects kept", info is not None and
              (info.get("usage", {}).get("rgw.main", {}).get("num_objects") == 3), json.dumps((info or {}).get("usage")))
        check("claim Secret and ConfigMap garbage-collected", wait_for(
            lambda: kube.get(f"/api/v1/namespaces/{ns}/secrets/backups") is None
            and kube.get(f"/api/v1/namespaces/{ns}/configmaps/backups") is None))
        # What Rook's Revoke leaves behind for an explicit owner (reported, not asserted).
        try:
            w.get_object(Bucket=bucket, Key="private/b")
            print("seen  after the Retain claim is deleted, the owner can still read its objects")
        except ClientError as e:
            print(f"seen  after the Retain claim is deleted, the owner is refused: {e.response['Error']['Code']} "
                  "(Rook's Revoke denies the claim's user on the bucket)")
        try:
            r.list_objects_v2(Bucket=bucket)
            print("seen  after the Retain claim is deleted, the reader lists the whole bucket "
                  "(Revoke rewrote the policy without its s3:prefix Condition)")
        except ClientError as e:
            print(f"seen  after the Retain claim is deleted, the reader listing without a prefix: {e.response['Error']['Code']}")
    finally:
        if not a.keep:
            cleanup(kube, rgw, ns, sc_name, bucket, users_path, claims_path)
    for label, secs in timings:
        print(f"time  {secs:6.2f}s  {label}")
    print(f"{results['passed']} passed, {results['failed']} failed")
    return 1 if results["failed"] else 0


def cleanup(kube, rgw, ns, sc_name, bucket, users_path, claims_path):
    """Bucket first (a user that owns one cannot be removed), then the claims, the users (through the stand-in,
    which removes the RGW users and the finalizers), the StorageClass and the namespace."""
    t0 = time.monotonic()
    rgw.remove_bucket(bucket)
    for c in kube.list(claims_path):
        kube.delete(f"{claims_path}/{c['metadata']['name']}")
    for u in kube.list(users_path):
        kube.delete(f"{users_path}/{u['metadata']['name']}")
    rc, _, err = reconcile(ns)
    if rc != 0:
        print(err, file=sys.stderr)
    for path in [f"{claims_path}/{c['metadata']['name']}" for c in kube.list(claims_path)] + \
                [f"{users_path}/{u['metadata']['name']}" for u in kube.list(users_path)]:
        kube.merge_patch(path, {"metadata": {"finalizers": None}})  # only if the pass above failed
    kube.delete(f"/apis/storage.k8s.io/v1/storageclasses/{sc_name}")
    kube.delete(f"/api/v1/namespaces/{ns}")
    timings.append(("cleanup (bucket, claims, users via the stand-in, namespace)", time.monotonic() - t0))


if __name__ == "__main__":
    sys.exit(main())
