"""CephObjectStoreUser, as Rook's pkg/operator/ceph/object/user/controller.go reconciles it.

Function names in comments are Rook's, so each step can be checked against its source."""

from common import (
    APP_NAME, ROOK_GROUP, ROOK_SECRET_TYPE, ROOK_VERSION, ReconcileError, b64, owner_reference, quantity, secret_value,
)
from kube import api_path

FINALIZER = "cephobjectstoreuser.ceph.rook.io"
# generateUserConfig: the order in which Rook concatenates `type=perm;` pairs.
CAPS_ORDER = [
    ("user", "users"), ("users", "users"), ("bucket", "buckets"), ("buckets", "buckets"), ("metadata", "metadata"),
    ("usage", "usage"), ("zone", "zone"), ("roles", "roles"), ("amz-cache", "amz-cache"), ("bilog", "bilog"),
    ("info", "info"), ("mdlog", "mdlog"), ("datalog", "datalog"), ("user-policy", "user-policy"),
    ("oidc-provider", "oidc-provider"), ("ratelimit", "ratelimit"),
]
# The CRD's capabilities field names (camelCase) for the keys above.
CAPS_FIELDS = {"amz-cache": "amzCache", "user-policy": "userPolicy", "oidc-provider": "oidcProvider", "ratelimit": "rateLimit",
               "metadata": "metadata"}
OP_MASK_ORDER = ["read", "write", "delete"]


def user_path(ns, name=None):
    return api_path(ROOK_GROUP, ROOK_VERSION, "cephobjectstoreusers", ns, name)


def secret_name(user):
    """generateCephUserSecretName"""
    return f"rook-ceph-object-user-{user['spec']['store']}-{user['metadata']['name']}"


def find_store(ctx, user):
    """getObjectStore: any CephObjectStore with the user's spec.store as its name (Rook matches the name only)."""
    store = user["spec"].get("store", "")
    for s in ctx.kube.list(api_path(ROOK_GROUP, ROOK_VERSION, "cephobjectstores")):
        if s["metadata"]["name"] == store:
            return s
    ns, name = user["metadata"]["namespace"], user["metadata"]["name"]
    raise ReconcileError(f'could not find CephObjectStore "{store}" referenced by CephObjectStoreUser "{ns}/{name}"')


def target_config(user):
    """generateUserConfig: display name, max buckets, caps string, op mask."""
    spec, name = user["spec"], user["metadata"]["name"]
    quotas = spec.get("quotas") or {}
    caps_spec = spec.get("capabilities") or {}
    caps = ""
    for field, cap_type in CAPS_ORDER:
        value = caps_spec.get(CAPS_FIELDS.get(field, field))
        if value:
            caps += f"{cap_type}={value};"
    op_mask = spec.get("opMask")
    if op_mask is None:
        mask = "read, write, delete"
    else:
        ops = {o.strip() for o in op_mask}
        if "*" in ops:
            ops = set(OP_MASK_ORDER)
        unknown = ops - set(OP_MASK_ORDER)
        if unknown:
            raise ReconcileError(f'invalid op-mask specified for user "{name}": {sorted(unknown)}')
        mask = ", ".join(o for o in OP_MASK_ORDER if o in ops) or "<none>"
    return {
        "display_name": spec.get("displayName") or name,
        "max_buckets": quotas.get("maxBuckets", 1000),
        "caps": caps,
        "op_mask": mask,
    }


def target_keys(ctx, user):
    """generateUserKeySpec: the key pairs the Secrets in spec.keys hold, and those Secrets."""
    ns = user["metadata"]["namespace"]
    keys, secrets = [], {}
    for k in user["spec"].get("keys") or []:
        try:
            access, s1 = secret_value(ctx.kube, ns, k["accessKeyRef"]["name"], k["accessKeyRef"]["key"])
            secret, s2 = secret_value(ctx.kube, ns, k["secretKeyRef"]["name"], k["secretKeyRef"]["key"])
        except ReconcileError as e:
            raise ReconcileError(f'failed to generate UserKeySpec for "{user["metadata"]["name"]}": failed to get secret value: {e}')
        secrets[s1["metadata"]["uid"]] = s1
        secrets[s2["metadata"]["uid"]] = s2
        keys.append({"access_key": access, "secret_key": secret})
    return keys, secrets


def sync_user(ctx, uid, cfg, keys, quotas):
    """createOrUpdateCephUser, then reconcileUserKeys. Returns the keys the user ends with (first one first)."""
    rgw = ctx.rgw
    live = rgw.get_user(uid)
    if live is None:
        extra = {"max-buckets": cfg["max_buckets"], "op-mask": cfg["op_mask"]}
        live = rgw.create_user(uid, cfg["display_name"], **extra)
        ctx.changed(f"created RGW user {uid}")
    if (live["display_name"], live["max_buckets"], live["op_mask"]) != (cfg["display_name"], cfg["max_buckets"], cfg["op_mask"]):
        # isUserSync / ModifyUser
        live = rgw.modify_user(uid, **{"display-name": cfg["display_name"], "max-buckets": cfg["max_buckets"], "op-mask": cfg["op_mask"]})
        ctx.changed(f"updated RGW user {uid} (display name, max buckets, op mask)")
    live_caps = "".join(f"{c['type']}={c['perm']};" for c in live.get("caps") or [])  # generateUserCaps
    if live_caps != cfg["caps"]:
        if live_caps:
            rgw.remove_caps(uid, live_caps)
        if cfg["caps"]:
            rgw.add_caps(uid, cfg["caps"])
        ctx.changed(f"set caps of RGW user {uid}: {cfg['caps'] or '(none)'}")
    # SetUserQuota runs on every reconcile in Rook; it is only sent here when it would change something.
    max_size = quantity(quotas["maxSize"]) if quotas.get("maxSize") is not None else -1
    max_objects = int(quotas["maxObjects"]) if quotas.get("maxObjects") is not None else -1
    enabled = quotas.get("maxSize") is not None or quotas.get("maxObjects") is not None
    q = rgw.get_quota(uid)
    if (q["enabled"], q["max_size"], q["max_objects"]) != (enabled, max_size, max_objects):
        rgw.set_user_quota(uid, enabled, max_size, max_objects)
        ctx.changed(f"set quota of RGW user {uid}: enabled={enabled} max_size={max_size} max_objects={max_objects}")
    live = rgw.get_user(uid)
    if not keys:
        if not live["keys"]:
            raise ReconcileError(f'no keys set for user "{uid}"')
        keys = [live["keys"][0]]
    wanted = {k["access_key"]: k["secret_key"] for k in keys}
    for k in live["keys"]:
        if wanted.get(k["access_key"]) != k["secret_key"]:
            rgw.remove_key(uid, k["access_key"])
            ctx.changed(f"removed key {k['access_key']} of RGW user {uid}")
    have = {k["access_key"]: k["secret_key"] for k in rgw.get_user(uid)["keys"]}
    for access, secret in wanted.items():
        if have.get(access) != secret:
            rgw.create_key(uid, access, secret)
            ctx.changed(f"created key {access} for RGW user {uid}")
    return keys


def reconcile_user(ctx, user):
    kube, rgw = ctx.kube, ctx.rgw
    meta = user["metadata"]
    ns, name = meta["namespace"], meta["name"]
    path = user_path(ns, name)

    # DELETE: RemoveUser (a missing user is no error), then the finalizer goes.
    if meta.get("deletionTimestamp"):
        if FINALIZER not in (meta.get("finalizers") or []):
            return
        try:
            rgw.remove_user(name)
            ctx.changed(f"deleted RGW user {name}")
        except Exception as e:
            if getattr(e, "code", None) != "NoSuchUser":
                raise ReconcileError(f'failed to delete ceph object user "{name}": {e}')
        kube.merge_patch(path, {"metadata": {"finalizers": [f for f in meta["finalizers"] if f != FINALIZER],
                                             "resourceVersion": meta["resourceVersion"]}})
        ctx.changed(f"removed finalizer of CephObjectStoreUser {ns}/{name}")
        return

    if FINALIZER not in (meta.get("finalizers") or []):
        kube.merge_patch(path, {"metadata": {"finalizers": (meta.get("finalizers") or []) + [FINALIZER],
                                             "resourceVersion": meta["resourceVersion"]}})
        ctx.changed(f"added finalizer to CephObjectStoreUser {ns}/{name}")

    store = find_store(ctx, user)
    spec = user.get("spec") or {}
    if spec.get("clusterNamespace") and spec["clusterNamespace"] != ns:
        allowed = (store.get("spec") or {}).get("allowUsersInNamespaces") or []
        if "*" not in allowed and ns not in allowed:
            raise ReconcileError(f'object store "{spec["store"]}" does not allow creating users namespace "{ns}", '
                                 "the namespace must first be added to allowUsersInNamespaces")
    cfg = target_config(user)
    keys, secrets = target_keys(ctx, user) if spec.get("keys") else ([], {})
    if not spec.get("store"):  # validateUser
        raise ReconcileError(f'invalid pool CR "{name}" spec: missing store')
    keys = sync_user(ctx, name, cfg, keys, spec.get("quotas") or {})

    # updateKeyStatus, then reconcileCephUserSecret, then the Ready status.
    key_status = sorted(
        ({"name": s["metadata"]["name"], "namespace": s["metadata"]["namespace"], "uid": s["metadata"]["uid"],
          "resourceVersion": s["metadata"]["resourceVersion"]} for s in secrets.values()),
        key=lambda k: k["name"],
    )
    data = {"AccessKey": keys[0]["access_key"], "SecretKey": keys[0]["secret_key"], "Endpoint": rgw.endpoint}
    tls = ((store.get("spec") or {}).get("gateway") or {}).get("sslCertificateRef")
    if tls:
        data["SSLCertSecretName"] = tls
    ensure_user_secret(ctx, user, data)
    status = user.get("status") or {}
    want = {"phase": "Ready", "info": {"secretName": secret_name(user)}, "observedGeneration": meta.get("generation"),
            "keys": key_status}
    if any(status.get(k) != v for k, v in want.items()):
        kube.patch_status(path, want)
        ctx.changed(f"CephObjectStoreUser {ns}/{name} status Ready")


def ensure_user_secret(ctx, user, data):
    """generateCephUserSecret + CreateOrUpdateObject, owned (controller reference) by the user."""
    ns, sname = user["metadata"]["namespace"], secret_name(user)
    body = {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": ROOK_SECRET_TYPE,
        "metadata": {
            "name": sname,
            "namespace": ns,
            "labels": {"app": APP_NAME, "user": user["metadata"]["name"], "rook_cluster": ns,
                       "rook_object_store": user["spec"]["store"]},
            "ownerReferences": [owner_reference(user)],
        },
        "data": {k: b64(v) for k, v in data.items()},
    }
    path = f"/api/v1/namespaces/{ns}/secrets"
    live = ctx.kube.get(f"{path}/{sname}")
    if live is None:
        ctx.kube.create(path, body)
        ctx.changed(f"created Secret {ns}/{sname}")
    elif live.get("data") != body["data"] or live["metadata"].get("labels") != body["metadata"]["labels"]:
        body["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"]
        ctx.kube.replace(f"{path}/{sname}", body)
        ctx.changed(f"updated Secret {ns}/{sname}")


def set_failed(ctx, user):
    """Reconcile: on error the phase becomes ReconcileFailed."""
    meta = user["metadata"]
    if meta.get("deletionTimestamp") or (user.get("status") or {}).get("phase") == "ReconcileFailed":
        return
    try:
        ctx.kube.patch_status(user_path(meta["namespace"], meta["name"]), {"phase": "ReconcileFailed"})
    except Exception:
        pass
