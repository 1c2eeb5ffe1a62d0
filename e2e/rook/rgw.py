"""RGW as Rook's operator talks to it: the admin ops REST API (/admin/user, /admin/bucket), signed
with the keys of an admin ops user, for users, keys, caps, quotas and bucket links; S3 signed as
the bucket owner for bucket creation, policies and lifecycle configurations.

Rook keeps the admin ops user `rgw-admin-ops-user` (caps below) in a Secret of the cluster
namespace and creates it with radosgw-admin; here it is created once with `radosgw-admin --conf`
(the only radosgw-admin call) and its keys stay in memory.
"""

import json
import subprocess
import urllib.error
import urllib.parse
import urllib.request

import boto3
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

ADMIN_OPS_USER = "rgw-admin-ops-user"
ADMIN_OPS_CAPS = "buckets=*;users=*;usage=read;metadata=read;zone=read"
# RGW checks SigV4 scopes against its zonegroup's api name loosely; boto3 uses this region too.
REGION = "us-east-1"


class RgwError(Exception):
    def __init__(self, message, status=None, code=None):
        super().__init__(message)
        self.status = status
        self.code = code


class Rgw:
    def __init__(self, endpoint, conf):
        self.endpoint = endpoint.rstrip("/")
        self.conf = conf
        self._s3 = {}
        self.access_key, self.secret_key = self._admin_ops_keys()

    def _radosgw_admin(self, *args):
        try:
            res = subprocess.run(["radosgw-admin", "--conf", self.conf, *args], capture_output=True, text=True, timeout=60)
        except FileNotFoundError:
            raise RgwError("radosgw-admin not found (run e2e/objectstore.sh start)")
        return res

    def _admin_ops_keys(self):
        res = self._radosgw_admin("user", "info", f"--uid={ADMIN_OPS_USER}")
        if res.returncode != 0:
            res = self._radosgw_admin(
                "user", "create", f"--uid={ADMIN_OPS_USER}", "--display-name=RGW Admin Ops User", f"--caps={ADMIN_OPS_CAPS}"
            )
            if res.returncode != 0:
                raise RgwError(f"cannot create {ADMIN_OPS_USER} with radosgw-admin --conf {self.conf}: {res.stderr.strip()}")
        key = json.loads(res.stdout)["keys"][0]
        return key["access_key"], key["secret_key"]

    # --- admin ops -------------------------------------------------------------------------------

    def admin(self, method, resource, params, sub=None):
        """One admin ops call; `sub` is a bare sub-resource flag such as `caps`, `key`, `quota`."""
        query = ([sub] if sub else []) + [f"{k}={urllib.parse.quote(str(v), safe='')}" for k, v in params.items()]
        url = f"{self.endpoint}/admin/{resource}?{'&'.join(query + ['format=json'])}"
        req = AWSRequest(method=method, url=url, data=b"")
        S3SigV4Auth(Credentials(self.access_key, self.secret_key), "s3", REGION).add_auth(req)
        http = urllib.request.Request(url, data=b"" if method in ("PUT", "POST") else None, method=method)
        for k, v in req.headers.items():
            http.add_header(k, v)
        try:
            with urllib.request.urlopen(http, timeout=30) as res:
                text = res.read().decode()
        except urllib.error.HTTPError as e:
            text = e.read().decode()
            try:
                code = json.loads(text).get("Code")
            except ValueError:
                code = None
            raise RgwError(f"{method} /admin/{resource} {sub or ''} {params}: {e.code} {code or text}", e.code, code) from None
        except urllib.error.URLError as e:
            raise RgwError(f"{method} {url}: {e.reason}") from None
        return json.loads(text) if text.strip() else None

    def get_user(self, uid):
        try:
            return self.admin("GET", "user", {"uid": uid})
        except RgwError as e:
            if e.code == "NoSuchUser" or e.status == 404:
                return None
            raise

    def create_user(self, uid, display_name, **extra):
        return self.admin("PUT", "user", {"uid": uid, "display-name": display_name, **extra})

    def modify_user(self, uid, **params):
        return self.admin("POST", "user", {"uid": uid, **params})

    def remove_user(self, uid):
        return self.admin("DELETE", "user", {"uid": uid})

    def add_caps(self, uid, caps):
        return self.admin("PUT", "user", {"uid": uid, "user-caps": caps}, sub="caps")

    def remove_caps(self, uid, caps):
        return self.admin("DELETE", "user", {"uid": uid, "user-caps": caps}, sub="caps")

    def create_key(self, uid, access_key, secret_key):
        return self.admin("PUT", "user", {"uid": uid, "access-key": access_key, "secret-key": secret_key, "key-type": "s3"}, sub="key")

    def remove_key(self, uid, access_key):
        return self.admin("DELETE", "user", {"uid": uid, "access-key": access_key, "key-type": "s3"}, sub="key")

    def get_quota(self, uid, kind="user"):
        return self.admin("GET", "user", {"uid": uid, "quota-type": kind}, sub="quota")

    def set_user_quota(self, uid, enabled, max_size, max_objects):
        params = {"uid": uid, "quota-type": "user", "enabled": str(enabled).lower(), "max-size": max_size, "max-objects": max_objects}
        return self.admin("PUT", "user", params, sub="quota")

    def bucket_info(self, bucket):
        try:
            return self.admin("GET", "bucket", {"bucket": bucket})
        except RgwError as e:
            if e.code == "NoSuchBucket" or e.status == 404:
                return None
            raise

    def link_bucket(self, bucket, uid):
        return self.admin("PUT", "bucket", {"bucket": bucket, "uid": uid})

    def set_bucket_quota(self, uid, bucket, enabled, max_size, max_objects):
        params = {"uid": uid, "bucket": bucket, "enabled": str(enabled).lower(), "max-size": max_size, "max-objects": max_objects}
        return self.admin("PUT", "bucket", params, sub="quota")

    def remove_bucket(self, bucket):
        try:
            return self.admin("DELETE", "bucket", {"bucket": bucket, "purge-objects": "true"})
        except RgwError as e:
            if e.code in ("NoSuchBucket", "NoSuchKey") or e.status == 404:
                return None
            raise

    # --- S3 ----------------------------------------------------------------------------------------

    def s3(self, access_key, secret_key):
        """An S3 client signed with one user's keys (cached: creating a boto3 client costs ~50 ms)."""
        cached = self._s3.get((access_key, secret_key))
        if cached is None:
            cached = self._s3[(access_key, secret_key)] = self._new_s3(access_key, secret_key)
        return cached

    def _new_s3(self, access_key, secret_key):
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            region_name=REGION,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}),
        )
