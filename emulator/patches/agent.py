"""The SSM agent of an emulated instance, in sandbox mode: runs a command document's steps for real.

- `aws:downloadContent` (sourceType S3): lists and downloads the S3 folder (or object) named by `sourceInfo.path`
  over HTTP from the emulator, signed with the instance profile role's credentials (the ones the metadata service
  serves), and unpacks it into `destinationPath` inside the sandbox (relative paths are relative to the step's
  orchestration folder). Sub-folders are kept. A missing bucket, nothing to download or a refused request fails
  the step with exit code 1, as the agent does.
- `aws:runShellScript`: writes `runCommand` to `<orchestration>/_script.sh` and runs it with `sh -c` as root in
  `workingDirectory` (created when missing), with the agent's environment (PATH, AWS_SSM_INSTANCE_ID,
  AWS_SSM_REGION_NAME). stdout and stderr are read line by line as they are written: into the invocation (the
  first 24,000 / 8,000 characters show in GetCommandInvocation) and, when the command asked for CloudWatch output,
  into the log streams `<command>/<instance>/<step>/stdout` and `…/stderr`. `timeoutSeconds` ends the script
  (status `TimedOut`), CancelCommand ends it (`Cancelled`). A non-zero exit fails the step and skips the later ones;
  exit 194 asks the agent to reboot and run the step again, as on AWS (at most 5 times here).

The orchestration folder is `/var/lib/amazon/ssm/<instance>/document/orchestration/<command>/<step>`, as the agent
lays it out.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import tarfile
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlparse

from moto.core.utils import utcnow
from moto.logs.models import logs_backends

from . import imds, sandbox
from .state import LOCK

STDOUT_LIMIT = 24_000
STDERR_LIMIT = 8_000
AGENT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/snap/bin"
REBOOT_EXIT_CODE = 194
MAX_REBOOTS = 5
MAX_TIMEOUT_SECONDS = 172_800


@dataclass
class StepState:
    name: str
    action: str
    status: str = "Pending"
    details: str = "Pending"
    code: int = -1
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)
    stdout_len: int = 0
    stderr_len: int = 0
    started: Any = None
    finished: Any = None

    def out(self, stream: str, text: str) -> None:
        if stream == "stdout":
            self.stdout.append(text)
            self.stdout_len += len(text)
        else:
            self.stderr.append(text)
            self.stderr_len += len(text)

    def result(self) -> dict[str, Any]:
        return {
            "Status": self.status,
            "StatusDetails": self.details,
            "ResponseCode": self.code,
            "Stdout": "".join(self.stdout)[:STDOUT_LIMIT],
            "Stderr": "".join(self.stderr)[:STDERR_LIMIT],
        }


@dataclass
class Execution:
    """One invocation (command × instance) as the agent runs it."""

    command: Any  # ssm.EmulatedCommand
    instance_id: str
    steps: list[StepState]
    status: str = "Pending"
    details: str = "Pending"
    process: subprocess.Popen[bytes] | None = None
    cancel_requested: bool = False
    started: Any = None
    finished: Any = None
    done: threading.Event = field(default_factory=threading.Event)

    def cancel(self) -> None:
        if self.status in ("Success", "Failed", "TimedOut", "Cancelled"):
            return
        self.cancel_requested = True
        self.details = "Cancelling"
        _kill(self.process)


def _kill(process: subprocess.Popen[bytes] | None) -> None:
    if process is not None and process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _render(value: Any, parameters: dict[str, Any]) -> Any:
    """`{{ name }}` references of a document's inputs, with the command's parameters."""
    if isinstance(value, list):
        out: list[Any] = []
        for item in value:
            rendered = _render(item, parameters)
            if isinstance(item, str) and item.strip().startswith("{{") and isinstance(rendered, list):
                out.extend(rendered)
            else:
                out.append(rendered)
        return out
    if isinstance(value, dict):
        return {k: _render(v, parameters) for k, v in value.items()}
    if not isinstance(value, str):
        return value
    stripped = value.strip()
    if stripped.startswith("{{") and stripped.endswith("}}") and stripped.count("{{") == 1:
        name = stripped[2:-2].strip()
        if name in parameters:
            return parameters[name]
    text = value
    for name, param in parameters.items():
        replacement = param if isinstance(param, str) else json.dumps(param) if isinstance(param, dict) else "\n".join(param)
        text = text.replace("{{ " + name + " }}", replacement).replace("{{" + name + "}}", replacement)
    return text


def document_steps(document: Any, parameters: dict[str, list[str]]) -> list[tuple[str, str, dict[str, Any]]]:
    """(name, action, rendered inputs) of each step; AWS-RunShellScript when the document is not in moto."""
    if document is None:
        commands = parameters.get("commands") or []
        return [
            (
                "aws:runShellScript",
                "aws:runShellScript",
                {
                    "runCommand": commands,
                    "workingDirectory": (parameters.get("workingDirectory") or [""])[0],
                    "timeoutSeconds": (parameters.get("executionTimeout") or ["3600"])[0],
                },
            )
        ]
    content = document.content_json
    declared: dict[str, dict[str, Any]] = content.get("parameters") or {}
    values: dict[str, Any] = {}
    for name, spec in declared.items():
        given = parameters.get(name)
        kind = spec.get("type", "String")
        if given is None:
            default = spec.get("default")
            if default is None:
                continue
            values[name] = default
            continue
        if kind == "StringMap":
            values[name] = json.loads(given[0])
        elif kind == "StringList":
            values[name] = list(given)
        else:
            values[name] = given[0]
    steps = []
    for step in content.get("mainSteps") or []:
        steps.append((step.get("name") or step["action"], step["action"], _render(step.get("inputs") or {}, values)))
    return steps


def start(command: Any, instance_id: str, document: Any) -> Execution:
    steps = document_steps(document, command.parameters)
    execution = Execution(command, instance_id, [StepState(name, action) for name, action, _ in steps])
    threading.Thread(
        target=_run, args=(execution, steps), daemon=True, name=f"agent-{command.command_id[:8]}"
    ).start()
    return execution


def _orchestration(execution: Execution, step: str) -> str:
    return (
        f"/var/lib/amazon/ssm/{execution.instance_id}/document/orchestration/"
        f"{execution.command.command_id}/{step}"
    )


def _run(execution: Execution, steps: list[tuple[str, str, dict[str, Any]]]) -> None:
    box = sandbox.get(execution.instance_id)
    try:
        # The agent picks the command up on its next poll.
        time.sleep(0.05)
        execution.status = execution.details = "InProgress"
        execution.started = utcnow()
        failed = False
        for state, (_, action, inputs) in zip(execution.steps, steps):
            if execution.cancel_requested:
                break
            if failed:
                # Never started: the step stays Pending (its details say Skipped), with no exit code.
                state.details = "Skipped"
                continue
            state.status = state.details = "InProgress"
            state.started = utcnow()
            if box is None or box.error or box.init_pid is None:
                state.out("stderr", "The instance is not running.\n")
                state.code, state.status, state.details = 1, "Failed", "Failed"
            elif action == "aws:downloadContent":
                _download(execution, box, state, inputs)
            elif action == "aws:runShellScript":
                _shell(execution, box, state, inputs)
            else:
                state.out("stderr", f"Plugin {action} is not supported by the emulated agent.\n")
                state.code, state.status, state.details = 1, "Failed", "Failed"
            state.finished = utcnow()
            if state.status != "Success":
                failed = True
        _finish(execution)
    except Exception as e:  # noqa: BLE001 - the invocation must end, whatever went wrong
        for state in execution.steps:
            if state.status in ("Pending", "InProgress"):
                state.out("stderr", f"internal error of the emulated agent: {e}\n")
                state.code, state.status, state.details = 1, "Failed", "Failed"
        _finish(execution)


def _finish(execution: Execution) -> None:
    statuses = [s.status for s in execution.steps]
    if execution.cancel_requested:
        for s in execution.steps:
            if s.status in ("Pending", "InProgress"):
                s.status = s.details = "Cancelled"
        execution.status = execution.details = "Cancelled"
    elif "TimedOut" in statuses:
        execution.status, execution.details = "TimedOut", "ExecutionTimedOut"
    elif any(s in ("Failed", "Skipped") for s in statuses):
        execution.status = execution.details = "Failed"
    else:
        execution.status = execution.details = "Success"
    execution.finished = utcnow()
    execution.done.set()


# --- aws:downloadContent ---------------------------------------------------------------------------------------


def _s3_client(instance_id: str, region: str) -> Any:
    import boto3
    from botocore.config import Config

    creds = imds.role_credentials(instance_id, region)
    if creds is None:
        raise PermissionError("the instance has no instance profile: the agent has no credentials")
    return boto3.client(
        "s3",
        region_name=region,
        endpoint_url=f"http://127.0.0.1:{sandbox.AWS_PORT['port']}",
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["Token"],
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}),
    )


def _bucket_and_key(url: str) -> tuple[str, str]:
    from .ssm import parse_s3_folder

    return parse_s3_folder(url)


def _download(execution: Execution, box: sandbox.Sandbox, state: StepState, inputs: dict[str, Any]) -> None:
    source_type = inputs.get("sourceType")
    info = inputs.get("sourceInfo")
    if isinstance(info, str):
        try:
            info = json.loads(info)
        except ValueError:
            info = {}
    path = (info or {}).get("path", "") if isinstance(info, dict) else ""
    destination = str(inputs.get("destinationPath") or "")
    if not destination.startswith("/"):
        destination = _orchestration(execution, state.name) + "/downloads/" + destination
    if source_type != "S3" or not path:
        state.out("stderr", f"Invalid sourceType {source_type!r} or sourceInfo without a path.\n")
        state.code, state.status, state.details = 1, "Failed", "Failed"
        return
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, key = _bucket_and_key(path)
    try:
        s3 = _s3_client(execution.instance_id, execution.command.region)
        files: list[tuple[str, bytes]] = []
        if key == "" or key.endswith("/"):
            paginator = s3.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=bucket, Prefix=key):
                for obj in page.get("Contents", []):
                    name = obj["Key"]
                    if name.endswith("/"):
                        continue
                    body = s3.get_object(Bucket=bucket, Key=name)["Body"].read()
                    files.append((name[len(key) :], body))
            if not files:
                raise FileNotFoundError(f"no objects under s3://{bucket}/{key}")
        else:
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            files.append((os.path.basename(key), body))
    except (ClientError, BotoCoreError, FileNotFoundError, PermissionError) as e:
        state.out("stderr", f"Failed to download content from {path}: {e}\n")
        state.code, state.status, state.details = 1, "Failed", "Failed"
        return
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        for name, body in files:
            entry = tarfile.TarInfo(name)
            entry.size = len(body)
            entry.mode = 0o644
            entry.mtime = int(time.time())
            tar.addfile(entry, io.BytesIO(body))
    unpack = subprocess.run(
        box.nsenter()
        + ["/bin/sh", "-c", 'mkdir -p -- "$1" && tar -x --no-same-owner -C "$1" -f -', "sh", destination],
        input=archive.getvalue(),
        capture_output=True,
        timeout=120,
    )
    if unpack.returncode != 0:
        state.out("stderr", f"Failed to write the content to {destination}: {unpack.stderr.decode(errors='replace')}")
        state.code, state.status, state.details = 1, "Failed", "Failed"
        return
    state.out("stdout", f"Content downloaded to {destination}\n")
    state.code, state.status, state.details = 0, "Success", "Success"


# --- aws:runShellScript ----------------------------------------------------------------------------------------


class _CloudWatch:
    """Writes a step's output lines to its log streams, as the agent does with CloudWatchOutputConfig."""

    def __init__(self, execution: Execution, step: str):
        config = execution.command.cloudwatch or {}
        self.enabled = bool(config.get("CloudWatchOutputEnabled"))
        group = config.get("CloudWatchLogGroupName") or ""
        if not group:
            group = f"/aws/ssm/{execution.command.document_name}"
        self.group = group
        # Log stream names cannot hold ':' (AWS-RunShellScript's step is aws:runShellScript → aws-runShellScript).
        self.prefix = f"{execution.command.command_id}/{execution.instance_id}/{step.replace(':', '-')}"
        self.account = execution.command.account_id
        self.region = execution.command.region
        self.created: set[str] = set()

    def write(self, stream: str, line: str) -> None:
        if not self.enabled:
            return
        name = f"{self.prefix}/{stream}"
        with LOCK:
            backend = logs_backends[self.account][self.region]
            if self.group not in backend.groups:
                backend.create_log_group(self.group, {})
            if name not in self.created:
                if name not in backend.groups[self.group].streams:
                    backend.create_log_stream(self.group, name)
                self.created.add(name)
            message = line.rstrip("\n") or " "
            backend.put_log_events(self.group, name, [{"timestamp": int(time.time() * 1000), "message": message}])


def _shell(execution: Execution, box: sandbox.Sandbox, state: StepState, inputs: dict[str, Any]) -> None:
    commands = inputs.get("runCommand") or []
    if isinstance(commands, str):
        commands = [commands]
    workdir = str(inputs.get("workingDirectory") or "")
    try:
        timeout = int(str(inputs.get("timeoutSeconds") or "3600"))
    except ValueError:
        timeout = 3600
    timeout = max(1, min(timeout, MAX_TIMEOUT_SECONDS))
    orchestration = _orchestration(execution, state.name)
    script = "\n".join(str(c) for c in commands) + "\n"
    cloudwatch = _CloudWatch(execution, state.name)
    env = {
        "PATH": AGENT_PATH,
        "AWS_SSM_INSTANCE_ID": execution.instance_id,
        "AWS_SSM_REGION_NAME": execution.command.region,
        "LANG": "C.UTF-8",
    }
    # Orchestration folder and script, written inside the sandbox; the working directory is created when missing.
    setup = subprocess.run(
        box.nsenter()
        + [
            "/bin/sh",
            "-c",
            'mkdir -p -- "$1" && cat > "$1/_script.sh" && chmod 0700 "$1/_script.sh"'
            ' && if [ -n "$2" ]; then mkdir -p -- "$2"; fi',
            "sh",
            orchestration,
            workdir,
        ],
        input=script.encode("utf-8"),
        capture_output=True,
        timeout=60,
    )
    if setup.returncode != 0:
        state.out("stderr", f"Failed to prepare the script: {setup.stderr.decode(errors='replace')}")
        state.code, state.status, state.details = 1, "Failed", "Failed"
        return
    # Without a workingDirectory the agent runs the script in its orchestration folder.
    runner = 'cd -- "${1:-$2}" || exit 1; exec sh -c "$2/_script.sh"'
    reboots = 0
    deadline = time.monotonic() + timeout
    while True:
        process = subprocess.Popen(
            box.nsenter(orchestration) + ["/usr/bin/env", "-i", *[f"{k}={v}" for k, v in env.items()], "/bin/bash", "-c", runner, "sh", workdir, orchestration],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        execution.process = process
        if execution.cancel_requested:
            _kill(process)  # cancelled while the script was being prepared
        readers = [
            threading.Thread(target=_read, args=(process.stdout, "stdout", state, cloudwatch), daemon=True),
            threading.Thread(target=_read, args=(process.stderr, "stderr", state, cloudwatch), daemon=True),
        ]
        for r in readers:
            r.start()
        timed_out = False
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill(process)
            process.wait()
        for r in readers:
            r.join(timeout=5)
        code = process.returncode
        if execution.cancel_requested:
            state.code = -1
            state.status = state.details = "Cancelled"
            return
        if timed_out:
            state.out("stderr", "\nfailed to run commands: exit status 124\n")
            state.code, state.status, state.details = 124, "TimedOut", "ExecutionTimedOut"
            return
        if code == REBOOT_EXIT_CODE and reboots < MAX_REBOOTS:
            reboots += 1
            time.sleep(0.1)  # the instance "reboots"; the agent runs the step again afterwards
            continue
        break
    if code < 0:  # killed by a signal
        code = 128 - code
    state.code = code
    if code == 0:
        state.status = state.details = "Success"
    else:
        line = f"failed to run commands: exit status {code}\n"
        state.out("stderr", line)
        cloudwatch.write("stderr", line)
        state.status = state.details = "Failed"


def _read(pipe: Any, stream: str, state: StepState, cloudwatch: _CloudWatch) -> None:
    for raw in iter(pipe.readline, b""):
        text = raw.decode("utf-8", errors="replace")
        state.out(stream, text)
        try:
            cloudwatch.write(stream, text)
        except Exception:  # noqa: BLE001 - the command goes on even when its log cannot be written
            pass
    pipe.close()
