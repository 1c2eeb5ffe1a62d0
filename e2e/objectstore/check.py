"""Smoke check of the object store started by e2e/objectstore.sh.

Creates four throwaway RGW users with radosgw-admin (owner, reader, writer, stranger), then,
with S3 requests signed by their keys: bucket create; put/get/list/delete; a bucket policy that
lets the reader list and read one prefix and the writer write another; a Deny for the owner; a
lifecycle configuration. Prints one line per probe (expected vs. seen) and exits 1 when any
probe differs; "seen" lines report RGW semantics without asserting them. Removes its users and
buckets at the end.

  python3 check.py --endpoint http://127.0.0.1:PORT --conf STATE/ceph.conf
"""

import argparse
import json
import secrets
import subprocess
import sys

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

failures = []


def admin(conf, *args):
    out = subprocess.run(
        ["radosgw-admin", "--conf", conf, *args], check=True, capture_output=True, text=True
    ).stdout
    return json.loads(out) if out.strip().startswith(("{", "[")) else out


def client(endpoint, key, secret):
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        region_name="us-east-1",
        # Path style: no DNS names for virtual-host buckets on 127.0.0.1. No retries: a refusal
        # must show as one.
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )


def probe(label, expect_ok, fn):
    """Runs fn; expect_ok True means it must succeed, False that it must be refused (403)."""
    try:
        result = fn()
        seen, detail = True, "ok"
    except ClientError as e:
        code = e.response["Error"]["Code"]
        status = e.response["ResponseMetadata"]["HTTPStatusCode"]
        seen, detail, result = False, f"{status} {code}", None
        if expect_ok is False and status != 403:
            detail += " (refused, but not with 403)"
            failures.append(label)
            print(f"FAIL  {label:<62} expected 403, got {detail}")
            return None
    good = seen == expect_ok
    if not good:
        failures.append(label)
    want = "allowed" if expect_ok else "refused"
    print(f"{'ok  ' if good else 'FAIL'}  {label:<62} {want:<8} -> {detail}")
    return result


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--conf", required=True)
    ap.add_argument("--keep", action="store_true", help="leave users and buckets behind")
    a = ap.parse_args()

    run = secrets.token_hex(3)
    users = {}
    for role in ("owner", "reader", "writer", "stranger"):
        uid = f"e2e-check-{role}-{run}"
        key, secret = f"E2E{role.upper()}{run}".upper()[:20], secrets.token_hex(20)
        admin(a.conf, "user", "create", f"--uid={uid}", f"--display-name={uid}",
              f"--access-key={key}", f"--secret-key={secret}")
        users[role] = (uid, client(a.endpoint, key, secret))
    owner_uid, owner = users["owner"]
    reader_uid, reader = users["reader"]
    writer_uid, writer = users["writer"]
    _, stranger = users["stranger"]
    admin(a.conf, "caps", "add", f"--uid={owner_uid}", "--caps=buckets=read")
    caps = admin(a.conf, "user", "info", f"--uid={owner_uid}")["caps"]
    print(f"info  owner caps after 'caps add': {caps}")

    bucket = f"e2e-check-{run}"
    probe("owner: CreateBucket", True, lambda: owner.create_bucket(Bucket=bucket))
    for key in ("shared/a.txt", "private/b.txt", "locked/c.txt", "scratch/d.txt"):
        probe(f"owner: PutObject {key}", True,
              lambda k=key: owner.put_object(Bucket=bucket, Key=k, Body=f"body of {k}".encode()))
    body = probe("owner: GetObject shared/a.txt", True,
                 lambda: owner.get_object(Bucket=bucket, Key="shared/a.txt")["Body"].read())
    if body != b"body of shared/a.txt":
        failures.append("owner get body")
        print(f"FAIL  body mismatch: {body!r}")
    listed = probe("owner: ListObjectsV2", True, lambda: owner.list_objects_v2(Bucket=bucket))
    keys = sorted(o["Key"] for o in (listed or {}).get("Contents", []))
    print(f"info  owner lists {keys}")
    probe("owner: DeleteObject scratch/d.txt", True,
          lambda: owner.delete_object(Bucket=bucket, Key="scratch/d.txt"))
    stats = admin(a.conf, "bucket", "stats", f"--bucket={bucket}")
    print(f"info  radosgw-admin bucket stats: owner={stats['owner']} "
          f"objects={stats['usage'].get('rgw.main', {}).get('num_objects')}")

    # Before any policy: the other users get nothing.
    probe("reader, no policy yet: GetObject shared/a.txt", False,
          lambda: reader.get_object(Bucket=bucket, Key="shared/a.txt"))
    probe("reader, no policy yet: ListObjectsV2", False, lambda: reader.list_objects_v2(Bucket=bucket))

    arn = f"arn:aws:s3:::{bucket}"
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "ReaderListsShared", "Effect": "Allow",
             "Principal": {"AWS": [f"arn:aws:iam:::user/{reader_uid}"]},
             "Action": ["s3:ListBucket"], "Resource": [arn],
             "Condition": {"StringLike": {"s3:prefix": ["shared/*"]}}},
            {"Sid": "ReaderReadsShared", "Effect": "Allow",
             "Principal": {"AWS": [f"arn:aws:iam:::user/{reader_uid}"]},
             "Action": ["s3:GetObject"], "Resource": [f"{arn}/shared/*"]},
            {"Sid": "WriterWritesIncoming", "Effect": "Allow",
             "Principal": {"AWS": [f"arn:aws:iam:::user/{writer_uid}"]},
             "Action": ["s3:PutObject", "s3:GetObject"], "Resource": [f"{arn}/incoming/*"]},
            {"Sid": "OwnerMayNotTouchLocked", "Effect": "Deny",
             "Principal": {"AWS": [f"arn:aws:iam:::user/{owner_uid}"]},
             "Action": ["s3:DeleteObject", "s3:PutObject"], "Resource": [f"{arn}/locked/*"]},
        ],
    }
    probe("owner: PutBucketPolicy", True,
          lambda: owner.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy)))
    got = probe("owner: GetBucketPolicy", True, lambda: owner.get_bucket_policy(Bucket=bucket))
    if got and json.loads(got["Policy"]) != policy:
        print(f"info  policy came back changed: {got['Policy']}")

    probe("reader: GetObject shared/a.txt", True,
          lambda: reader.get_object(Bucket=bucket, Key="shared/a.txt")["Body"].read())
    probe("reader: GetObject private/b.txt", False,
          lambda: reader.get_object(Bucket=bucket, Key="private/b.txt"))
    probe("reader: ListObjectsV2 Prefix=shared/", True,
          lambda: reader.list_objects_v2(Bucket=bucket, Prefix="shared/"))
    probe("reader: ListObjectsV2 (no prefix)", False, lambda: reader.list_objects_v2(Bucket=bucket))
    probe("reader: ListObjectsV2 Prefix=private/", False,
          lambda: reader.list_objects_v2(Bucket=bucket, Prefix="private/"))
    probe("reader: PutObject shared/x.txt", False,
          lambda: reader.put_object(Bucket=bucket, Key="shared/x.txt", Body=b"x"))
    probe("reader: DeleteObject shared/a.txt", False,
          lambda: reader.delete_object(Bucket=bucket, Key="shared/a.txt"))
    probe("reader: GetBucketPolicy", False, lambda: reader.get_bucket_policy(Bucket=bucket))
    probe("writer: PutObject incoming/w.txt", True,
          lambda: writer.put_object(Bucket=bucket, Key="incoming/w.txt", Body=b"from writer"))
    probe("writer: GetObject incoming/w.txt", True,
          lambda: writer.get_object(Bucket=bucket, Key="incoming/w.txt")["Body"].read())
    probe("writer: PutObject shared/w.txt", False,
          lambda: writer.put_object(Bucket=bucket, Key="shared/w.txt", Body=b"x"))
    probe("writer: ListObjectsV2 Prefix=incoming/", False,
          lambda: writer.list_objects_v2(Bucket=bucket, Prefix="incoming/"))
    probe("reader: GetObject incoming/w.txt", False,
          lambda: reader.get_object(Bucket=bucket, Key="incoming/w.txt"))
    probe("stranger: GetObject shared/a.txt", False,
          lambda: stranger.get_object(Bucket=bucket, Key="shared/a.txt"))
    probe("stranger: ListObjectsV2 Prefix=shared/", False,
          lambda: stranger.list_objects_v2(Bucket=bucket, Prefix="shared/"))
    probe("stranger: PutObject shared/x.txt", False,
          lambda: stranger.put_object(Bucket=bucket, Key="shared/x.txt", Body=b"x"))

    # Semantics worth knowing (reported, not asserted): the owner against an explicit Deny, and
    # what ListBuckets shows to users that own nothing.
    def observe(label, fn):
        try:
            fn()
            print(f"seen  {label:<62} allowed")
        except ClientError as e:
            print(f"seen  {label:<62} refused ({e.response['ResponseMetadata']['HTTPStatusCode']} "
                  f"{e.response['Error']['Code']})")

    observe("owner, Deny on locked/*: DeleteObject locked/c.txt",
            lambda: owner.delete_object(Bucket=bucket, Key="locked/c.txt"))
    observe("owner, Deny on locked/*: PutObject locked/new.txt",
            lambda: owner.put_object(Bucket=bucket, Key="locked/new.txt", Body=b"n"))
    observe("owner, Deny on locked/*: GetObject locked/c.txt (not denied)",
            lambda: owner.get_object(Bucket=bucket, Key="locked/c.txt"))
    observe("owner: GetObject incoming/w.txt (object written by writer)",
            lambda: owner.get_object(Bucket=bucket, Key="incoming/w.txt"))
    acl = writer.get_object_acl(Bucket=bucket, Key="incoming/w.txt")
    grants = [(g["Grantee"].get("ID"), g["Permission"]) for g in acl["Grants"]]
    print(f"seen  {'incoming/w.txt ACL (read by writer)':<62} owner {acl['Owner']['ID']}, grants {grants}")
    observe("owner: DeleteObject incoming/w.txt (object written by writer)",
            lambda: owner.delete_object(Bucket=bucket, Key="incoming/w.txt"))
    for role in ("owner", "reader", "writer", "stranger"):
        names = [b["Name"] for b in users[role][1].list_buckets()["Buckets"]]
        print(f"seen  {role + ': ListBuckets':<62} {names}")

    lifecycle = {"Rules": [{"ID": "expire-scratch", "Status": "Enabled",
                            "Filter": {"Prefix": "scratch/"}, "Expiration": {"Days": 7}}]}
    probe("owner: PutBucketLifecycleConfiguration", True,
          lambda: owner.put_bucket_lifecycle_configuration(Bucket=bucket,
                                                          LifecycleConfiguration=lifecycle))
    lc = probe("owner: GetBucketLifecycleConfiguration", True,
               lambda: owner.get_bucket_lifecycle_configuration(Bucket=bucket))
    if lc is not None:
        rules = lc["Rules"]
        same = (len(rules) == 1 and rules[0]["ID"] == "expire-scratch"
                and rules[0]["Expiration"]["Days"] == 7
                and rules[0].get("Filter", {}).get("Prefix") == "scratch/")
        print(f"{'ok  ' if same else 'FAIL'}  lifecycle came back as {rules}")
        if not same:
            failures.append("lifecycle round trip")
    probe("reader: PutBucketLifecycleConfiguration", False,
          lambda: reader.put_bucket_lifecycle_configuration(Bucket=bucket,
                                                           LifecycleConfiguration=lifecycle))

    # Can the owner lock itself out of its own bucket policy?
    lockout = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Principal": {"AWS": [f"arn:aws:iam:::user/{owner_uid}"]},
         "Action": ["s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy",
                    "s3:ListBucket"],
         "Resource": [arn]}]}
    probe("owner: PutBucketPolicy denying itself the policy calls", True,
          lambda: owner.put_bucket_policy(Bucket=bucket, Policy=json.dumps(lockout)))
    observe("owner, Deny on policy calls: ListObjectsV2",
            lambda: owner.list_objects_v2(Bucket=bucket))
    observe("owner, Deny on policy calls: GetBucketPolicy",
            lambda: owner.get_bucket_policy(Bucket=bucket))
    observe("owner, Deny on policy calls: DeleteBucketPolicy",
            lambda: owner.delete_bucket_policy(Bucket=bucket))
    # A --system user (what an operator signs with) against the same bucket.
    sys_uid, sys_key, sys_secret = f"e2e-check-system-{run}", f"E2ESYSTEM{run}".upper(), secrets.token_hex(20)
    admin(a.conf, "user", "create", f"--uid={sys_uid}", f"--display-name={sys_uid}", "--system",
          f"--access-key={sys_key}", f"--secret-key={sys_secret}")
    users["system"] = (sys_uid, client(a.endpoint, sys_key, sys_secret))
    system = users["system"][1]
    observe("system user: GetObject private/b.txt (owner's object)",
            lambda: system.get_object(Bucket=bucket, Key="private/b.txt"))
    names = [b["Name"] for b in system.list_buckets()["Buckets"]]
    print(f"seen  {'system user: ListBuckets':<62} {names}")
    observe("system user: DeleteBucketPolicy of the locked-out bucket",
            lambda: system.delete_bucket_policy(Bucket=bucket))
    observe("owner, after that: GetBucketPolicy",
            lambda: owner.get_bucket_policy(Bucket=bucket))

    if not a.keep:
        # The owner may not be able to delete locked/ objects itself: purge as admin.
        admin(a.conf, "bucket", "rm", f"--bucket={bucket}", "--purge-objects")
        for uid, _ in users.values():
            admin(a.conf, "user", "rm", f"--uid={uid}", "--purge-data")

    if failures:
        print(f"{len(failures)} probe(s) failed: {failures}")
        return 1
    print("all probes as expected")
    return 0


if __name__ == "__main__":
    sys.exit(main())
