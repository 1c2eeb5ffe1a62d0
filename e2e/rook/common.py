"""What both controllers share: the pass context (clients, settings, a log of changes made) and the
helpers Rook's operator takes from its own packages (quantities, operator settings)."""

import base64
import os
import re
import sys

ROOK_GROUP, ROOK_VERSION = "ceph.rook.io", "v1"
OBC_GROUP, OBC_VERSION = "objectbucket.io", "v1alpha1"
# k8sutil.RookType
ROOK_SECRET_TYPE = "kubernetes.io/rook"
# object.AppName
APP_NAME = "rook-ceph-rgw"
# opcontroller: obcAllowAdditionalConfigFieldsDefaultValue
OBC_ALLOWED_DEFAULT = "maxObjects,maxSize"
OPERATOR_CONFIG = "rook-ceph-operator-config"


class ReconcileError(Exception):
    pass


class Context:
    """One pass: clients, operator settings, and every change made (so a pass can show it changed nothing)."""

    def __init__(self, kube, rgw, operator_namespace, verbose=True):
        self.kube = kube
        self.rgw = rgw
        self.operator_namespace = operator_namespace
        self.verbose = verbose
        self.changes = []
        self.settings = self._operator_settings()

    def _operator_settings(self):
        # k8sutil.ApplyOperatorSettingsConfigmap: the ConfigMap's keys override the environment.
        settings = dict(os.environ)
        cm = self.kube.get(f"/api/v1/namespaces/{self.operator_namespace}/configmaps/{OPERATOR_CONFIG}")
        settings.update((cm or {}).get("data") or {})
        return settings

    def setting(self, name, default):
        return self.settings.get(name, default)

    def obc_field_allowed(self, field):
        # SetObcAllowAdditionalConfigFields: strings.Split(value, ",") and an exact match (no trimming).
        return field in self.setting("ROOK_OBC_ALLOW_ADDITIONAL_CONFIG_FIELDS", OBC_ALLOWED_DEFAULT).split(",")

    def changed(self, what):
        self.changes.append(what)
        if self.verbose:
            print(f"[rook] {what}", file=sys.stderr)

    def log(self, what):
        if self.verbose:
            print(f"[rook] {what}", file=sys.stderr)


_SUFFIX = {
    "": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18,
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
}


def quantity(text):
    """resource.ParseQuantity(...).Value() for the forms a quota takes: '1000', '2G', '4Ki', '1.5Gi'."""
    m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([kMGTPE]i?|)\s*", str(text))
    if not m or (m.group(2) == "ki"):
        raise ReconcileError(f"failed to parse {text!r} as a quantity")
    value = float(m.group(1)) * _SUFFIX[m.group(2)]
    return int(-(-value // 1))  # Value() rounds up


def secret_value(kube, namespace, name, key):
    """getSecretValue: the decoded value of one key of a Secret, and the Secret."""
    secret = kube.get(f"/api/v1/namespaces/{namespace}/secrets/{name}")
    if secret is None:
        raise ReconcileError(f'failed to get secret "{namespace}/{name}": secrets "{name}" not found')
    data = secret.get("data") or {}
    if key not in data:
        raise ReconcileError(f'failed to find key "{key}" in secret "{namespace}/{name}"')
    return base64.b64decode(data[key]).decode(), secret


def owner_reference(obj, controller=True):
    return {
        "apiVersion": obj["apiVersion"],
        "kind": obj["kind"],
        "name": obj["metadata"]["name"],
        "uid": obj["metadata"]["uid"],
        "controller": controller,
        "blockOwnerDeletion": True,
    }


def b64(value):
    return base64.b64encode(value.encode()).decode()
