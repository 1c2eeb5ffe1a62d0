#!/usr/bin/env python3
"""The object-store side of the off-site copy run as a real pod (e2e/test/jobs-pod.e2e.ts): what offsite.py does
around its host run of rclone, for a Job the kubelet runs from the program's CronJob. The test deploys the program
(`pulumi up`) and runs the Job; this script prepares the buckets before it and checks them after it.

  prepare: the destination by hand (its own RGW user, a versioned bucket, the Secret the stack config names) and
           backup-shaped objects seeded as each consumer, with the keys of the consumer Secrets in the API server;
           writes MANIFEST (every source object's sha256)
  verify:  every seeded object is at <destination bucket>/<prefix>/<bucket>/<key> with the same bytes, the
           destination holds nothing else, and the source is unchanged (read as a --system auditor user)
  cleanup: the shared store as it was for the suites after this one (Velero's reads velero-backups): the seeded
           objects deleted from the source buckets, the destination bucket, its user and the auditor removed

Usage: pod.py prepare|verify|cleanup --endpoint URL --ceph-conf FILE --manifest FILE   (KUBECONFIG set, kubectl on PATH)
Prints one ok/FAIL line per check and "<n> passed, <m> failed"; exit 0 only when every check passed.
"""
import argparse
import base64
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import offsite  # noqa: E402  (its Kube and Rgw, its seed plan, its destination and auditor)
from offsite import DST_BUCKET, check, dst_key, listing, sha256  # noqa: E402
from rgw import RgwError  # noqa: E402  (on the path offsite.py set)

SOURCE_BUCKETS = ("velero-backups", "cnpg-backups", "mssql-backups")


def secret(kube, ns, name):
    s = kube.get(f"/api/v1/namespaces/{ns}/secrets/{name}")
    if s is None:
        raise offsite.Failure(f"Secret {ns}/{name} not found in the API server")
    return {k: base64.b64decode(v).decode() for k, v in (s.get("data") or {}).items()}


def cmd_prepare(a, kube, rgw):
    offsite.destination(rgw, kube)
    expected = offsite.seed(offsite.consumer_clients(rgw, lambda ns, name: secret(kube, ns, name)), offsite.seed_plan())
    audit = offsite.auditor(rgw)
    listed = {(b, k) for b in SOURCE_BUCKETS for k in listing(audit, b)}
    check(f"source holds exactly the {len(expected)} seeded objects", listed == set(expected), f"{len(listed)} listed")
    with open(a.manifest, "w") as f:
        json.dump({f"{b}/{k}": sha256(d) for (b, k), d in expected.items()}, f)


def auditor(rgw):
    res = rgw._radosgw_admin("user", "info", f"--uid={offsite.AUDITOR}")
    if res.returncode != 0:
        raise offsite.Failure(f"no auditor user (run prepare first): {res.stderr.strip()}")
    key = json.loads(res.stdout)["keys"][0]
    return rgw.s3(key["access_key"], key["secret_key"])


def manifest(a):
    with open(a.manifest) as f:
        return {tuple(k.split("/", 1)): v for k, v in json.load(f).items()}


def cmd_verify(a, kube, rgw):
    audit = auditor(rgw)
    expected = manifest(a)
    bad = []
    for (bucket, key), digest in sorted(expected.items()):
        try:
            body = audit.get_object(Bucket=DST_BUCKET, Key=dst_key(bucket, key))["Body"].read()
        except offsite.ClientError as e:
            bad.append(f"{bucket}/{key}: {e.response['Error']['Code']}")
            continue
        if sha256(body) != digest:
            bad.append(f"{bucket}/{key}: sha256 {sha256(body)[:12]} != {digest[:12]}")
    check(f"all {len(expected)} objects at {DST_BUCKET}/{offsite.DST_PREFIX}/<bucket>/<key>, sha256 of the bytes equal",
          not bad, "; ".join(bad[:5]))
    dst = set(listing(audit, DST_BUCKET))
    check("the destination holds nothing else", dst == {dst_key(b, k) for b, k in expected}, f"{len(dst)} objects")
    src = {(b, k): sha256(audit.get_object(Bucket=b, Key=k)["Body"].read()) for b in SOURCE_BUCKETS for k in listing(audit, b)}
    check("the source is unchanged (same objects, same bytes)", src == expected, f"{len(src)} objects")


def cmd_cleanup(a, kube, rgw):
    audit = auditor(rgw)
    seeded = manifest(a) if os.path.exists(a.manifest) else {}
    for bucket, key in seeded:
        audit.delete_object(Bucket=bucket, Key=key)
    left = [f"{b}/{k}" for b in SOURCE_BUCKETS for k in listing(audit, b) if (b, k) in seeded]
    rgw.remove_bucket(DST_BUCKET)
    for uid in (offsite.DST_USER, offsite.AUDITOR):
        try:
            rgw.remove_user(uid)
        except RgwError as e:
            check(f"remove RGW user {uid}", False, str(e))
    check("the seeded objects are gone from the source buckets; the destination bucket and its users removed",
          not left and rgw.bucket_info(DST_BUCKET) is None, "; ".join(left[:5]))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("cmd", choices=("prepare", "verify", "cleanup"))
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--ceph-conf", required=True)
    ap.add_argument("--manifest", required=True)
    a = ap.parse_args()
    try:
        kube, rgw = offsite.Kube.from_kubeconfig(), offsite.Rgw(a.endpoint, a.ceph_conf)
        {"prepare": cmd_prepare, "verify": cmd_verify, "cleanup": cmd_cleanup}[a.cmd](a, kube, rgw)
    except offsite.Failure as e:
        check(f"{a.cmd} aborted: {e}", False)
    print(f"{offsite.RESULTS['passed']} passed, {offsite.RESULTS['failed']} failed", flush=True)
    return 0 if offsite.RESULTS["failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
