"""Rook stand-in: does what Rook 1.20's operator does for CephObjectStoreUser and ObjectBucketClaim, and
nothing more, against the real RGW of e2e/objectstore.sh. See e2e/STANDINS.md.

  rook.py reconcile --once    one pass over every object; exit 1 with the errors when any object failed
  rook.py watch               a pass every second (--interval) until killed (SIGTERM/SIGINT end it cleanly)

Environment: KUBECONFIG (or --kubeconfig), BACKUP_PLATFORM_S3_ENDPOINT and BACKUP_PLATFORM_CEPH_CONF
(`eval "$(e2e/objectstore.sh env)"`), ROOK_OPERATOR_NAMESPACE (default rook-ceph): where
rook-ceph-operator-config is read from, as Rook reads it from its own namespace. Operator settings
(ROOK_OBC_ALLOW_ADDITIONAL_CONFIG_FIELDS, ROOK_OBC_PROVISIONER_NAME_PREFIX) come from that ConfigMap,
else from this process's environment, else Rook's defaults.
"""

import argparse
import os
import signal
import sys
import time

import claims
import users
from common import OBC_GROUP, OBC_VERSION, ROOK_GROUP, ROOK_VERSION, Context, ReconcileError
from kube import Kube, KubeError, api_path
from rgw import Rgw, RgwError


def one_pass(kube, rgw, operator_namespace, verbose, namespace=None):
    """Every CephObjectStoreUser first (claims name users as owners), then every ObjectBucketClaim."""
    ctx = Context(kube, rgw, operator_namespace, verbose)
    errors = []
    for user in kube.list(api_path(ROOK_GROUP, ROOK_VERSION, "cephobjectstoreusers", namespace)):
        ref = f"CephObjectStoreUser {user['metadata']['namespace']}/{user['metadata']['name']}"
        try:
            users.reconcile_user(ctx, user)
        except (ReconcileError, RgwError, KubeError) as e:
            errors.append(f"{ref}: {e}")
            users.set_failed(ctx, user)
        except Exception as e:  # a malformed object must not stop the pass (or the watch)
            errors.append(f"{ref}: {type(e).__name__}: {e}")
            users.set_failed(ctx, user)
    for obc in kube.list(api_path(OBC_GROUP, OBC_VERSION, "objectbucketclaims", namespace)):
        ref = f"ObjectBucketClaim {obc['metadata']['namespace']}/{obc['metadata']['name']}"
        try:
            claims.reconcile_claim(ctx, obc)
        except (ReconcileError, RgwError, KubeError) as e:
            errors.append(f"{ref}: {e}")
        except Exception as e:  # an S3 error Rook would wrap and requeue, or a malformed object
            errors.append(f"{ref}: {type(e).__name__}: {e}")
    return ctx.changes, errors


def main(argv=None):
    ap = argparse.ArgumentParser(prog="rook.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["reconcile", "watch"])
    ap.add_argument("--once", action="store_true", help="with reconcile: one pass (the only reconcile mode)")
    ap.add_argument("--interval", type=float, default=1.0, help="watch: seconds between passes (default 1)")
    ap.add_argument("--kubeconfig", default=None)
    ap.add_argument("--endpoint", default=os.environ.get("BACKUP_PLATFORM_S3_ENDPOINT"))
    ap.add_argument("--ceph-conf", default=os.environ.get("BACKUP_PLATFORM_CEPH_CONF"))
    ap.add_argument("--operator-namespace", default=os.environ.get("ROOK_OPERATOR_NAMESPACE", "rook-ceph"))
    ap.add_argument("--namespace", default=None,
                    help="only objects in this namespace (default: all, as Rook watches all namespaces)")
    ap.add_argument("--quiet", action="store_true", help="print only errors and the summary")
    a = ap.parse_args(argv)
    if a.mode == "reconcile" and not a.once:
        ap.error("reconcile needs --once (use watch to keep reconciling)")
    if not a.endpoint or not a.ceph_conf:
        ap.error('BACKUP_PLATFORM_S3_ENDPOINT and BACKUP_PLATFORM_CEPH_CONF must be set (eval "$(e2e/objectstore.sh env)")')

    try:
        kube = Kube.from_kubeconfig(a.kubeconfig)
        rgw = Rgw(a.endpoint, a.ceph_conf)
    except (KubeError, RgwError) as e:
        print(f"[rook] ERROR: {e}", file=sys.stderr)
        return 2

    if a.mode == "reconcile":
        t0 = time.monotonic()
        try:
            changes, errors = one_pass(kube, rgw, a.operator_namespace, not a.quiet, a.namespace)
        except (KubeError, RgwError) as e:
            print(f"[rook] ERROR: {e}", file=sys.stderr)
            return 2
        for e in errors:
            print(f"[rook] ERROR: {e}", file=sys.stderr)
        print(f"[rook] pass done in {time.monotonic() - t0:.2f}s: {len(changes)} change(s), {len(errors)} error(s)", file=sys.stderr)
        return 1 if errors else 0

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    last_errors = None
    print(f"[rook] watching every {a.interval}s (pid {os.getpid()})", file=sys.stderr)
    while not stop:
        try:
            changes, errors = one_pass(kube, rgw, a.operator_namespace, not a.quiet, a.namespace)
        except (KubeError, RgwError) as e:
            changes, errors = [], [str(e)]
        if errors != last_errors:  # an error that persists is reported once, as a requeue would log it
            for e in errors:
                print(f"[rook] ERROR: {e}", file=sys.stderr)
            last_errors = errors
        deadline = time.monotonic() + a.interval
        while not stop and time.monotonic() < deadline:
            time.sleep(0.05)
    print("[rook] stopped", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
