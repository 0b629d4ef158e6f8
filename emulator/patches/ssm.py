"""SSM Run Command and agent registration, as the workflow sees them on AWS.

moto 5.2.1 answers SendCommand with an immediate `Success` for one fake plugin and has no
DescribeInstanceInformation, ListCommandInvocations or CancelCommand (HTTP 500). Here:

- an instance is *managed* (listed Online) once it runs, has an instance profile and the agent delay has passed,
  unless an agent-offline fault holds it back; SendCommand to an unmanaged instance fails as on AWS;
- SendCommand validates parameters against the document, records the command and, when a `sourceInfo` S3 folder
  is given, what is staged there (keys and `run.sh`), read from moto's own S3 backend;
- in sandbox mode (see `patches.sandbox`), the instance's agent (`patches.agent`) runs the document's steps for
  real in the instance's sandbox, and the invocation reports what they did, as they do it;
- in simulated mode, or when a command fault matches, each invocation advances one step per observation
  (GetCommandInvocation / ListCommandInvocations): Pending → InProgress (`commandSteps` times) → Success, or
  Failed when a command fault matches.
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlparse

from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.ec2.models import ec2_backends
from moto.s3.models import FakeKey, s3_backends
from moto.ssm.models import ssm_backends
from moto.ssm.responses import SimpleSystemManagerResponse

from . import agent, sandbox
from .state import STATE, CommandFault

# GetCommandInvocation and ListCommandInvocations truncate output like AWS does.
STDOUT_LIMIT = 24_000
STDERR_LIMIT = 8_000
PLUGIN_OUTPUT_LIMIT = 2_500

FINAL = {"Success", "Failed", "Cancelled", "TimedOut"}


# What AWS reports when a command was sent without CloudWatch output or notifications.
NO_CLOUDWATCH = {"CloudWatchLogGroupName": "", "CloudWatchOutputEnabled": False}
NO_NOTIFICATION = {"NotificationArn": "", "NotificationEvents": [], "NotificationType": ""}


class SsmError(ServiceException):
    """An SSM error response. Defined here, not in moto: moto looks error codes up in the service model of the
    exception's module, and `moto.core` has none."""


def _iso(moment: dt.datetime | None) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z" if moment else ""


# --- managed instances -----------------------------------------------------------------------------------------


def _managed_instances(account_id: str, region: str) -> list[Any]:
    """Instances the SSM agent would have registered by now."""
    ec2 = ec2_backends[account_id][region]
    managed = []
    for instance in ec2.all_instances():
        if instance.state != "running":
            continue
        if instance.id not in ec2.iam_instance_profile_associations:
            continue  # no instance profile: the agent cannot register
        if STATE.agent_offline(instance.id):
            continue
        launched_epoch = calendar.timegm(instance.launch_time.utctimetuple())
        if not STATE.online_after(instance.id, launched_epoch):
            continue
        if sandbox.MODE.name == "sandbox":
            box = sandbox.get(instance.id)
            if box is None or not box.ready.is_set() or box.error is not None:
                continue  # the instance has not booted (or cannot): no agent
        managed.append(instance)
    return managed


def _role_name(ec2: Any, instance_id: str) -> str | None:
    association = ec2.iam_instance_profile_associations.get(instance_id)
    try:
        return association.iam_instance_profile.roles[0].name
    except (AttributeError, IndexError):
        return None


def describe_instance_information(self: SimpleSystemManagerResponse) -> ActionResult:
    wanted_ids: set[str] | None = None
    wanted_ping: set[str] | None = None
    filter_list = self._get_param("InstanceInformationFilterList", []) or []
    filters = [(f.get("key"), f.get("valueSet", [])) for f in filter_list]
    filters += [(f.get("Key"), f.get("Values", [])) for f in self._get_param("Filters", []) or []]
    for key, values in filters:
        if key == "InstanceIds":
            wanted_ids = set(values) if wanted_ids is None else wanted_ids & set(values)
        elif key == "PingStatus":
            wanted_ping = set(values)
        elif key in ("PlatformTypes", "ResourceType"):
            # Every emulated instance is a Linux EC2 instance.
            if not {"Linux", "EC2Instance"} & set(values):
                wanted_ids = set()
        else:
            raise SsmError(
                "InvalidInstanceInformationFilterValue", f"Filter key {key} is not supported by the emulator."
            )

    ec2 = ec2_backends[self.current_account][self.region]
    now = utcnow()
    entries = []
    for instance in _managed_instances(self.current_account, self.region):
        if wanted_ids is not None and instance.id not in wanted_ids:
            continue
        if wanted_ping is not None and "Online" not in wanted_ping:
            continue
        entry = {
            "InstanceId": instance.id,
            "PingStatus": "Online",
            "LastPingDateTime": now,
            "AgentVersion": "3.3.1142.0",
            "IsLatestVersion": True,
            "PlatformType": "Linux",
            "PlatformName": "Amazon Linux",
            "PlatformVersion": "2",
            "IamRole": _role_name(ec2, instance.id),
            "ResourceType": "EC2Instance",
            "IPAddress": instance.private_ip,
            "ComputerName": instance.private_dns_name,
            "SourceId": instance.id,
            "SourceType": "AWS::EC2::Instance",
        }
        entries.append({k: v for k, v in entry.items() if v is not None})

    start = int(self._get_param("NextToken") or 0)
    size = int(self._get_param("MaxResults") or 50)
    page = entries[start : start + size]
    result: dict[str, Any] = {"InstanceInformationList": page}
    if start + size < len(entries):
        result["NextToken"] = str(start + size)
    return ActionResult(result)


# --- commands --------------------------------------------------------------------------------------------------


@dataclass
class Invocation:
    instance_id: str
    # 0 = Pending, 1..commandSteps = InProgress, beyond = final; advanced by each observation.
    step: int = 0
    cancelled: bool = False
    started: dt.datetime | None = None
    finished: dt.datetime | None = None
    # Sandbox mode: the agent's run of this invocation (None: simulated).
    execution: agent.Execution | None = None


@dataclass
class EmulatedCommand:
    command_id: str
    account_id: str
    region: str
    document_name: str
    document_version: str
    plugins: list[str]
    parameters: dict[str, list[str]]
    comment: str
    instance_ids: list[str]
    timeout_seconds: int
    requested: dt.datetime
    cloudwatch: dict[str, Any] | None
    output_s3_bucket: str | None
    output_s3_prefix: str | None
    service_role: str | None
    notification: dict[str, Any] | None
    max_concurrency: str
    max_errors: str
    targets: list[dict[str, Any]]
    staged: dict[str, Any] | None
    # How the run ends once observed enough: which plugin fails (index), with what code and output.
    exit_code: int = 0
    stdout: str = ""
    stderr: str = ""
    failing_plugin: int | None = None
    fault: dict[str, Any] | None = None
    invocations: dict[str, Invocation] = field(default_factory=dict)

    # -- status -------------------------------------------------------------------------------------------------

    def final_status(self) -> str:
        return "Failed" if self.failing_plugin is not None else "Success"

    def status_of(self, inv: Invocation) -> str:
        if inv.execution is not None:
            return inv.execution.status
        if inv.cancelled:
            return "Cancelled"
        if inv.step == 0:
            return "Pending"
        if inv.step <= STATE.options.command_steps:
            return "InProgress"
        return self.final_status()

    def observe(self, inv: Invocation) -> None:
        if inv.execution is not None:
            inv.started = inv.execution.started
            inv.finished = inv.execution.finished
            return
        if inv.cancelled or self.status_of(inv) in FINAL:
            return
        inv.step += 1
        now = utcnow()
        inv.started = inv.started or now
        if self.status_of(inv) in FINAL:
            inv.finished = now

    def status(self) -> str:
        statuses = [self.status_of(i) for i in self.invocations.values()]
        if not statuses:
            return "Pending"
        if all(s == "Pending" for s in statuses):
            return "Pending"
        if any(s not in FINAL for s in statuses):
            return "InProgress"
        for s in ("Failed", "TimedOut", "Cancelled"):
            if s in statuses:
                return s
        return "Success"

    # -- per plugin ---------------------------------------------------------------------------------------------

    def plugin_result(self, inv: Invocation, index: int) -> dict[str, Any]:
        """Status, code and output of one plugin of one invocation."""
        if inv.execution is not None:
            return inv.execution.steps[index].result()
        status = self.status_of(inv)
        last = len(self.plugins) - 1
        failing = self.failing_plugin
        if status == "Pending":
            return {"Status": "Pending", "ResponseCode": -1, "Stdout": "", "Stderr": ""}
        if status == "InProgress":
            # Earlier steps are done; the last one runs.
            if index < last:
                return {"Status": "Success", "ResponseCode": 0, "Stdout": "", "Stderr": ""}
            return {"Status": "InProgress", "ResponseCode": -1, "Stdout": "", "Stderr": ""}
        if status == "Cancelled":
            return {"Status": "Cancelled", "ResponseCode": -1, "Stdout": "", "Stderr": ""}
        if failing is not None and index > failing:
            # A failed step stops the document; later steps are skipped.
            skipped = "Step skipped: a previous step failed."
            return {"Status": "Failed", "ResponseCode": -1, "Stdout": "", "Stderr": skipped}
        ours = (failing is None and index == last) or index == failing
        if not ours:
            return {"Status": "Success", "ResponseCode": 0, "Stdout": "", "Stderr": ""}
        return {
            "Status": "Failed" if failing is not None else "Success",
            "ResponseCode": self.exit_code,
            "Stdout": self.stdout,
            "Stderr": self.stderr,
        }

    def invocation_result(self, inv: Invocation, plugin: str | None) -> dict[str, Any]:
        if plugin is not None:
            return self.plugin_result(inv, self.plugins.index(plugin))
        # Without a plugin name: the overall status, with the code and output of the step that decided it.
        if inv.execution is not None:
            steps = inv.execution.steps
            deciding = next((i for i, s in enumerate(steps) if s.status in ("Failed", "TimedOut")), len(steps) - 1)
            result = steps[deciding].result()
            result["Status"] = inv.execution.status
            result["StatusDetails"] = inv.execution.details
            return result
        index = self.failing_plugin if self.failing_plugin is not None else len(self.plugins) - 1
        result = self.plugin_result(inv, index)
        result["Status"] = self.status_of(inv)
        return result

    # -- shapes -------------------------------------------------------------------------------------------------

    def command_json(self) -> dict[str, Any]:
        statuses = [self.status_of(i) for i in self.invocations.values()]
        status = self.status()
        shape = {
            "CommandId": self.command_id,
            "DocumentName": self.document_name,
            "DocumentVersion": self.document_version,
            "Comment": self.comment,
            "ExpiresAfter": self.requested + dt.timedelta(seconds=self.timeout_seconds),
            "Parameters": self.parameters,
            "InstanceIds": self.instance_ids,
            "Targets": self.targets,
            "RequestedDateTime": self.requested,
            "Status": status,
            "StatusDetails": status,
            "OutputS3BucketName": self.output_s3_bucket,
            "OutputS3KeyPrefix": self.output_s3_prefix,
            "MaxConcurrency": self.max_concurrency,
            "MaxErrors": self.max_errors,
            "TargetCount": len(self.instance_ids),
            "CompletedCount": sum(1 for s in statuses if s in FINAL),
            "ErrorCount": sum(1 for s in statuses if s in ("Failed", "TimedOut")),
            "DeliveryTimedOutCount": 0,
            "ServiceRole": self.service_role,
            "NotificationConfig": self.notification,
            "CloudWatchOutputConfig": self.cloudwatch,
            "TimeoutSeconds": self.timeout_seconds,
        }
        return {k: v for k, v in shape.items() if v is not None}

    def get_invocation_json(self, inv: Invocation, plugin: str | None) -> dict[str, Any]:
        r = self.invocation_result(inv, plugin)
        status = r["Status"]
        elapsed = (inv.finished or utcnow()) - inv.started if inv.started else dt.timedelta(0)
        return {
            "CommandId": self.command_id,
            "InstanceId": inv.instance_id,
            "Comment": self.comment,
            "DocumentName": self.document_name,
            "DocumentVersion": self.document_version,
            "PluginName": plugin or "",
            "ResponseCode": r["ResponseCode"],
            "ExecutionStartDateTime": _iso(inv.started),
            "ExecutionElapsedTime": f"PT{elapsed.total_seconds():.3f}S",
            "ExecutionEndDateTime": _iso(inv.finished) if status in FINAL else "",
            "Status": status,
            "StatusDetails": r.get("StatusDetails", status),
            "StandardOutputContent": r["Stdout"][:STDOUT_LIMIT],
            "StandardOutputUrl": "",
            "StandardErrorContent": r["Stderr"][:STDERR_LIMIT],
            "StandardErrorUrl": "",
            "CloudWatchOutputConfig": self.cloudwatch or NO_CLOUDWATCH,
        }

    def list_invocation_json(self, inv: Invocation, details: bool) -> dict[str, Any]:
        status = self.status_of(inv)
        shape: dict[str, Any] = {
            "CommandId": self.command_id,
            "InstanceId": inv.instance_id,
            "InstanceName": "",
            "Comment": self.comment,
            "DocumentName": self.document_name,
            "DocumentVersion": self.document_version,
            "RequestedDateTime": self.requested,
            "Status": status,
            "StatusDetails": inv.execution.details if inv.execution is not None else status,
            "StandardOutputUrl": "",
            "StandardErrorUrl": "",
            "CommandPlugins": [],
            "ServiceRole": self.service_role or "",
            "NotificationConfig": self.notification or NO_NOTIFICATION,
            "CloudWatchOutputConfig": self.cloudwatch or NO_CLOUDWATCH,
        }
        if details:
            for index, name in enumerate(self.plugins):
                r = self.plugin_result(inv, index)
                output = r["Stdout"] + (("\n----------ERROR-------\n" + r["Stderr"]) if r["Stderr"] else "")
                plugin = {
                    "Name": name,
                    "Status": r["Status"],
                    "StatusDetails": r.get("StatusDetails", r["Status"]),
                    "ResponseCode": r["ResponseCode"],
                    "ResponseStartDateTime": inv.started,
                    "ResponseFinishDateTime": inv.finished if r["Status"] in FINAL else None,
                    "Output": output[:PLUGIN_OUTPUT_LIMIT],
                    "StandardOutputUrl": "",
                    "StandardErrorUrl": "",
                    "OutputS3BucketName": self.output_s3_bucket or "",
                    "OutputS3KeyPrefix": self.output_s3_prefix or "",
                }
                shape["CommandPlugins"].append({k: v for k, v in plugin.items() if v is not None})
        return shape

    def record_json(self) -> dict[str, Any]:
        """What `GET /_ami-builder/commands` returns for this command."""
        return {
            "commandId": self.command_id,
            "region": self.region,
            "documentName": self.document_name,
            "documentVersion": self.document_version,
            "instanceIds": self.instance_ids,
            "parameters": self.parameters,
            "comment": self.comment,
            "timeoutSeconds": self.timeout_seconds,
            "cloudWatchOutputConfig": self.cloudwatch,
            "outputS3BucketName": self.output_s3_bucket,
            "outputS3KeyPrefix": self.output_s3_prefix,
            "requestedAt": _iso(self.requested),
            "plugins": self.plugins,
            "staged": self.staged,
            "status": self.status(),
            "fault": self.fault,
        }


def _commands(account_id: str, region: str) -> list[EmulatedCommand]:
    return [c for c in STATE.commands if c.account_id == account_id and c.region == region]


def _find_command(account_id: str, region: str, command_id: str, code: str) -> EmulatedCommand:
    for command in _commands(account_id, region):
        if command.command_id == command_id:
            return command
    message = "Invalid command id." if code == "InvalidCommandId" else "An error occurred (InvocationDoesNotExist)."
    raise SsmError(code, message)


# --- documents and parameters ----------------------------------------------------------------------------------


def _document(account_id: str, region: str, name: str, version: str | None) -> Any | None:
    documents = ssm_backends[account_id][region]._documents.get(name)
    if documents is None:
        return None
    if version in (None, "", "$DEFAULT"):
        return documents.get_default_version()
    if version == "$LATEST":
        return documents.get_latest_version()
    found = documents.find_by_version(version)
    if found is None:
        raise SsmError("InvalidDocumentVersion", f"The document version {version} is not valid for {name}.")
    return found


def _plugins(document: Any | None) -> list[str]:
    if document is None:
        # AWS-owned documents (AWS-RunShellScript, …) are not in moto: one shell plugin, as on AWS.
        return ["aws:runShellScript"]
    content = document.content_json
    if content.get("mainSteps"):
        return [step.get("name") or step.get("action") for step in content["mainSteps"]]
    if content.get("runtimeConfig"):
        return list(content["runtimeConfig"].keys())
    return ["aws:runShellScript"]


def _validate_parameters(document: Any, parameters: dict[str, list[str]]) -> None:
    """What AWS checks before accepting a command: known names, required values, allowed patterns and values."""
    declared: dict[str, dict[str, Any]] = document.content_json.get("parameters") or {}
    for name in parameters:
        if name not in declared:
            raise SsmError("InvalidParameters", f'Parameter "{name}" is not defined in document {document.name}.')
    for name, spec in declared.items():
        values = parameters.get(name)
        if values is None:
            if "default" not in spec:
                raise SsmError("InvalidParameters", f'Parameter "{name}" is required by document {document.name}.')
            continue
        kind = spec.get("type", "String")
        if kind == "StringMap":
            for value in values:
                try:
                    parsed = json.loads(value)
                except ValueError:
                    parsed = None
                if not isinstance(parsed, dict):
                    raise SsmError("InvalidParameters", f'Parameter "{name}" must be a JSON object (StringMap).')
        pattern = spec.get("allowedPattern")
        allowed = spec.get("allowedValues")
        for value in values:
            if pattern and not re.search(pattern, value):
                raise SsmError(
                    "InvalidParameters",
                    f'Parameter "{name}" value "{value}" does not match the allowed pattern {pattern}.',
                )
            if allowed and value not in allowed:
                raise SsmError("InvalidParameters", f'Parameter "{name}" value "{value}" is not one of {allowed}.')


# --- staged folder ---------------------------------------------------------------------------------------------

_VIRTUAL_HOST = re.compile(r"^(?P<bucket>.+?)\.s3(?:[.-][a-z0-9-]+)*\.amazonaws\.com(?:\.cn)?$")


def parse_s3_folder(url: str) -> tuple[str, str]:
    """(bucket, key prefix) of an S3 folder URL: path-style, virtual-host style, any region form, or s3://."""
    parsed = urlparse(url)
    host = parsed.hostname or ""
    path = unquote(parsed.path).lstrip("/")
    if parsed.scheme == "s3":
        return host, path
    match = _VIRTUAL_HOST.match(host)
    if match:
        return match.group("bucket"), path
    bucket, _, prefix = path.partition("/")
    return bucket, prefix


def _source_path(parameters: dict[str, list[str]]) -> str | None:
    values = parameters.get("sourceInfo")
    if not values:
        return None
    try:
        info = json.loads(values[0])
    except ValueError:
        return None
    path = info.get("path") if isinstance(info, dict) else None
    return path if isinstance(path, str) else None


def _read_staged(account_id: str, url: str) -> dict[str, Any]:
    bucket_name, prefix = parse_s3_folder(url)
    staged: dict[str, Any] = {"url": url, "bucket": bucket_name, "prefix": prefix, "keys": [], "runScript": None}
    bucket = s3_backends[account_id]["aws"].buckets.get(bucket_name)
    if bucket is None:
        staged["error"] = f"bucket {bucket_name} does not exist"
        return staged
    for key_name in sorted(bucket.keys.keys()):
        if not key_name.startswith(prefix):
            continue
        key = bucket.keys.get(key_name)
        if not isinstance(key, FakeKey):
            continue  # a delete marker
        staged["keys"].append(key_name)
        if key_name == prefix.rstrip("/") + "/run.sh" or (prefix == "" and key_name == "run.sh"):
            staged["runScript"] = key.value.decode("utf-8", errors="replace")
    if not staged["keys"]:
        staged["error"] = f"no objects under s3://{bucket_name}/{prefix}"
    return staged


# --- response methods ------------------------------------------------------------------------------------------


def send_command(self: SimpleSystemManagerResponse) -> ActionResult:
    account, region = self.current_account, self.region
    document_name = self._get_param("DocumentName")
    document_version = self._get_param("DocumentVersion")
    document = _document(account, region, document_name, document_version)
    parameters: dict[str, list[str]] = self._get_param("Parameters", {}) or {}
    if document is not None:
        _validate_parameters(document, parameters)

    instance_ids = list(dict.fromkeys(self._get_param("InstanceIds", []) or []))
    targets = self._get_param("Targets", []) or []
    if targets:
        ec2 = ec2_backends[account][region]
        ec2_filters = {t["Key"]: t["Values"] for t in targets}
        for reservation in ec2.all_reservations(filters=ec2_filters):
            instance_ids += [i.id for i in reservation.instances if i.id not in instance_ids]
    if not instance_ids:
        raise SsmError("ValidationException", "Either InstanceIds or Targets must be given.")
    managed = {i.id for i in _managed_instances(account, region)}
    unmanaged = [i for i in instance_ids if i not in managed]
    if unmanaged:
        # AWS's answer while the agent has not registered yet (or never will).
        raise SsmError("InvalidInstanceId", f"Instances [{unmanaged}] not in a valid state for account {account}")

    plugins = _plugins(document)
    source = _source_path(parameters)
    staged = _read_staged(account, source) if source else None
    working_directory = (parameters.get("workingDirectory") or [""])[0]

    command = EmulatedCommand(
        command_id=str(uuid.uuid4()),
        account_id=account,
        region=region,
        document_name=document_name,
        document_version=document.document_version if document is not None else "1",
        plugins=plugins,
        parameters=parameters,
        comment=self._get_param("Comment", "") or "",
        instance_ids=instance_ids,
        timeout_seconds=int(self._get_param("TimeoutSeconds") or 3600),
        requested=utcnow(),
        cloudwatch=self._get_param("CloudWatchOutputConfig"),
        output_s3_bucket=self._get_param("OutputS3BucketName"),
        output_s3_prefix=self._get_param("OutputS3KeyPrefix"),
        service_role=self._get_param("ServiceRoleArn"),
        notification=self._get_param("NotificationConfig"),
        max_concurrency=self._get_param("MaxConcurrency", "50") or "50",
        max_errors=self._get_param("MaxErrors", "0") or "0",
        targets=targets,
        staged=staged,
        invocations={i: Invocation(i) for i in instance_ids},
    )
    fault: CommandFault | None = None
    if sandbox.MODE.name == "sandbox":
        run_script = staged["runScript"] if staged else None
        fault = STATE.take_command_fault([working_directory, source or "", run_script or ""])
        if fault is None:
            # The instance's agent runs the document for real.
            for inv in command.invocations.values():
                inv.execution = agent.start(command, inv.instance_id, document)
            STATE.commands.append(command)
            return ActionResult({"Command": command.command_json()})
    if fault is not None:
        _apply_fault(command, fault, plugins)
    elif staged is not None and "error" in staged:
        # The download step finds nothing to download: the document stops there, as aws:downloadContent does.
        command.failing_plugin = 0
        command.exit_code = 1
        command.stderr = f"Failed to download content: {staged['error']}"
    else:
        run_script = staged["runScript"] if staged else None
        fault = STATE.take_command_fault([working_directory, source or "", run_script or ""])
        if fault is not None:
            _apply_fault(command, fault, plugins)
    STATE.commands.append(command)
    return ActionResult({"Command": command.command_json()})


def _apply_fault(command: EmulatedCommand, fault: CommandFault, plugins: list[str]) -> None:
    command.exit_code = fault.exit_code
    command.stdout = fault.stdout
    command.stderr = fault.stderr
    command.failing_plugin = len(plugins) - 1 if fault.exit_code != 0 else None
    command.fault = {"match": fault.match.pattern, "exitCode": fault.exit_code}


def list_commands(self: SimpleSystemManagerResponse) -> ActionResult:
    command_id = self._get_param("CommandId")
    instance_id = self._get_param("InstanceId")
    commands = _commands(self.current_account, self.region)
    if command_id:
        commands = [_find_command(self.current_account, self.region, command_id, "InvalidCommandId")]
    if instance_id:
        commands = [c for c in commands if instance_id in c.instance_ids]
    return ActionResult({"Commands": [c.command_json() for c in reversed(commands)]})


def get_command_invocation(self: SimpleSystemManagerResponse) -> ActionResult:
    command = _find_command(self.current_account, self.region, self._get_param("CommandId"), "InvocationDoesNotExist")
    inv = command.invocations.get(self._get_param("InstanceId"))
    if inv is None:
        raise SsmError("InvocationDoesNotExist", "An error occurred (InvocationDoesNotExist).")
    plugin = self._get_param("PluginName") or None
    if plugin is not None and plugin not in command.plugins:
        raise SsmError(
            "InvalidPluginName", f"The plugin name {plugin} is not valid; the document has {command.plugins}."
        )
    command.observe(inv)
    return ActionResult(command.get_invocation_json(inv, plugin))


def list_command_invocations(self: SimpleSystemManagerResponse) -> ActionResult:
    account, region = self.current_account, self.region
    command_id = self._get_param("CommandId")
    instance_id = self._get_param("InstanceId")
    details = bool(self._get_param("Details", False))
    commands = _commands(account, region)
    if command_id:
        commands = [_find_command(account, region, command_id, "InvalidCommandId")]
    wanted_status: set[str] | None = None
    wanted_document: str | None = None
    for f in self._get_param("Filters", []) or []:
        if f.get("key") == "Status":
            wanted_status = {f.get("value")}
        elif f.get("key") == "DocumentName":
            wanted_document = f.get("value")
    rows = []
    for command in reversed(commands):
        if wanted_document and command.document_name != wanted_document:
            continue
        for inv in command.invocations.values():
            if instance_id and inv.instance_id != instance_id:
                continue
            command.observe(inv)
            if wanted_status and command.status_of(inv) not in wanted_status:
                continue
            rows.append(command.list_invocation_json(inv, details))
    start = int(self._get_param("NextToken") or 0)
    size = int(self._get_param("MaxResults") or 50)
    result: dict[str, Any] = {"CommandInvocations": rows[start : start + size]}
    if start + size < len(rows):
        result["NextToken"] = str(start + size)
    return ActionResult(result)


def cancel_command(self: SimpleSystemManagerResponse) -> ActionResult:
    command = _find_command(self.current_account, self.region, self._get_param("CommandId"), "InvalidCommandId")
    instance_ids = self._get_param("InstanceIds", []) or list(command.invocations)
    for instance_id in instance_ids:
        inv = command.invocations.get(instance_id)
        if inv is not None and inv.execution is not None:
            inv.execution.cancel()
        elif inv is not None and command.status_of(inv) not in FINAL:
            inv.cancelled = True
            inv.finished = utcnow()
    return ActionResult({})


def apply() -> None:
    SimpleSystemManagerResponse.describe_instance_information = describe_instance_information
    SimpleSystemManagerResponse.send_command = send_command
    SimpleSystemManagerResponse.list_commands = list_commands
    SimpleSystemManagerResponse.get_command_invocation = get_command_invocation
    SimpleSystemManagerResponse.list_command_invocations = list_command_invocations
    SimpleSystemManagerResponse.cancel_command = cancel_command
