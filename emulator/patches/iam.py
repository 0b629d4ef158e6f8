"""Instance profiles for builds, created through the control API.

RunInstances with an `IamInstanceProfile` fails in moto (as on AWS) unless the profile exists, and the project
ships no IAM client: the stack creates the build profile on AWS. `POST /_ami-builder/instance-profiles` creates
a role that EC2 may assume and a profile holding it, idempotently.
"""

from __future__ import annotations

import json
import re
from typing import Any

from moto.core import DEFAULT_ACCOUNT_ID
from moto.iam.models import iam_backends

from .state import ControlRequestError

_NAME = re.compile(r"^[\w+=,.@-]{1,128}$")

_EC2_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
)


def create_instance_profile(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict) or set(body) - {"name", "roleName"}:
        raise ControlRequestError('an instance profile is {"name": "...", "roleName"?: "..."}')
    name = body.get("name")
    role_name = body.get("roleName") or name
    for label, value in (("name", name), ("roleName", role_name)):
        if not isinstance(value, str) or not _NAME.match(value):
            raise ControlRequestError(f"instance profile: {label} must be an IAM name ([\\w+=,.@-], 1-128), got {value!r}")
    iam = iam_backends[DEFAULT_ACCOUNT_ID]["aws"]
    if all(role.name != role_name for role in iam.roles.values()):
        iam.create_role(role_name, _EC2_TRUST, "/", None, "ami-builder build instance role", [], None)
    profile = iam.instance_profiles.get(name)
    if profile is None:
        profile = iam.create_instance_profile(name, "/", [role_name])
    return {"name": profile.name, "arn": profile.arn, "roleName": role_name}
