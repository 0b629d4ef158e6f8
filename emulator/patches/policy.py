"""IAM policies enforced for assumed-role credentials, as AWS evaluates them, where the emulator can tell.

moto's own access control (`INITIAL_NO_AUTH_ACTION_COUNT`, moto/iam/access_control.py) is unusable for a
least-privilege stack: most services authorize against the resource `*`, so a statement scoped to an ARN never
matches, and a statement with a `Condition` whose key moto does not supply *denies* the request. It also requires
every long-term key to belong to an IAM user. This module evaluates instead, for requests signed with credentials
from the emulator's STS (each Lambda task's role offline, and the build instance's profile through IMDS):

- the action (`<service>:<Operation>`, S3's REST operations mapped to their IAM actions);
- the resources the emulator can name (S3 buckets and objects, IAM roles and instance profiles, SSM parameters and
  documents, EC2 resources named by id in the request, the role an EC2 instance profile passes);
- the condition keys it can supply: `aws:RequestTag/*` and `aws:TagKeys` (EC2 TagSpecifications, IAM `Tags`),
  `aws:ResourceTag/*` and `ec2:ResourceTag/*` (tags of the EC2 resources named in the request),
  `iam:PassedToService`, `iam:PermissionsBoundary`, `s3:prefix`;
- the role's inline and attached managed policies, and its permissions boundary (both must allow);
- explicit `Deny` statements.

What it cannot tell, it does not refuse: a resource it cannot name matches every `Resource`, a condition on a key
it does not supply is treated as met, and a `Deny` is applied only when its resources and conditions were fully
evaluated. emulator/README.md lists those gaps. Long-term keys (the `testing` credentials of tests and setup) act
as the account's administrator and are not evaluated.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote

from moto.ec2.models import ec2_backends
from moto.iam.models import iam_backends

from .calls import Call

ACCOUNT = "123456789012"

# S3 REST operations → the IAM action each one is authorized as.
_S3_ACTIONS = {
    "HeadObject": "GetObject",
    "HeadBucket": "ListBucket",
    "ListObjects": "ListBucket",
    "ListObjectsV2": "ListBucket",
    "ListObjectVersions": "ListBucketVersions",
    "ListBuckets": "ListAllMyBuckets",
    "CreateMultipartUpload": "PutObject",
    "UploadPart": "PutObject",
    "CompleteMultipartUpload": "PutObject",
    "CopyObject": "PutObject",
    "DeleteObjects": "DeleteObject",
    "AbortMultipartUpload": "AbortMultipartUpload",
    "ListMultipartUploads": "ListBucketMultipartUploads",
    "GetObjectTagging": "GetObjectTagging",
    "PutObjectTagging": "PutObjectTagging",
}
# S3 operations on an object (the resource is bucket/key); the others act on the bucket.
_S3_OBJECT_OPS = {
    "GetObject", "HeadObject", "PutObject", "DeleteObject", "CopyObject", "UploadPart", "CreateMultipartUpload",
    "CompleteMultipartUpload", "AbortMultipartUpload", "GetObjectAcl", "PutObjectAcl", "GetObjectTagging",
    "PutObjectTagging",
}
# EC2 request parameters that name resources, and the ARN resource type of each.
_EC2_ID_PARAMS = (
    (re.compile(r"^InstanceId(\.\d+)?$"), "instance"),
    (re.compile(r"^GroupId(\.\d+)?$"), "security-group"),
    (re.compile(r"^ImageId(\.\d+)?$"), "image"),
    (re.compile(r"^SnapshotId(\.\d+)?$"), "snapshot"),
    (re.compile(r"^ResourceId\.\d+$"), None),
)
_EC2_PREFIXES = {"i": "instance", "sg": "security-group", "ami": "image", "snap": "snapshot", "vol": "volume"}
# EC2 actions whose resource-level permissions the emulator cannot name (several resource types at once, or a
# resource created by the call): only their action is checked.
_EC2_UNNAMED = {"RunInstances", "CopyImage", "RegisterImage", "DescribeImages", "DescribeInstances"}


@dataclass
class Request:
    """What is asked: the action, the resources the emulator could name (empty: unknown), the condition context."""

    action: str
    resources: list[str] = field(default_factory=list)
    context: dict[str, list[str]] = field(default_factory=dict)
    # Keys the emulator models for this request: one absent from `context` is known to be absent.
    modeled: set[str] = field(default_factory=set)


def _form(environ: dict[str, Any]) -> dict[str, list[str]]:
    params = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        body = _body(environ)
        for k, v in parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True).items():
            params.setdefault(k, []).extend(v)
    return params


def _body(environ: dict[str, Any]) -> bytes:
    import io

    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def _one(params: dict[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    return values[0] if values else None


def _tag_pairs(params: dict[str, list[str]], prefix: str) -> list[tuple[str, str]]:
    """`<prefix>N.Key` / `<prefix>N.Value` pairs of a query request."""
    pairs = []
    pattern = re.compile(rf"^{re.escape(prefix)}(\d+)\.Key$")
    for name, values in params.items():
        m = pattern.match(name)
        if m:
            pairs.append((values[0], _one(params, f"{prefix}{m.group(1)}.Value") or ""))
    return pairs


def _ec2_request(call: Call, params: dict[str, list[str]], request: Request) -> None:
    region = call.region or "us-east-1"
    tags = []
    for name in params:
        m = re.match(r"^TagSpecification\.(\d+)\.ResourceType$", name)
        if m:
            tags += _tag_pairs(params, f"TagSpecification.{m.group(1)}.Tag.")
    if call.operation == "CreateTags":
        tags += _tag_pairs(params, "Tag.")
    if call.operation.startswith("Create") or call.operation == "RunInstances":
        _request_tags(request, tags)
    if call.operation in _EC2_UNNAMED:
        return
    ids: list[str] = []
    for name, values in params.items():
        if any(pattern.match(name) for pattern, _ in _EC2_ID_PARAMS):
            ids += values
    resource_tags: dict[str, set[str]] = {}
    for resource_id in ids:
        kind = _EC2_PREFIXES.get(resource_id.split("-", 1)[0])
        if kind is None:
            continue
        account = "" if kind == "image" else ACCOUNT
        request.resources.append(f"arn:aws:ec2:{region}:{account}:{kind}/{resource_id}")
        for k, v in ec2_backends[ACCOUNT][region].tags.get(resource_id, {}).items():
            resource_tags.setdefault(k, set()).add(v)
    if request.resources and len(request.resources) == len(ids):
        # Tags of several resources: a condition must hold for each, approximated by their union.
        for k, values in resource_tags.items():
            for prefix in ("aws:ResourceTag/", "ec2:ResourceTag/"):
                request.context[prefix + k] = sorted(values)
        request.modeled.add("aws:ResourceTag/*")
        request.modeled.add("ec2:ResourceTag/*")


def _request_tags(request: Request, tags: Iterable[tuple[str, str]]) -> None:
    tags = list(tags)
    for k, v in tags:
        request.context[f"aws:RequestTag/{k}"] = [v]
    request.context["aws:TagKeys"] = [k for k, _ in tags]
    request.modeled.update({"aws:RequestTag/*", "aws:TagKeys"})


def _iam_request(call: Call, params: dict[str, list[str]], request: Request) -> None:
    iam = iam_backends[ACCOUNT]["aws"]
    role_name = _one(params, "RoleName")
    profile_name = _one(params, "InstanceProfileName")
    path = _one(params, "Path")
    if call.operation in ("CreateRole", "CreateInstanceProfile"):
        name = role_name if call.operation == "CreateRole" else profile_name
        kind = "role" if call.operation == "CreateRole" else "instance-profile"
        request.resources.append(f"arn:aws:iam::{ACCOUNT}:{kind}{path or '/'}{name}")
        _request_tags(request, _tag_pairs(params, "Tags.member."))
        if call.operation == "CreateRole":
            boundary = _one(params, "PermissionsBoundary")
            request.modeled.add("iam:PermissionsBoundary")
            if boundary:
                request.context["iam:PermissionsBoundary"] = [boundary]
        return
    if profile_name is not None:
        profile = iam.instance_profiles.get(profile_name)
        request.resources.append(
            profile.arn if profile is not None else f"arn:aws:iam::{ACCOUNT}:instance-profile/{profile_name}"
        )
    elif role_name is not None:
        role = next((r for r in iam.roles.values() if r.name == role_name), None)
        request.resources.append(role.arn if role is not None else f"arn:aws:iam::{ACCOUNT}:role/{role_name}")


def _s3_request(call: Call, environ: dict[str, Any], request: Request) -> None:
    parts = environ.get("PATH_INFO", "/").lstrip("/").split("/", 1)
    if call.operation == "ListBuckets" or not parts[0]:
        request.resources.append("*")
        return
    bucket = parts[0]
    if call.operation in _S3_OBJECT_OPS and len(parts) == 2:
        request.resources.append(f"arn:aws:s3:::{bucket}/{unquote(parts[1])}")
    elif call.operation == "DeleteObjects":
        keys = re.findall(r"<Key>(.*?)</Key>", _body(environ).decode("utf-8", errors="replace"), re.S)
        request.resources += [f"arn:aws:s3:::{bucket}/{_xml_text(k)}" for k in keys]
    else:
        request.resources.append(f"arn:aws:s3:::{bucket}")
    if request.action == "s3:ListBucket":
        query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        request.context["s3:prefix"] = [(query.get("prefix") or [""])[0]]
        request.modeled.add("s3:prefix")


def _xml_text(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&apos;", "'").replace(
        "&amp;", "&"
    )


def _json_request(call: Call, environ: dict[str, Any], request: Request) -> None:
    try:
        body = json.loads(_body(environ) or b"{}")
    except ValueError:
        return
    if not isinstance(body, dict):
        return
    region = call.region or "us-east-1"
    if call.service == "ssm":
        names = body.get("Names") or ([body["Name"]] if isinstance(body.get("Name"), str) else [])
        if call.operation in ("GetParameter", "GetParameters", "PutParameter", "DeleteParameter",
                              "AddTagsToResource", "ListTagsForResource") and names:
            for name in names:
                request.resources.append(f"arn:aws:ssm:{region}:{ACCOUNT}:parameter/{str(name).lstrip('/')}")
        elif call.operation == "SendCommand":
            request.resources.append(f"arn:aws:ssm:{region}:{ACCOUNT}:document/{body.get('DocumentName', '')}")
            for instance_id in body.get("InstanceIds") or []:
                request.resources.append(f"arn:aws:ec2:{region}:{ACCOUNT}:instance/{instance_id}")


def describe(call: Call, environ: dict[str, Any]) -> Request | None:
    """The request as IAM sees it, or None when the emulator cannot name its action (then it is not checked)."""
    if call.operation == "*":
        return None
    service = call.service
    operation = _S3_ACTIONS.get(call.operation, call.operation) if service == "s3" else call.operation
    request = Request(action=f"{service}:{operation}")
    if service == "s3":
        _s3_request(call, environ, request)
    elif call.protocol in ("ec2", "query"):
        params = _form(environ)
        if service == "ec2":
            _ec2_request(call, params, request)
        elif service == "iam":
            _iam_request(call, params, request)
    elif call.protocol == "json":
        _json_request(call, environ, request)
    return request


def copy_source(call: Call, environ: dict[str, Any]) -> Request | None:
    """`s3:GetObject` on the source object that CopyObject (and UploadPartCopy) also needs."""
    source = environ.get("HTTP_X_AMZ_COPY_SOURCE")
    if call.service != "s3" or not source:
        return None
    path = unquote(source.split("?", 1)[0]).lstrip("/")
    return Request(action="s3:GetObject", resources=[f"arn:aws:s3:::{path}"])


def passed_role(call: Call, environ: dict[str, Any]) -> Request | None:
    """`iam:PassRole` that RunInstances with an instance profile (or AssociateIamInstanceProfile) implies."""
    if call.service != "ec2" or call.operation not in ("RunInstances", "AssociateIamInstanceProfile"):
        return None
    params = _form(environ)
    name = _one(params, "IamInstanceProfile.Name")
    arn = _one(params, "IamInstanceProfile.Arn")
    iam = iam_backends[ACCOUNT]["aws"]
    profile = None
    if name:
        profile = iam.instance_profiles.get(name)
    elif arn:
        profile = next((p for p in iam.instance_profiles.values() if p.arn == arn), None)
    if profile is None or not profile.roles:
        return None
    return Request(
        action="iam:PassRole",
        resources=[profile.roles[0].arn],
        context={"iam:PassedToService": ["ec2.amazonaws.com"]},
        modeled={"iam:PassedToService"},
    )


# --- Evaluation -------------------------------------------------------------------------------------------------


def _like(pattern: str, value: str) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.S) is not None


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _resource_matches(pattern: str, resource: str) -> bool:
    if pattern == "*":
        return True
    return _like(pattern, resource)


def _is_modeled(key: str, request: Request) -> bool:
    if key in request.modeled:
        return True
    for modeled in request.modeled:
        if modeled.endswith("/*") and key.startswith(modeled[:-1]):
            return True
    return False


_OPERATORS = {
    "StringEquals": lambda p, v: p == v,
    "StringNotEquals": lambda p, v: p == v,
    "StringEqualsIgnoreCase": lambda p, v: p.lower() == v.lower(),
    "StringLike": _like,
    "StringNotLike": _like,
    "ArnEquals": lambda p, v: p == v,
    "ArnLike": _like,
    "ArnNotEquals": lambda p, v: p == v,
    "ArnNotLike": _like,
    "Bool": lambda p, v: str(p).lower() == str(v).lower(),
}


def _condition_met(operator: str, key: str, expected: Any, request: Request) -> bool | None:
    """True or False when evaluated; None when the emulator cannot tell (unknown operator or key)."""
    qualifier, _, op = operator.rpartition(":")
    if_exists = op.endswith("IfExists")
    op = op.removesuffix("IfExists")
    if not _is_modeled(key, request):
        return None
    values = request.context.get(key)
    if op == "Null":
        want_null = str(_as_list(expected)[0]).lower() == "true"
        return (values is None) == want_null
    test = _OPERATORS.get(op)
    if test is None:
        return None
    if values is None:
        return True if if_exists else op.startswith(("StringNot", "ArnNot"))
    patterns = [str(p) for p in _as_list(expected)]
    negated = "Not" in op
    if qualifier == "ForAllValues":
        result = all(any(test(p, v) for p in patterns) for v in values)
        return (not result) if negated else result
    matched = any(test(p, v) for p in patterns for v in values)
    return (not matched) if negated else matched


def _conditions(statement: dict[str, Any], request: Request) -> bool | None:
    result: bool | None = True
    for operator, entries in (statement.get("Condition") or {}).items():
        for key, expected in entries.items():
            met = _condition_met(operator, key, expected, request)
            if met is False:
                return False
            if met is None:
                result = None
    return result


def _statements(document: Any) -> list[dict[str, Any]]:
    if isinstance(document, str):
        document = json.loads(unquote(document) if document.startswith("%7B") else document)
    statements = document.get("Statement", [])
    return statements if isinstance(statements, list) else [statements]


def _action_matches(statement: dict[str, Any], action: str) -> bool:
    if "NotAction" in statement:
        return not any(_like(p.lower(), action.lower()) for p in _as_list(statement["NotAction"]))
    return any(_like(p.lower(), action.lower()) for p in _as_list(statement.get("Action", [])))


def _resource_applies(statement: dict[str, Any], resource: str | None) -> bool | None:
    """Whether the statement covers the resource; None when the resource is unknown."""
    if resource is None:
        return None
    if "NotResource" in statement:
        return not any(_resource_matches(p, resource) for p in _as_list(statement["NotResource"]))
    return any(_resource_matches(p, resource) for p in _as_list(statement.get("Resource", [])))


def evaluate(documents: list[Any], request: Request) -> tuple[bool, bool]:
    """(allowed, denied) by the documents, for every resource of the request."""
    resources: list[str | None] = list(request.resources) or [None]
    allowed_all = True
    denied = False
    statements = [s for d in documents for s in _statements(d)]
    for resource in resources:
        allowed = False
        for s in statements:
            if not _action_matches(s, request.action):
                continue
            applies = _resource_applies(s, resource)
            met = _conditions(s, request)
            if s.get("Effect") == "Deny":
                if applies is True and met is True:
                    denied = True
            elif applies is not False and met is not False:
                allowed = True
        allowed_all = allowed_all and allowed
    return allowed_all, denied


def role_documents(role_arn: str) -> tuple[list[Any], Any | None]:
    """The identity policies of a role (inline and attached) and its permissions boundary's document."""
    iam = iam_backends[ACCOUNT]["aws"]
    name = role_arn.split("/")[-1]
    role = next((r for r in iam.roles.values() if r.name == name), None)
    if role is None:
        return [], None
    documents: list[Any] = list(role.policies.values())
    for policy in role.managed_policies.values():
        documents.append(_default_document(policy))
    boundary = None
    if role.permissions_boundary_arn:
        policy = iam.managed_policies.get(role.permissions_boundary_arn)
        boundary = _default_document(policy) if policy is not None else {"Statement": []}
    return documents, boundary


def _default_document(policy: Any) -> Any:
    version = next(v for v in policy.versions if v.is_default)
    return version.document


def authorize(role_arn: str, request: Request) -> bool:
    documents, boundary = role_documents(role_arn)
    allowed, denied = evaluate(documents, request)
    if denied or not allowed:
        return False
    if boundary is not None:
        allowed, denied = evaluate([boundary], request)
        if denied or not allowed:
            return False
    return True


def denial(call: Call, principal: str, request: Request) -> tuple[str, str, int]:
    """(code, message, HTTP status) of AWS's refusal, in the calling service's words."""
    resource = next((r for r in request.resources if r != "*"), None)
    on = f" on resource: {resource}" if resource else ""
    message = f"User: {principal} is not authorized to perform: {request.action}{on}"
    if call.service == "ec2":
        return "UnauthorizedOperation", f"You are not authorized to perform this operation. {message}", 403
    if call.service == "s3":
        return "AccessDenied", "Access Denied", 403
    if call.protocol == "json":
        return "AccessDeniedException", message, 400
    return "AccessDenied", message, 403
