"""The instance metadata service of one emulated instance, reached from inside its sandbox at 169.254.169.254.

IMDSv2 as on EC2: `PUT /latest/api/token` with `X-aws-ec2-metadata-token-ttl-seconds` (1-21600) issues a token,
which `X-aws-ec2-metadata-token` presents; a wrong or expired token is 401. Without a token the request is served
(IMDSv1) unless the instance was launched with `HttpTokens: required`, then it is 401 too. `HttpEndpoint:
disabled` answers 404 to everything (the real service does not answer at all).

Served: the `meta-data/` tree (instance-id, ami-id, instance-type, hostname, local-ipv4, placement/…, mac,
iam/info, iam/security-credentials/<role> with credentials from the emulator's STS for the instance profile's
role), `dynamic/instance-identity/document` and `user-data`.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler
from typing import Any

from moto.ec2.models import ec2_backends
from moto.sts.models import sts_backends

from .state import LOCK

ACCOUNT = "123456789012"
_tokens: dict[str, tuple[str, float]] = {}  # token → (instance id, expiry)
_credentials: dict[str, dict[str, Any]] = {}  # instance id → the last credentials issued
_tokens_lock = threading.Lock()
# Credentials are refreshed this long before they expire, as EC2 does (it rotates them hours ahead).
CREDENTIAL_SECONDS = 6 * 3600


def reset() -> None:
    with _tokens_lock:
        _tokens.clear()
        _credentials.clear()


def _iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _instance(instance_id: str, region: str) -> Any | None:
    backend = ec2_backends[ACCOUNT][region]
    for instance in backend.all_instances():
        if instance.id == instance_id:
            return instance
    return None


def _role(instance_id: str, region: str) -> tuple[str, str, str] | None:
    """(role name, role ARN, profile ARN) of the instance's profile."""
    backend = ec2_backends[ACCOUNT][region]
    association = backend.iam_instance_profile_associations.get(instance_id)
    if association is None:
        return None
    profile = association.iam_instance_profile
    if not profile.roles:
        return None
    role = profile.roles[0]
    return role.name, role.arn, profile.arn


def role_credentials(instance_id: str, region: str) -> dict[str, Any] | None:
    """Credentials for the instance profile's role, from moto's STS (AssumeRole), as IMDS returns them."""
    with LOCK:
        role = _role(instance_id, region)
        if role is None:
            return None
        cached = _credentials.get(instance_id)
        if cached is not None and cached["_role"] == role[1] and cached["_expires"] - time.time() > 300:
            return cached
        assumed = sts_backends[ACCOUNT]["aws"].assume_role(
            region_name=region,
            role_session_name=instance_id,
            role_arn=role[1],
            policy=None,  # type: ignore[arg-type]
            duration=CREDENTIAL_SECONDS,
            external_id=None,  # type: ignore[arg-type]
        )
        now = dt.datetime.now(dt.timezone.utc)
        issued = {
            "Code": "Success",
            "LastUpdated": _iso(now),
            "Type": "AWS-HMAC",
            "AccessKeyId": assumed.access_key_id,
            "SecretAccessKey": assumed.secret_access_key,
            "Token": assumed.session_token,
            "Expiration": _iso(now + dt.timedelta(seconds=CREDENTIAL_SECONDS)),
            "_role": role[1],
            "_expires": time.time() + CREDENTIAL_SECONDS,
        }
        _credentials[instance_id] = issued
        return issued


def _metadata(instance: Any, region: str, path: str) -> str | None:
    """The text of one `meta-data/` path, or None when it does not exist."""
    instance_id = instance.id
    az = instance.placement or f"{region}a"
    role = _role(instance_id, region)
    leaves: dict[str, str] = {
        "ami-id": instance.image_id,
        "ami-launch-index": "0",
        "hostname": instance.private_dns_name or "ip-10-0-0-1.ec2.internal",
        "instance-id": instance_id,
        "instance-type": instance.instance_type,
        "local-hostname": instance.private_dns_name or "ip-10-0-0-1.ec2.internal",
        "local-ipv4": instance.private_ip or "10.0.0.1",
        "mac": "0e:00:00:00:00:01",
        "placement/availability-zone": az,
        "placement/region": region,
        "reservation-id": getattr(instance, "reservation_id", "") or "",
        "security-groups": "\n".join(g.name for g in instance.security_groups),
        "services/domain": "amazonaws.com",
        "services/partition": "aws",
    }
    if instance.public_ip:
        leaves["public-ipv4"] = instance.public_ip
    if role is not None:
        leaves["iam/info"] = json.dumps(
            {
                "Code": "Success",
                "LastUpdated": _iso(dt.datetime.now(dt.timezone.utc)),
                "InstanceProfileArn": role[2],
                "InstanceProfileId": "AIPA" + instance_id[2:].upper().ljust(17, "0")[:17],
            },
            indent=2,
        )
        leaves["iam/security-credentials/"] = role[0]
    path = path.lstrip("/")
    if path in leaves:
        return leaves[path]
    if role is not None and path in (f"iam/security-credentials/{role[0]}", f"iam/security-credentials/{role[0]}/"):
        creds = role_credentials(instance_id, region)
        if creds is None:
            return None
        return json.dumps({k: v for k, v in creds.items() if not k.startswith("_")}, indent=2)
    # A directory: its immediate children, directories with a trailing slash.
    prefix = path if path.endswith("/") or path == "" else path + "/"
    children: list[str] = []
    for key in leaves:
        if key.startswith(prefix) and key != prefix:
            rest = key[len(prefix) :]
            child = rest.split("/", 1)[0] + ("/" if "/" in rest else "")
            if child and child not in children:
                children.append(child)
    if prefix == "iam/security-credentials/" and role is not None:
        return role[0]
    return "\n".join(children) if children else None


class ImdsHandler(BaseHTTPRequestHandler):
    """Serves one instance's metadata; the Unix server it runs in carries `instance_id` and `region`."""

    server_version = "EC2ws"
    sys_version = ""
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass

    def address_string(self) -> str:
        return "sandbox"

    def _send(self, status: int, body: str = "", headers: dict[str, str] | None = None) -> None:
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _context(self) -> tuple[Any, str] | None:
        instance_id: str = self.server.instance_id  # type: ignore[attr-defined]
        region: str = self.server.region  # type: ignore[attr-defined]
        with LOCK:
            instance = _instance(instance_id, region)
        return (instance, region) if instance is not None else None

    def do_PUT(self) -> None:  # noqa: N802 - http.server's naming
        context = self._context()
        if context is None:
            return self._send(404)
        instance, _ = context
        if instance.metadata_options.http_endpoint == "disabled":
            return self._send(404)
        if self.path.split("?")[0] != "/latest/api/token":
            return self._send(405 if self.path.startswith("/latest/") else 404)
        if self.headers.get("X-Forwarded-For"):
            return self._send(403, "Forbidden")
        ttl_text = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds")
        try:
            ttl = int(ttl_text or "")
        except ValueError:
            return self._send(400, "Bad Request")
        if not 1 <= ttl <= 21600:
            return self._send(400, "Bad Request")
        token = base64.b64encode(secrets.token_bytes(42)).decode("ascii")
        with _tokens_lock:
            _tokens[token] = (instance.id, time.time() + ttl)
        self._send(200, token, {"X-aws-ec2-metadata-token-ttl-seconds": str(ttl)})

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        context = self._context()
        if context is None:
            return self._send(404)
        instance, region = context
        if instance.metadata_options.http_endpoint == "disabled":
            return self._send(404)
        token = self.headers.get("X-aws-ec2-metadata-token")
        if token is not None:
            with _tokens_lock:
                owner = _tokens.get(token)
            if owner is None or owner[0] != instance.id or owner[1] < time.time():
                return self._send(401, "Unauthorized")
        elif instance.metadata_options.http_tokens == "required":
            return self._send(401, "Unauthorized")
        path = self.path.split("?")[0]
        if path in ("/", "/latest", "/latest/"):
            return self._send(200, "dynamic\nmeta-data\nuser-data" if path != "/" else "latest")
        if path == "/latest/user-data":
            data = getattr(instance, "user_data", None)
            raw = data[0] if isinstance(data, list) and data else data
            if not raw:
                return self._send(404, "Not Found")
            try:
                text = base64.b64decode(raw).decode("utf-8", errors="replace")
            except (ValueError, TypeError):
                text = str(raw)
            return self._send(200, text)
        if path == "/latest/dynamic/instance-identity/document":
            doc = {
                "accountId": ACCOUNT,
                "architecture": instance.architecture,
                "availabilityZone": instance.placement or f"{region}a",
                "imageId": instance.image_id,
                "instanceId": instance.id,
                "instanceType": instance.instance_type,
                "privateIp": instance.private_ip,
                "region": region,
                "version": "2017-09-30",
                "pendingTime": instance.launch_time,
            }
            return self._send(200, json.dumps(doc, indent=2))
        if path.startswith("/latest/meta-data"):
            with LOCK:
                text = _metadata(instance, region, path[len("/latest/meta-data") :].lstrip("/"))
            if text is None:
                return self._send(404, "Not Found")
            return self._send(200, text)
        self._send(404, "Not Found")

    do_HEAD = do_GET
