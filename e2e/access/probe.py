"""Asks RGW what each object user may really do: list / get / put / delete / multipart on one probe key
per prefix of each bucket, HeadBucket and GetBucketLocation per bucket, and what RGW holds for each
bucket (owner, policy, lifecycle). Nothing here decides what is right: e2e/test/access.e2e.ts compares
the answers with the README.

Input (JSON on stdin):
  {"endpoint", "region", "cephConf",
   "owner": {"access", "secret"},                  the bucket owner's keys (cleans up; seeds where no user may)
   "users": {uid: {"access", "secret"}},            the users to probe, with the keys from their Secrets
   "buckets": {bucket: [prefix, ...]},              "" is the bucket root
   "seeders": {bucket: {prefix: uid}}}              who writes the probe objects there: a user the README lets
                                                    put there, so readers meet objects another user owns, as
                                                    in a restore
Output (JSON on stdout): {"cells": [...], "buckets": [...], "rgw": {bucket: {...}}}. A result is
"allow", "deny" (403 AccessDenied) or "error: <code> <message>" (anything else, e.g. a key RGW does not know).
"""

import json
import subprocess
import sys

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

BODY = b"access-matrix probe object\n"


def client(endpoint, region, key):
    return boto3.client("s3", endpoint_url=endpoint, region_name=region, aws_access_key_id=key["access"],
                        aws_secret_access_key=key["secret"],
                        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1},
                                      signature_version="s3v4"))


def ask(call):
    """(result, value): allow with the call's value, deny on 403 AccessDenied, else the error."""
    try:
        return "allow", call()
    except ClientError as e:
        err = e.response.get("Error", {})
        status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if status == 403 and err.get("Code") == "AccessDenied":
            return "deny", None
        return f"error: {status} {err.get('Code')} {err.get('Message', '')}".strip(), None


def key_at(prefix, name):
    return f"{prefix}/{name}" if prefix else name


def probe_cell(owner, seeder, s3, uid, bucket, prefix):
    obj = key_at(prefix, "probe-object")
    seeder.put_object(Bucket=bucket, Key=obj, Body=BODY)
    cell = {"user": uid, "bucket": bucket, "prefix": prefix}

    kwargs = {"Prefix": f"{prefix}/"} if prefix else {}
    cell["list"], listed = ask(lambda: s3.list_objects_v2(Bucket=bucket, MaxKeys=1000, **kwargs))
    if cell["list"] == "allow" and obj not in [o["Key"] for o in listed.get("Contents", [])]:
        cell["list"] = f"error: listing {bucket}/{prefix} did not return {obj}"

    cell["get"], got = ask(lambda: s3.get_object(Bucket=bucket, Key=obj)["Body"].read())
    if cell["get"] == "allow" and got != BODY:
        cell["get"] = "error: read back other bytes than were written"

    put_key = key_at(prefix, f"probe-put-{uid}")
    cell["put"], _ = ask(lambda: s3.put_object(Bucket=bucket, Key=put_key, Body=BODY))
    if cell["put"] == "allow":
        # The object belongs to the user who put it: its ACL lets the bucket owner list and delete it, not read it.
        sizes = [o["Size"] for o in owner.list_objects_v2(Bucket=bucket, Prefix=put_key).get("Contents", []) if o["Key"] == put_key]
        if sizes != [len(BODY)]:
            cell["put"] = f"error: put answered 200 but the owner lists {put_key} with sizes {sizes}"
        owner.delete_object(Bucket=bucket, Key=put_key)

    cell["delete"], _ = ask(lambda: s3.delete_object(Bucket=bucket, Key=obj))
    if cell["delete"] == "allow":
        gone, _ = ask(lambda: owner.head_object(Bucket=bucket, Key=obj))
        if not gone.startswith("error: 404"):
            cell["delete"] = f"error: delete answered 204 but the object is still there ({gone})"

    # Multipart as the README counts it: ListMultipartUploadParts and AbortMultipartUpload on an upload the
    # owner started under the prefix (starting one is PutObject, probed above; the owner, because a writer the
    # README gives no multipart right could not abort its own upload to clean up).
    upload = owner.create_multipart_upload(Bucket=bucket, Key=key_at(prefix, "probe-multipart"))["UploadId"]
    mpu_key = key_at(prefix, "probe-multipart")
    parts, _ = ask(lambda: s3.list_parts(Bucket=bucket, Key=mpu_key, UploadId=upload))
    abort, _ = ask(lambda: s3.abort_multipart_upload(Bucket=bucket, Key=mpu_key, UploadId=upload))
    if abort != "allow":
        owner.abort_multipart_upload(Bucket=bucket, Key=mpu_key, UploadId=upload)
    cell["multipart"] = parts if parts == abort else f"error: ListMultipartUploadParts {parts}, AbortMultipartUpload {abort}"
    owner.delete_object(Bucket=bucket, Key=obj)
    return cell


def admin(conf, *args):
    res = subprocess.run(["radosgw-admin", "--conf", conf, *args], capture_output=True, text=True, timeout=120)
    if res.returncode != 0:
        raise SystemExit(f"radosgw-admin {' '.join(args)}: {res.stderr.strip()}")
    return json.loads(res.stdout)


def main():
    req = json.load(sys.stdin)
    owner = client(req["endpoint"], req["region"], req["owner"])
    out = {"cells": [], "buckets": [], "rgw": {}}
    for bucket in sorted(req["buckets"]):
        stats = admin(req["cephConf"], "bucket", "stats", f"--bucket={bucket}")
        policy = owner.get_bucket_policy(Bucket=bucket)["Policy"]
        lc, rules = ask(lambda: owner.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"])
        out["rgw"][bucket] = {"owner": stats.get("owner"), "policy": json.loads(policy),
                              "lifecycle": rules if lc == "allow" else lc}
    clients = {uid: client(req["endpoint"], req["region"], key) for uid, key in req["users"].items()}
    for uid in sorted(req["users"]):
        s3 = clients[uid]
        for bucket in sorted(req["buckets"]):
            head, _ = ask(lambda: s3.head_bucket(Bucket=bucket))
            if head.startswith("error: 403"):  # HEAD carries no body: a 403 has no code to read
                head = "deny"
            location, _ = ask(lambda: s3.get_bucket_location(Bucket=bucket))
            out["buckets"].append({"user": uid, "bucket": bucket, "head": head, "location": location})
            for prefix in req["buckets"][bucket]:
                seeder = clients.get(req.get("seeders", {}).get(bucket, {}).get(prefix), owner)
                out["cells"].append(probe_cell(owner, seeder, s3, uid, bucket, prefix))
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
