"""Who is calling what: service, operation and region of an AWS request, and AWS-shaped error responses.

The API fault injector and the call counter sit in front of moto as WSGI middleware, so they must recognise an
operation from the raw request the way AWS does: the SigV4 credential scope names the service and region,
`X-Amz-Target` names JSON operations, the `Action` form field names query (EC2, STS, IAM, SNS, CloudFormation)
operations, and S3's REST operations follow from method, path and sub-resource.
"""

from __future__ import annotations

import io
import json
import re
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

_CREDENTIAL = re.compile(r"Credential=[^/,]+/\d{8}/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request")


@dataclass
class Call:
    service: str
    operation: str
    region: str | None
    # ec2 | query | json | rest-xml (S3) | rest-json: how the service shapes its errors.
    protocol: str
    method: str


def identify(environ: dict[str, Any]) -> Call | None:
    """The AWS call an incoming request makes, or None when it is not a signed AWS request."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    match = _CREDENTIAL.search(auth) or _CREDENTIAL.search("Credential=" + (query.get("X-Amz-Credential") or [""])[0])
    if not match:
        return None
    service = match.group("service").lower()
    region = match.group("region")
    method = environ.get("REQUEST_METHOD", "GET")
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return Call(service, target.rsplit(".", 1)[-1], region, "json", method)
    if service == "s3":
        return Call(service, _s3_operation(environ, query), region, "rest-xml", method)
    action = (query.get("Action") or [None])[0]
    if action is None and environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        action = (parse_qs(_peek_body(environ)).get("Action") or [None])[0]
    if action:
        return Call(service, action, region, "ec2" if service == "ec2" else "query", method)
    return Call(service, "*", region, "rest-json", method)


def _peek_body(environ: dict[str, Any]) -> str:
    """Reads a form body and puts it back, so moto still finds it."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body.decode("utf-8", errors="replace")


def _s3_operation(environ: dict[str, Any], query: dict[str, list[str]]) -> str:
    method = environ.get("REQUEST_METHOD", "GET")
    host = environ.get("HTTP_HOST", "")
    parts = environ.get("PATH_INFO", "/").lstrip("/").split("/", 1)
    # Path-style (what the emulator's clients use): /bucket/key. Virtual-host style: bucket in Host.
    virtual = bool(re.match(r"^[^.]+\..*s3", host)) and not host.startswith("s3")
    has_bucket = virtual or bool(parts[0])
    has_key = (len(parts) == 2 and bool(parts[1])) if not virtual else bool(parts[0])
    q = set(query)
    if not has_bucket:
        return "ListBuckets"
    if has_key:
        if method == "PUT":
            if "partNumber" in q:
                return "UploadPart"
            if "acl" in q:
                return "PutObjectAcl"
            if "tagging" in q:
                return "PutObjectTagging"
            return "CopyObject" if environ.get("HTTP_X_AMZ_COPY_SOURCE") else "PutObject"
        if method == "GET":
            if "acl" in q:
                return "GetObjectAcl"
            if "tagging" in q:
                return "GetObjectTagging"
            return "GetObject"
        if method == "HEAD":
            return "HeadObject"
        if method == "DELETE":
            return "AbortMultipartUpload" if "uploadId" in q else "DeleteObject"
        if method == "POST":
            return "CreateMultipartUpload" if "uploads" in q else "CompleteMultipartUpload"
        return "*"
    sub = {
        "ownershipControls": "OwnershipControls",
        "acl": "Acl",
        "policy": "Policy",
        "tagging": "Tagging",
        "versioning": "Versioning",
        "encryption": "Encryption",
        "lifecycle": "LifecycleConfiguration",
        "publicAccessBlock": "PublicAccessBlock",
    }
    for key, name in sub.items():
        if key in q:
            verbs = {"PUT": "Put", "GET": "Get", "DELETE": "Delete"}
            return f"{verbs[method]}Bucket{name}" if method in verbs else "*"
    if method == "PUT":
        return "CreateBucket"
    if method == "HEAD":
        return "HeadBucket"
    if method == "DELETE":
        return "DeleteBucket"
    if method == "POST" and "delete" in q:
        return "DeleteObjects"
    if method == "GET":
        if "location" in q:
            return "GetBucketLocation"
        if "versions" in q:
            return "ListObjectVersions"
        if "uploads" in q:
            return "ListMultipartUploads"
        return "ListObjectsV2" if query.get("list-type") == ["2"] else "ListObjects"
    return "*"


# (error kind, protocol) → (code, HTTP status). Codes the AWS SDKs classify as throttling or transient.
_DEFAULT_CODES = {
    ("throttle", "ec2"): ("RequestLimitExceeded", 503),
    ("throttle", "query"): ("Throttling", 400),
    ("throttle", "json"): ("ThrottlingException", 400),
    ("throttle", "rest-json"): ("ThrottlingException", 429),
    ("throttle", "rest-xml"): ("SlowDown", 503),
    ("5xx", "ec2"): ("InternalError", 500),
    ("5xx", "query"): ("InternalFailure", 500),
    ("5xx", "json"): ("InternalFailure", 500),
    ("5xx", "rest-json"): ("InternalFailure", 500),
    ("5xx", "rest-xml"): ("InternalError", 500),
}

_DEFAULT_MESSAGES = {
    "throttle": "Rate exceeded (injected fault).",
    "5xx": "An internal error has occurred (injected fault).",
    "permanent": "The request failed (injected fault).",
}


def error_response(
    call: Call, kind: str, code: str | None, message: str | None
) -> tuple[int, list[tuple[str, str]], bytes]:
    """An error response in the shape `call`'s service uses, so SDK v3 parses and classifies it as AWS's."""
    default_code, status = _DEFAULT_CODES.get((kind, call.protocol), (code or "InternalFailure", 400))
    code = code or default_code
    message = message or _DEFAULT_MESSAGES[kind]
    request_id = str(uuid.uuid4())
    headers = [("x-amzn-RequestId", request_id), ("x-amz-request-id", request_id)]
    if call.protocol == "ec2":
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>{escape(code)}</Code>'
            f"<Message>{escape(message)}</Message></Error></Errors><RequestID>{request_id}</RequestID></Response>"
        )
        headers.append(("Content-Type", "text/xml;charset=UTF-8"))
    elif call.protocol == "query":
        side = "Receiver" if status >= 500 else "Sender"
        body = (
            f"<ErrorResponse><Error><Type>{side}</Type><Code>{escape(code)}</Code>"
            f"<Message>{escape(message)}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        headers.append(("Content-Type", "text/xml"))
    elif call.protocol == "rest-xml":
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{escape(code)}</Code><Message>{escape(message)}'
            f"</Message><RequestId>{request_id}</RequestId></Error>"
        )
        headers.append(("Content-Type", "application/xml"))
        if call.method == "HEAD":
            body = ""  # HEAD responses carry no body; the SDK names the error from the status code.
    else:
        body = json.dumps({"__type": code, "message": message})
        content_type = "application/json" if call.protocol == "rest-json" else "application/x-amz-json-1.1"
        headers += [("Content-Type", content_type), ("x-amzn-ErrorType", code)]
    data = body.encode("utf-8")
    headers.append(("Content-Length", str(len(data))))
    return status, headers, data
