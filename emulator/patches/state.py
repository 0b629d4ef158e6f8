"""The emulator's own state, next to moto's backends: options, injected faults and what tests read back.

moto keeps resources (instances, images, documents, buckets) in its backends; this module keeps only what moto has
no place for. Everything here is cleared by a reset, together with moto's backends (see `_reset` in `patches/__init__.py`).
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

# One lock for the whole server. moto's backends are plain dicts and lists that are not safe for concurrent
# writers, and our status progressions must be deterministic, so the WSGI middleware runs one request at a time.
LOCK = threading.RLock()


# The signing name a request carries (what faults match on), for the other names a fault may use.
SERVICE_ALIASES = {"sfn": "states", "stepfunctions": "states", "eventbridge": "events", "cloudwatch-logs": "logs"}


class ControlRequestError(ValueError):
    """A fault, option, image or profile sent to the control API is malformed; the message says what and why."""


@dataclass
class Options:
    """Timing knobs. Defaults are chosen so that a whole build runs in well under a second of emulated waits."""

    # Seconds between RunInstances and the instance being listed Online by DescribeInstanceInformation.
    agent_online_delay_s: float = 0.3
    # DescribeImages calls that still show a new image `pending` before it turns `available` (or `failed`).
    image_describes_until_available: int = 1
    # GetCommandInvocation/ListCommandInvocations observations that report `InProgress` before the final status.
    command_steps: int = 1
    # Seconds an instance stays `pending` after RunInstances (in sandbox mode, at least until its sandbox booted).
    instance_start_s: float = 0.2
    # Seconds a terminated instance stays `shutting-down` before it is `terminated`.
    instance_stop_s: float = 0.2
    # Seconds a registered image or copy stays `pending` at least (besides imageDescribesUntilAvailable).
    image_pending_s: float = 0.2

    def to_json(self) -> dict[str, Any]:
        return {
            "agentOnlineDelayMs": round(self.agent_online_delay_s * 1000),
            "imageDescribesUntilAvailable": self.image_describes_until_available,
            "commandSteps": self.command_steps,
            "instanceStartMs": round(self.instance_start_s * 1000),
            "instanceStopMs": round(self.instance_stop_s * 1000),
            "imagePendingMs": round(self.image_pending_s * 1000),
        }

    def update(self, body: dict[str, Any]) -> None:
        allowed = {
            "agentOnlineDelayMs", "imageDescribesUntilAvailable", "commandSteps", "instanceStartMs",
            "instanceStopMs", "imagePendingMs",
        }
        unknown = set(body) - allowed
        if unknown:
            raise ControlRequestError(f"unknown option(s) {sorted(unknown)}; allowed: {', '.join(sorted(allowed))}")
        if "instanceStartMs" in body:
            self.instance_start_s = _non_negative_int(body, "instanceStartMs") / 1000
        if "instanceStopMs" in body:
            self.instance_stop_s = _non_negative_int(body, "instanceStopMs") / 1000
        if "imagePendingMs" in body:
            self.image_pending_s = _non_negative_int(body, "imagePendingMs") / 1000
        if "agentOnlineDelayMs" in body:
            self.agent_online_delay_s = _non_negative_int(body, "agentOnlineDelayMs") / 1000
        if "imageDescribesUntilAvailable" in body:
            self.image_describes_until_available = _non_negative_int(body, "imageDescribesUntilAvailable")
        if "commandSteps" in body:
            self.command_steps = _non_negative_int(body, "commandSteps")


def _non_negative_int(body: dict[str, Any], key: str) -> int:
    value = body[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ControlRequestError(f"{key} must be a number >= 0, got {value!r}")
    return int(value)


@dataclass
class CommandFault:
    match: re.Pattern[str]
    exit_code: int
    stdout: str
    stderr: str
    # None: every matching command fails; otherwise how many more matching commands fail.
    times: int | None


@dataclass
class ApiFault:
    service: str
    operation: str
    region: str | None
    error: str
    code: str | None
    message: str | None
    count: int


@dataclass
class EmulatorState:
    launch_options: Options = field(default_factory=Options)
    options: Options = field(default_factory=Options)
    command_faults: list[CommandFault] = field(default_factory=list)
    api_faults: list[ApiFault] = field(default_factory=list)
    # None in the set means "every instance": an agent-offline fault without an instance id.
    offline_instances: set[str | None] = field(default_factory=set)
    copy_fail_regions: dict[str, str] = field(default_factory=dict)
    # What tests read back through the control API, in the order it happened.
    commands: list[Any] = field(default_factory=list)  # ssm.EmulatedCommand
    events: list[dict[str, Any]] = field(default_factory=list)
    launches: list[dict[str, Any]] = field(default_factory=list)
    # Monotonic launch times: DescribeInstanceInformation compares against these, not moto's second-granular clock.
    launched_at: dict[str, float] = field(default_factory=dict)
    # AWS calls served, by (service, operation, region): the benchmark's "API calls by operation".
    calls: dict[tuple[str, str, str], int] = field(default_factory=dict)
    # Executions that ran outside the emulator (the local runner), by ARN: what DescribeExecution and
    # GetExecutionHistory answer for them (see app.py).
    executions: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Bumped by every reset, so that timers started before a reset do not touch what came after it.
    generation: int = 0

    def clear_faults(self) -> None:
        self.command_faults.clear()
        self.api_faults.clear()
        self.offline_instances.clear()
        self.copy_fail_regions.clear()

    def reset(self) -> None:
        self.generation += 1
        self.options = Options(**vars(self.launch_options))
        self.clear_faults()
        self.commands.clear()
        self.events.clear()
        self.launches.clear()
        self.launched_at.clear()
        self.calls.clear()
        self.executions.clear()

    def faults_json(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for f in self.command_faults:
            out.append(
                {
                    "type": "command",
                    "match": f.match.pattern,
                    "exitCode": f.exit_code,
                    "stdout": f.stdout,
                    "stderr": f.stderr,
                    **({"times": f.times} if f.times is not None else {}),
                }
            )
        for a in self.api_faults:
            out.append(
                {
                    "type": "api",
                    "service": a.service,
                    "operation": a.operation,
                    "error": a.error,
                    "count": a.count,
                    **({"region": a.region} if a.region else {}),
                    **({"code": a.code} if a.code else {}),
                    **({"message": a.message} if a.message else {}),
                }
            )
        for instance_id in sorted(self.offline_instances, key=lambda i: i or ""):
            out.append({"type": "agent-offline", **({"instanceId": instance_id} if instance_id else {})})
        for region, message in sorted(self.copy_fail_regions.items()):
            out.append({"type": "copy-fail", "region": region, "message": message})
        return out

    def add_fault(self, fault: Any) -> None:
        """Validates one fault sent to `POST /_ami-builder/faults` and arms it."""
        if not isinstance(fault, dict):
            raise ControlRequestError(f"a fault must be a JSON object, got {fault!r}")
        kind = fault.get("type")
        if kind == "command":
            self._add_command_fault(fault)
        elif kind == "api":
            self._add_api_fault(fault)
        elif kind == "agent-offline":
            _only(fault, {"type", "instanceId"})
            instance_id = fault.get("instanceId")
            if instance_id is not None and not isinstance(instance_id, str):
                raise ControlRequestError(f"agent-offline: instanceId must be a string, got {instance_id!r}")
            self.offline_instances.add(instance_id)
        elif kind == "copy-fail":
            _only(fault, {"type", "region", "message"})
            region = _string(fault, "region", "copy-fail")
            message = fault.get("message") or f"Copying the image to {region} failed (injected fault)."
            self.copy_fail_regions[region] = str(message)
        else:
            raise ControlRequestError(f"unknown fault type {kind!r}; allowed: command, api, agent-offline, copy-fail")

    def _add_command_fault(self, fault: dict[str, Any]) -> None:
        _only(fault, {"type", "match", "exitCode", "stdout", "stderr", "times"})
        pattern = _string(fault, "match", "command")
        try:
            match = re.compile(pattern)
        except re.error as e:
            raise ControlRequestError(f"command: match is not a valid regular expression ({e}): {pattern!r}") from e
        exit_code = fault.get("exitCode", 1)
        if isinstance(exit_code, bool) or not isinstance(exit_code, int):
            raise ControlRequestError(f"command: exitCode must be an integer, got {exit_code!r}")
        times = fault.get("times")
        if times is not None and (isinstance(times, bool) or not isinstance(times, int) or times < 1):
            raise ControlRequestError(f"command: times must be an integer >= 1, got {times!r}")
        self.command_faults.append(
            CommandFault(
                match=match,
                exit_code=exit_code,
                stdout=str(fault.get("stdout", "")),
                stderr=str(fault.get("stderr", "")),
                times=times,
            )
        )

    def _add_api_fault(self, fault: dict[str, Any]) -> None:
        _only(fault, {"type", "service", "operation", "region", "error", "code", "message", "count"})
        service = _string(fault, "service", "api").lower()
        service = SERVICE_ALIASES.get(service, service)
        operation = _string(fault, "operation", "api")
        error = fault.get("error")
        if error not in ("throttle", "5xx", "permanent"):
            raise ControlRequestError(f"api: error must be one of throttle, 5xx, permanent; got {error!r}")
        code = fault.get("code")
        if error == "permanent" and not code:
            raise ControlRequestError("api: a permanent error needs a code (for example UnauthorizedOperation)")
        count = fault.get("count", 1)
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ControlRequestError(f"api: count must be an integer >= 1, got {count!r}")
        region = fault.get("region")
        self.api_faults.append(
            ApiFault(
                service=service,
                operation=operation,
                region=str(region) if region else None,
                error=error,
                code=str(code) if code else None,
                message=str(fault["message"]) if fault.get("message") else None,
                count=count,
            )
        )

    def take_command_fault(self, texts: list[str]) -> CommandFault | None:
        """The first armed command fault whose pattern is found in any of `texts`; spends one of its `times`."""
        for f in self.command_faults:
            if any(f.match.search(t) for t in texts if t):
                if f.times is not None:
                    f.times -= 1
                    if f.times == 0:
                        self.command_faults.remove(f)
                return f
        return None

    def take_api_fault(self, service: str, operation: str, region: str | None) -> ApiFault | None:
        """The first armed API fault matching this call; spends one of its `count`."""
        for f in self.api_faults:
            if f.service != service.lower():
                continue
            if f.operation not in ("*", operation):
                continue
            if f.region and f.region != region:
                continue
            f.count -= 1
            if f.count == 0:
                self.api_faults.remove(f)
            return f
        return None

    def agent_offline(self, instance_id: str) -> bool:
        return None in self.offline_instances or instance_id in self.offline_instances

    def online_after(self, instance_id: str, fallback_launch_epoch: float) -> bool:
        """True once the agent delay has passed since launch (monotonic when we saw the launch)."""
        launched = self.launched_at.get(instance_id)
        delay = self.options.agent_online_delay_s
        if launched is not None:
            return time.monotonic() - launched >= delay
        return time.time() - fallback_launch_epoch >= delay


def _only(fault: dict[str, Any], allowed: set[str]) -> None:
    unknown = set(fault) - allowed
    if unknown:
        raise ControlRequestError(
            f"{fault.get('type')}: unknown field(s) {sorted(unknown)}; allowed: {sorted(allowed - {'type'})}"
        )


def _string(fault: dict[str, Any], key: str, kind: str) -> str:
    value = fault.get(key)
    if not isinstance(value, str) or not value:
        raise ControlRequestError(f"{kind}: {key} must be a non-empty string, got {value!r}")
    return value


STATE = EmulatorState()
