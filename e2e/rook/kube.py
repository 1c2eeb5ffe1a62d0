"""A small Kubernetes API client on the standard library (JSON over HTTPS).

The shared venv cannot hold the `kubernetes` package: its 37.x line requires python-dateutil>=3
and botocore 1.43 requires <3. The kubeconfig is read through `kubectl config view --raw -o json`
(kubectl comes with the toolchain), so this needs no YAML parser either. Client certificates,
bearer tokens and token files are supported; exec credential plugins are not needed here.
"""

import base64
import json
import os
import ssl
import subprocess
import tempfile
import urllib.error
import urllib.parse
import urllib.request


class KubeError(Exception):
    def __init__(self, message, status=None, reason=None):
        super().__init__(message)
        self.status = status
        self.reason = reason


class Kube:
    def __init__(self, server, context, token=None):
        self.server = server.rstrip("/")
        self.context = context
        self.token = token

    @classmethod
    def from_kubeconfig(cls, kubeconfig=None):
        env = dict(os.environ)
        if kubeconfig:
            env["KUBECONFIG"] = kubeconfig
        try:
            out = subprocess.run(
                ["kubectl", "config", "view", "--raw", "--minify", "-o", "json"],
                env=env, check=True, capture_output=True, text=True,
            ).stdout
        except FileNotFoundError:
            raise KubeError("kubectl not found on PATH (source <cache>/env.sh from e2e/toolchain.sh)")
        except subprocess.CalledProcessError as e:
            raise KubeError(f"kubectl config view failed: {e.stderr.strip()}")
        cfg = json.loads(out)
        cluster = cfg["clusters"][0]["cluster"]
        user = (cfg.get("users") or [{"user": {}}])[0].get("user") or {}
        ctx = ssl.create_default_context()
        if cluster.get("insecure-skip-tls-verify"):
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        elif cluster.get("certificate-authority-data"):
            ctx.load_verify_locations(cadata=base64.b64decode(cluster["certificate-authority-data"]).decode())
        elif cluster.get("certificate-authority"):
            ctx.load_verify_locations(cafile=cluster["certificate-authority"])
        cert, key = user.get("client-certificate"), user.get("client-key")
        tmp = []
        if user.get("client-certificate-data"):
            cert = _tempfile(base64.b64decode(user["client-certificate-data"]), tmp)
        if user.get("client-key-data"):
            key = _tempfile(base64.b64decode(user["client-key-data"]), tmp)
        if cert:
            ctx.load_cert_chain(cert, key)
        for f in tmp:
            os.unlink(f)
        token = user.get("token")
        if not token and user.get("tokenFile"):
            with open(user["tokenFile"]) as f:
                token = f.read().strip()
        return cls(cluster["server"], ctx, token)

    def request(self, method, path, body=None, content_type="application/json", query=None):
        url = self.server + path + ("?" + urllib.parse.urlencode(query) if query else "")
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(url, data=data, method=method)
        req.add_header("Accept", "application/json")
        # The API server names a client's field manager after its User-Agent's first word: client-go sends
        # "rook/<version> ..." for the operator binary, so managedFields name "rook", as under Rook.
        req.add_header("User-Agent", "rook/v1.20-standin (linux) kubernetes/standin")
        if data is not None:
            req.add_header("Content-Type", content_type)
        if self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(req, context=self.context, timeout=30) as res:
                text = res.read().decode()
        except urllib.error.HTTPError as e:
            text = e.read().decode()
            if e.code == 404 and method == "GET":
                return None
            try:
                doc = json.loads(text)
                message, reason = doc.get("message", text), doc.get("reason")
            except ValueError:
                message, reason = text, None
            raise KubeError(f"{method} {path}: {e.code} {message}", e.code, reason) from None
        except urllib.error.URLError as e:
            raise KubeError(f"{method} {url}: {e.reason}") from None
        return json.loads(text) if text else {}

    def get(self, path):
        return self.request("GET", path)

    def list(self, path):
        res = self.get(path)
        return (res or {}).get("items") or []

    def create(self, path, obj):
        return self.request("POST", path, obj)

    def replace(self, path, obj):
        return self.request("PUT", path, obj)

    def merge_patch(self, path, patch):
        return self.request("PATCH", path, patch, "application/merge-patch+json")

    def patch_status(self, path, status):
        return self.merge_patch(path + "/status", {"status": status})

    def delete(self, path):
        try:
            return self.request("DELETE", path)
        except KubeError as e:
            if e.status == 404:
                return None
            raise


def api_path(group, version, plural, namespace=None, name=None):
    base = f"/api/{version}" if group == "" else f"/apis/{group}/{version}"
    ns = f"/namespaces/{namespace}" if namespace else ""
    return f"{base}{ns}/{plural}" + (f"/{name}" if name else "")


def _tempfile(data, created):
    fd, path = tempfile.mkstemp(prefix="rook-standin-")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    created.append(path)
    return path
