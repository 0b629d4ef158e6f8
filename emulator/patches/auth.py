"""Temporary credentials are checked as AWS checks them.

moto accepts any access key. Requests signed with temporary credentials (`ASIA…`, from the emulator's STS: the
ones the instance metadata service hands out) are checked here before moto sees them: the key must have been
issued, the session token must be the one issued with it, and the SigV4 signature must verify with its secret.
A wrong key, token or secret fails as on AWS (`InvalidAccessKeyId`, `InvalidToken`, `SignatureDoesNotMatch`;
query and JSON services answer `InvalidClientTokenId` / `UnrecognizedClientException`). Long-term keys (the
`testing` credentials tests use) are not checked: they act as the account's administrator.

A request whose temporary credentials check out is then authorized against the assumed role's policies
(./policy.py): a missing grant is refused with the service's AccessDenied error, as on AWS.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import re
from typing import Any
from urllib.parse import quote, unquote, unquote_plus

from moto.sts.models import sts_backends

from . import policy
from .calls import Call

_AUTH = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request,"
    r"\s*SignedHeaders=(?P<headers>[^,]+),\s*Signature=(?P<signature>[0-9a-f]+)"
)
ACCOUNT = "123456789012"


def _assumed(access_key: str) -> Any | None:
    for role in sts_backends[ACCOUNT]["aws"].assumed_roles:
        if role.access_key_id == access_key:
            return role
    return None


def check(environ: dict[str, Any]) -> tuple[str, str] | None:
    """None when the request may proceed; else (error code, message)."""
    header = environ.get("HTTP_AUTHORIZATION", "")
    match = _AUTH.match(header)
    if match is None or not match.group("key").startswith("ASIA"):
        return None
    role = _assumed(match.group("key"))
    if role is None:
        return "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records."
    token = environ.get("HTTP_X_AMZ_SECURITY_TOKEN")
    if token != role.session_token:
        return "InvalidToken", "The provided token is malformed or otherwise invalid."
    if not _signature_ok(environ, match, role.secret_access_key):
        return (
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. "
            "Check your key and signing method.",
        )
    return None


def authorize(environ: dict[str, Any], call: Call) -> tuple[str, str, int] | None:
    """None when the caller may make the call; else (error code, message, HTTP status) of AWS's refusal."""
    match = _AUTH.match(environ.get("HTTP_AUTHORIZATION", ""))
    if match is None or not match.group("key").startswith("ASIA"):
        return None
    role = _assumed(match.group("key"))
    if role is None:
        return None
    # The CDK bootstrap roles (`cdk-<qualifier>-deploy-role-…`, used by `cdk deploy` against the emulator) come
    # from moto's CloudFormation, which does not attach the bootstrap template's inline policies: not checked.
    if role.role_arn.split("/")[-1].startswith("cdk-"):
        return None
    principal = f"arn:aws:sts::{ACCOUNT}:assumed-role/{role.role_arn.split('/')[-1]}/{role.session_name}"
    for request in (policy.describe(call, environ), policy.copy_source(call, environ), policy.passed_role(call, environ)):
        if request is not None and not policy.authorize(role.role_arn, request):
            return policy.denial(call, principal, request)
    return None


def _uri_encode(text: str, slash: bool = True) -> str:
    return quote(text, safe="-_.~" + ("/" if not slash else ""))


def _signature_ok(environ: dict[str, Any], match: re.Match[str], secret: str) -> bool:
    """Recomputes the SigV4 signature from the request as received (its signed headers, path, query, body)."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    signed = match.group("headers").split(";")
    canonical_headers = []
    for name in signed:
        if name == "content-type":
            key = "CONTENT_TYPE"
        elif name == "content-length":
            key = "CONTENT_LENGTH"
        else:
            key = "HTTP_" + name.upper().replace("-", "_")
        value = " ".join(str(environ.get(key, "")).split())
        canonical_headers.append(f"{name}:{value}\n")
    raw_path = environ.get("RAW_URI") or environ.get("REQUEST_URI") or quote(environ.get("PATH_INFO", "/"))
    path = raw_path.split("?", 1)[0] or "/"
    service = match.group("service")
    if service != "s3":
        path = _uri_encode(unquote(path), slash=False)
    pairs = [p.partition("=") for p in environ.get("QUERY_STRING", "").split("&") if p]
    query = "&".join(
        f"{k}={v}"
        for k, v in sorted((_uri_encode(unquote_plus(k)), _uri_encode(unquote_plus(v))) for k, _, v in pairs)
    )
    payload = environ.get("HTTP_X_AMZ_CONTENT_SHA256") or hashlib.sha256(body).hexdigest()
    canonical = "\n".join(
        [environ.get("REQUEST_METHOD", "GET"), path, query, "".join(canonical_headers), ";".join(signed), payload]
    )
    timestamp = environ.get("HTTP_X_AMZ_DATE", "")
    scope = f"{match.group('date')}/{match.group('region')}/{service}/aws4_request"
    string_to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", timestamp, scope, hashlib.sha256(canonical.encode("utf-8")).hexdigest()]
    )
    key = ("AWS4" + secret).encode("utf-8")
    for part in (match.group("date"), match.group("region"), service, "aws4_request"):
        key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
    signature = hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    return hmac.compare_digest(signature, match.group("signature"))
