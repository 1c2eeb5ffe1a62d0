"""ObjectBucketClaim, as lib-bucket-provisioner's controller drives Rook's bucket provisioner
(pkg/operator/ceph/object/bucket/provisioner.go, rgw-handlers.go, util.go).

Function names in comments are Rook's or the library's, so each step can be checked."""

import json
import uuid

from botocore.exceptions import ClientError

from common import OBC_GROUP, OBC_VERSION, ReconcileError, b64, quantity
from kube import api_path

FINALIZER = "objectbucket.io/finalizer"
PROVISIONER_LABEL = "bucket-provisioner"
# object.AllowedActions (pkg/operator/ceph/object/policy.go): what Revoke denies a bucket's owner.
ALLOWED_ACTIONS = [
    "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:GetBucketAcl", "s3:GetBucketCORS", "s3:GetBucketLocation",
    "s3:GetBucketLogging", "s3:GetBucketNotification", "s3:GetBucketTagging", "s3:GetBucketVersioning",
    "s3:GetBucketWebsite", "s3:GetObject", "s3:GetObjectAcl", "s3:GetObjectTorrent", "s3:GetObjectVersion",
    "s3:GetObjectVersionAcl", "s3:GetObjectVersionTorrent", "s3:ListAllMyBuckets", "s3:ListBucket",
    "s3:ListBucketMultipartUploads", "s3:ListBucketVersions", "s3:ListMultipartUploadParts", "s3:PutBucketTagging",
    "s3:PutBucketVersioning", "s3:PutBucketWebsite", "s3:PutBucketVersioning", "s3:PutLifecycleConfiguration",
    "s3:PutObject", "s3:PutObjectAcl", "s3:PutObjectVersionAcl", "s3:PutReplicationConfiguration", "s3:RestoreObject",
]
# additionalConfigSpecFromMap: the keys Rook 1.20 knows; any other key is ignored.
QUOTA_KEYS = ("maxObjects", "maxSize", "bucketMaxObjects", "bucketMaxSize")
STRING_KEYS = ("bucketPolicy", "bucketLifecycle", "bucketOwner", "bucketPlacement", "bucketStorageClass")


def claim_path(ns, name=None):
    return api_path(OBC_GROUP, OBC_VERSION, "objectbucketclaims", ns, name)


def ob_path(name=None):
    return api_path(OBC_GROUP, OBC_VERSION, "objectbuckets", None, name)


def provisioner_name(ctx):
    """object.GetObjectBucketProvisioner: <ROOK_OBC_PROVISIONER_NAME_PREFIX or operator namespace>.ceph.rook.io/bucket"""
    prefix = ctx.setting("ROOK_OBC_PROVISIONER_NAME_PREFIX", "") or ctx.operator_namespace
    return f"{prefix}.ceph.rook.io/bucket"


def additional_config(ctx, obc):
    """additionalConfigSpecFromMap: every key present must be allowed by ROOK_OBC_ALLOW_ADDITIONAL_CONFIG_FIELDS."""
    raw = obc["spec"].get("additionalConfig") or {}
    spec = {}
    for key in QUOTA_KEYS + STRING_KEYS:
        if key not in raw:
            continue
        if not ctx.obc_field_allowed(key):
            raise ReconcileError(f'failed to process additionalConfig: OBC config "{key}" is not allowed')
        spec[key] = quantity(raw[key]) if key in QUOTA_KEYS else raw[key]
    if spec.get("bucketPlacement") or spec.get("bucketStorageClass"):
        raise ReconcileError("bucketPlacement/bucketStorageClass are not implemented by the Rook stand-in")
    return spec


def reconcile_claim(ctx, obc):
    kube = ctx.kube
    meta = obc["metadata"]
    ns, name = meta["namespace"], meta["name"]
    sc = kube.get(f"/apis/storage.k8s.io/v1/storageclasses/{obc['spec'].get('storageClassName', '')}")
    if sc is None:
        raise ReconcileError(f'unable to Get storageclass "{obc["spec"].get("storageClassName")}" for OBC "{ns}/{name}"')
    if sc.get("provisioner") != provisioner_name(ctx):
        ctx.log(f"OBC {ns}/{name}: unsupported provisioner {sc.get('provisioner')!r}, skipped")
        return
    if meta.get("deletionTimestamp"):
        return delete_claim(ctx, obc, sc)
    if obc["spec"].get("objectBucketName"):
        return resync_claim(ctx, obc, sc)
    return provision_claim(ctx, obc, sc)


def provision_claim(ctx, obc, sc):
    """syncHandler -> handleProvisionClaim -> Provisioner.Provision, for a claim that has no ObjectBucket yet."""
    kube, rgw = ctx.kube, ctx.rgw
    meta = obc["metadata"]
    ns, name = meta["namespace"], meta["name"]
    if (obc.get("status") or {}).get("phase") != "Pending":
        obc = kube.patch_status(claim_path(ns, name), {"phase": "Pending"})
        meta = obc["metadata"]
        ctx.changed(f"OBC {ns}/{name} Pending")
    # setOBCMetaFields: the finalizer and the provisioner label.
    label = provisioner_name(ctx).replace("/", "-")
    if FINALIZER not in (meta.get("finalizers") or []) or (meta.get("labels") or {}).get(PROVISIONER_LABEL) != label:
        obc = kube.merge_patch(claim_path(ns, name), {"metadata": {
            "finalizers": sorted(set((meta.get("finalizers") or []) + [FINALIZER])),
            "labels": {PROVISIONER_LABEL: label}, "resourceVersion": meta["resourceVersion"]}})
        meta = obc["metadata"]
        ctx.changed(f"OBC {ns}/{name}: finalizer and label")
    params = sc.get("parameters") or {}
    if "bucketName" in params:
        raise ReconcileError(f"OBC {ns}/{name}: StorageClass {sc['metadata']['name']} names an existing bucket "
                             "(Grant); the Rook stand-in implements Provision only")
    # composeBucketName
    bucket = obc["spec"].get("bucketName") or ""
    if not bucket:
        if not obc["spec"].get("generateBucketName"):
            raise ReconcileError(f"error composing bucket name: OBC {ns}/{name} has neither bucketName nor generateBucketName")
        bucket = f"{obc['spec']['generateBucketName']}-{uuid.uuid4()}"
    config = additional_config(ctx, obc)
    # initializeCreateOrGrant: an explicit bucketOwner replaces the generated user name.
    generated_user = f"obc-{ns}-{name}-{meta['uid']}"
    owner = config.get("bucketOwner") or generated_user
    store_ns = params.get("objectStoreNamespace", ctx.operator_namespace)
    store = require_store(ctx, params.get("objectStoreName", ""), store_ns)

    access, secret = owner_credentials(ctx, owner, explicit="bucketOwner" in config)
    s3 = rgw.s3(access, secret)
    info = rgw.bucket_info(bucket)
    if info is None:
        s3.create_bucket(Bucket=bucket)
        ctx.changed(f"created bucket {bucket} as {owner}")
    elif info["owner"] != owner:
        rgw.link_bucket(bucket, owner)
        ctx.changed(f"re-linked bucket {bucket} from {info['owner']} to {owner}")
    if owner == generated_user:
        rgw.modify_user(owner, **{"max-buckets": 1})
    set_additional_settings(ctx, config, owner, bucket, s3)

    # handleProvisionClaim after Provision: Secret, ConfigMap, ObjectBucket, then the claim.
    ensure_claim_secret(ctx, obc, label, access, secret)
    ensure_claim_configmap(ctx, obc, label, bucket)
    ob_name = f"obc-{ns}-{name}"
    state = {"cephUser": owner, "objectStoreName": store["metadata"]["name"], "objectStoreNamespace": store_ns}
    if "bucketOwner" in config:
        state["bucketOwner"] = config["bucketOwner"]
    ob = {
        "apiVersion": f"{OBC_GROUP}/{OBC_VERSION}",
        "kind": "ObjectBucket",
        "metadata": {"name": ob_name, "finalizers": [FINALIZER], "labels": {PROVISIONER_LABEL: label}},
        "spec": {
            "storageClassName": sc["metadata"]["name"],
            "reclaimPolicy": sc.get("reclaimPolicy", "Delete"),
            "claimRef": {"apiVersion": obc["apiVersion"], "kind": obc["kind"], "name": name, "namespace": ns, "uid": meta["uid"]},
            "endpoint": endpoint(ctx, bucket, obc),
            "additionalState": state,
        },
    }
    if kube.get(ob_path(ob_name)) is None:
        kube.create(ob_path(), ob)
        ctx.changed(f"created ObjectBucket {ob_name}")
    kube.patch_status(ob_path(ob_name), {"phase": "Bound"})
    obc = kube.merge_patch(claim_path(ns, name), {"spec": {"objectBucketName": ob_name, "bucketName": bucket}})
    kube.patch_status(claim_path(ns, name), {"phase": "Bound"})
    ctx.changed(f"OBC {ns}/{name} Bound to bucket {bucket}")


def resync_claim(ctx, obc, sc):
    """Stand-in extension (see STANDINS.md): a Bound claim's additionalConfig is applied again on every pass,
    with Rook's own compare-then-set steps, so that a changed policy or lifecycle reaches the bucket."""
    kube, rgw = ctx.kube, ctx.rgw
    ob = kube.get(ob_path(obc["spec"]["objectBucketName"]))
    if ob is None:
        raise ReconcileError(f"OBC {obc['metadata']['namespace']}/{obc['metadata']['name']}: ObjectBucket "
                             f"{obc['spec']['objectBucketName']} is gone")
    config = additional_config(ctx, obc)
    owner = ob["spec"]["additionalState"]["cephUser"]
    bucket = ob["spec"]["endpoint"]["bucketName"]
    access, secret = owner_credentials(ctx, owner, explicit=True)
    set_additional_settings(ctx, config, owner, bucket, rgw.s3(access, secret))
    if (obc.get("status") or {}).get("phase") != "Bound":
        kube.patch_status(claim_path(obc["metadata"]["namespace"], obc["metadata"]["name"]), {"phase": "Bound"})


def require_store(ctx, name, namespace):
    """getObjectStore: the CephObjectStore the StorageClass names must exist."""
    store = ctx.kube.get(api_path("ceph.rook.io", "v1", "cephobjectstores", namespace, name))
    if store is None:
        raise ReconcileError(f'failed to get cephObjectStore: cephObjectStore not found: "{namespace}/{name}"')
    return store


def owner_credentials(ctx, user, explicit):
    """bucket.getUserCreds: an explicit bucketOwner must exist (its first key is used); else the user is created."""
    live = ctx.rgw.get_user(user)
    if live is None:
        if explicit:
            raise ReconcileError(f'unable to get user "{user}" creds: Ceph object user "{user}" not found')
        live = ctx.rgw.create_user(user, user)
        ctx.changed(f"created RGW user {user}")
    if not live["keys"]:
        raise ReconcileError(f'Ceph object user "{user}" has no keys')
    return live["keys"][0]["access_key"], live["keys"][0]["secret_key"]


def set_additional_settings(ctx, config, owner, bucket, s3):
    """setAdditionalSettings: user quota, bucket quota, bucket policy, lifecycle; each compared, set only on a difference."""
    rgw = ctx.rgw
    if "bucketOwner" not in config:  # setUserQuota: skipped when an explicit owner is set
        q = rgw.get_quota(owner)
        target = (("maxObjects" in config or "maxSize" in config),
                  config.get("maxSize", -1 if q["max_size"] >= 0 else q["max_size"]),
                  config.get("maxObjects", -1 if q["max_objects"] >= 0 else q["max_objects"]))
        if (q["enabled"], q["max_size"], q["max_objects"]) != target:
            rgw.set_user_quota(owner, *target)
            ctx.changed(f"user quota of {owner}: {target}")
    bq = rgw.bucket_info(bucket)["bucket_quota"]  # setBucketQuota
    target = (("bucketMaxObjects" in config or "bucketMaxSize" in config),
              config.get("bucketMaxSize", -1 if bq["max_size"] >= 0 else bq["max_size"]),
              config.get("bucketMaxObjects", -1 if bq["max_objects"] >= 0 else bq["max_objects"]))
    if (bq["enabled"], bq["max_size"], bq["max_objects"]) != target:
        rgw.set_bucket_quota(owner, bucket, *target)
        ctx.changed(f"bucket quota of {bucket}: {target}")

    # setBucketPolicy: the live policy text and the claim's text are compared as strings.
    live_policy = None
    try:
        live_policy = s3.get_bucket_policy(Bucket=bucket)["Policy"]
    except ClientError as e:
        if e.response["Error"]["Code"] != "NoSuchBucketPolicy":
            raise ReconcileError(f'failed to fetch policy for bucket "{bucket}": {e}')
    want_policy = config.get("bucketPolicy")
    if live_policy != want_policy:
        try:
            if want_policy is None:
                s3.delete_bucket_policy(Bucket=bucket)
            else:
                s3.put_bucket_policy(Bucket=bucket, Policy=want_policy)
        except ClientError as e:
            raise ReconcileError(f'failed to set policy for bucket "{bucket}": {e}')
        ctx.changed(f"bucket policy of {bucket} {'deleted' if want_policy is None else 'set'}")

    # setBucketLifecycle: live rules and the claim's rules are compared as structures.
    live_rules = None
    try:
        live_rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    except ClientError as e:
        if e.response["Error"]["Code"] != "NoSuchLifecycleConfiguration":
            raise ReconcileError(f'failed to fetch lifecycle configuration for bucket "{bucket}": {e}')
    want = None
    if config.get("bucketLifecycle") is not None:
        try:
            want = json.loads(config["bucketLifecycle"])
        except ValueError as e:
            raise ReconcileError(f'failed to unmarshal lifecycle configuration for bucket "{bucket}": {e}')
    if _same_rules(live_rules or [], (want or {}).get("Rules") or []) is False:
        try:
            if want is None:
                s3.delete_bucket_lifecycle(Bucket=bucket)
            else:
                s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration=want)
        except Exception as e:  # ClientError from RGW, or botocore's validation of a malformed document
            raise ReconcileError(f'failed to set lifecycle configuration for bucket "{bucket}": {e}')
        ctx.changed(f"lifecycle of {bucket} {'deleted' if want is None else 'set'}")


def _same_rules(live, want):
    """Rook compares the SDK structs as they are. RGW 16 returns a rule put with `Filter: {Prefix: ""}` as the
    legacy top-level `Prefix: ""` (a non-empty Filter prefix comes back unchanged), so Rook would put such a
    configuration again on every reconcile. The stand-in reads the two forms as one (see STANDINS.md)."""
    def norm(rule):
        rule = dict(rule)
        if "Prefix" in rule and "Filter" not in rule:
            rule["Filter"] = {"Prefix": rule.pop("Prefix")}
        return rule
    return [norm(r) for r in live] == [norm(r) for r in want]


def endpoint(ctx, bucket, obc):
    """composeObjectBucket: host and port of the store as the provisioner reached it; no region (Rook sets none)."""
    host_port = ctx.rgw.endpoint.split("://", 1)[-1]
    host, _, port = host_port.rpartition(":")
    return {"bucketHost": host, "bucketPort": int(port or 80), "bucketName": bucket, "region": "", "subRegion": "",
            "additionalConfig": obc["spec"].get("additionalConfig") or {}}


def _owned(obc, label):
    return {
        "name": obc["metadata"]["name"],
        "namespace": obc["metadata"]["namespace"],
        "finalizers": [FINALIZER],
        "labels": {PROVISIONER_LABEL: label},
        "ownerReferences": [{"apiVersion": obc["apiVersion"], "kind": obc["kind"], "name": obc["metadata"]["name"],
                             "uid": obc["metadata"]["uid"]}],
    }


def ensure_claim_secret(ctx, obc, label, access, secret):
    """createSecret (newCredentialsSecret): created once; an existing Secret is left as it is."""
    ns = obc["metadata"]["namespace"]
    if ctx.kube.get(f"/api/v1/namespaces/{ns}/secrets/{obc['metadata']['name']}") is None:
        ctx.kube.create(f"/api/v1/namespaces/{ns}/secrets", {
            "apiVersion": "v1", "kind": "Secret", "metadata": _owned(obc, label),
            "data": {"AWS_ACCESS_KEY_ID": b64(access), "AWS_SECRET_ACCESS_KEY": b64(secret)}})
        ctx.changed(f"created Secret {ns}/{obc['metadata']['name']}")


def ensure_claim_configmap(ctx, obc, label, bucket):
    """createConfigMap (newBucketConfigMap)"""
    ns = obc["metadata"]["namespace"]
    if ctx.kube.get(f"/api/v1/namespaces/{ns}/configmaps/{obc['metadata']['name']}") is None:
        ep = endpoint(ctx, bucket, obc)
        ctx.kube.create(f"/api/v1/namespaces/{ns}/configmaps", {
            "apiVersion": "v1", "kind": "ConfigMap", "metadata": _owned(obc, label),
            "data": {"BUCKET_NAME": bucket, "BUCKET_HOST": ep["bucketHost"], "BUCKET_PORT": str(ep["bucketPort"]),
                     "BUCKET_REGION": "", "BUCKET_SUBREGION": ""}})
        ctx.changed(f"created ConfigMap {ns}/{obc['metadata']['name']}")


def delete_claim(ctx, obc, sc):
    """handleDeleteClaim: Delete for a new bucket with reclaimPolicy Delete, else Revoke; then deleteResources."""
    kube = ctx.kube
    meta = obc["metadata"]
    ns, name = meta["namespace"], meta["name"]
    if FINALIZER not in (meta.get("finalizers") or []):
        return
    ob_name = f"obc-{ns}-{name}"
    ob = kube.get(ob_path(ob_name))
    if ob is not None:
        kube.patch_status(ob_path(ob_name), {"phase": "Released"})
        bucket = ob["spec"]["endpoint"]["bucketName"]
        user = ob["spec"]["additionalState"]["cephUser"]
        is_new = "bucketName" not in (sc.get("parameters") or {})
        if is_new and ob["spec"].get("reclaimPolicy") == "Delete":
            ctx.rgw.remove_bucket(bucket)
            ctx.changed(f"deleted bucket {bucket} (reclaimPolicy Delete)")
            delete_generated_user(ctx, ob, user)
        else:
            revoke(ctx, ob, bucket, user)
        kube.merge_patch(ob_path(ob_name), {"metadata": {"finalizers": None}})
        kube.delete(ob_path(ob_name))
        ctx.changed(f"deleted ObjectBucket {ob_name}")
    for kind in ("secrets", "configmaps"):  # releaseSecret / releaseConfigMap: the owner reference does the rest
        path = f"/api/v1/namespaces/{ns}/{kind}/{name}"
        if kube.get(path) is not None:
            kube.merge_patch(path, {"metadata": {"finalizers": None}})
    kube.merge_patch(claim_path(ns, name), {"metadata": {"finalizers": [f for f in meta["finalizers"] if f != FINALIZER],
                                                         "resourceVersion": meta["resourceVersion"]}})
    ctx.changed(f"released OBC {ns}/{name}")


def revoke(ctx, ob, bucket, user):
    """Provisioner.Revoke. When the claim's user owns the bucket (always so with bucketOwner), Rook appends a
    Deny of AllowedActions for that user to the bucket policy and stops there; the policy goes through Rook's
    BucketPolicy struct, which keeps Sid, Effect, Principal, Action and Resource of each statement only."""
    rgw = ctx.rgw
    info = rgw.bucket_info(bucket)
    if info is None:
        delete_generated_user(ctx, ob, user)
        return
    owner = rgw.get_user(info["owner"])
    if owner is None:
        return
    s3 = rgw.s3(owner["keys"][0]["access_key"], owner["keys"][0]["secret_key"])
    policy = None
    try:
        doc = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
        policy = {"Id": doc.get("Id", ""), "Version": doc.get("Version", ""),
                  "Statement": [{k: st.get(k) for k in ("Sid", "Effect", "Principal", "Action", "Resource")}
                                for st in doc.get("Statement") or []]}
        for st in policy["Statement"]:
            st["Sid"] = st["Sid"] or ""
    except ClientError as e:
        if e.response["Error"]["Code"] != "NoSuchBucketPolicy":
            raise ReconcileError(f"error getting policy for bucket {bucket}: {e}")
    if info["owner"] == user:
        deny = {"Sid": user, "Effect": "Deny", "Principal": {"AWS": [f"arn:aws:iam:::user/{user}"]},
                "Action": ALLOWED_ACTIONS, "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]}
        policy = policy or {"Id": "", "Version": "2012-10-17", "Statement": []}
        policy["Statement"] = [deny if st["Sid"] == user else st for st in policy["Statement"]] + [deny]
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy, separators=(",", ":")))
        ctx.changed(f"Revoke: denied {user} on bucket {bucket} (Rook's Revoke for the owner)")
        return
    if policy is not None:
        for i, st in enumerate(policy["Statement"]):
            if st["Sid"] == user:
                del policy["Statement"][i]
                break
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy, separators=(",", ":")))
        ctx.changed(f"Revoke: dropped statement {user} from bucket {bucket}")
    delete_generated_user(ctx, ob, user)


def delete_generated_user(ctx, ob, user):
    """deleteOBUser: only a user the provisioner generated is removed, never an explicit bucketOwner."""
    state = ob["spec"].get("additionalState") or {}
    ref = ob["spec"].get("claimRef") or {}
    if state.get("bucketOwner") == user:
        return
    if user == f"obc-{ref.get('namespace')}-{ref.get('name')}-{ref.get('uid')}" or user.startswith(
            f"obc-{ref.get('namespace')}-{ref.get('name')}"):
        try:
            ctx.rgw.remove_user(user)
            ctx.changed(f"deleted generated RGW user {user}")
        except Exception as e:
            ctx.log(f"failed to delete user {user}: {e}")
