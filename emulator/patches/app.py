"""The WSGI application: the control API under `/_ami-builder/`, API fault injection, then moto.

Every request runs under one lock (see `state.LOCK`) and its response body is produced inside it, so moto's
backends never see two writers and status progressions stay deterministic however many builds run at once.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable
from importlib.metadata import version
from typing import Any

from moto.moto_api._internal.models import moto_api_backend

from . import auth, ec2_images, iam, sandbox
from .calls import error_response, identify
from .state import LOCK, STATE, ControlRequestError

StartResponse = Callable[..., Any]
PREFIX = "/_ami-builder/"


class EmulatorApp:
    def __init__(self, moto_app: Callable[[dict[str, Any], StartResponse], Iterable[bytes]]):
        self.moto_app = moto_app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        with LOCK:
            path = environ.get("PATH_INFO", "")
            if path.startswith(PREFIX):
                return _control(environ, start_response, path[len(PREFIX) :].strip("/"))
            call = identify(environ)
            if call is not None:
                key = (call.service, call.operation, call.region or "")
                STATE.calls[key] = STATE.calls.get(key, 0) + 1
                refused = auth.check(environ)
                if refused is not None:
                    status, headers, body = error_response(call, "permanent", *_auth_code(call.service, *refused))
                    if call.service == "s3" or call.protocol == "ec2":
                        status = 403 if refused[0] != "InvalidToken" else 400
                    start_response(f"{status} Refused", headers)
                    return [body]
                denied = auth.authorize(environ, call)
                if denied is not None:
                    code, message, http_status = denied
                    _, headers, body = error_response(call, "permanent", code, message)
                    start_response(f"{http_status} Denied", headers)
                    return [body]
                fault = STATE.take_api_fault(call.service, call.operation, call.region)
                if fault is not None:
                    status, headers, body = error_response(call, fault.error, fault.code, fault.message)
                    start_response(f"{status} Injected", headers)
                    return [body]
                if call.service == "states" and call.operation in ("DescribeExecution", "GetExecutionHistory"):
                    answered = _recorded_execution(environ, start_response, call.operation)
                    if answered is not None:
                        return answered
            result = self.moto_app(environ, start_response)
            try:
                return [b"".join(result)]
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()


def _recorded_execution(
    environ: dict[str, Any], start_response: StartResponse, operation: str
) -> Iterable[bytes] | None:
    """DescribeExecution / GetExecutionHistory of an execution the local runner recorded (`POST executions`), as
    Step Functions answers them (no `output` unless it succeeded; history in order, one page). None: not recorded,
    moto answers (the request body is put back for it)."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    raw = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(raw)
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        return None
    arn = body.get("executionArn") if isinstance(body, dict) else None
    record = STATE.executions.get(arn) if isinstance(arn, str) else None
    if record is None:
        return None
    if operation == "DescribeExecution":
        keys = ("executionArn", "stateMachineArn", "name", "status", "startDate", "stopDate", "input", "error", "cause")
        payload = {k: record[k] for k in keys if record.get(k) is not None}
        if record.get("status") == "SUCCEEDED" and record.get("output") is not None:
            payload["output"] = record["output"]
    else:
        events = list(record.get("events") or [])
        if body.get("reverseOrder") is True:
            events.reverse()
        payload = {"events": events}
    data = json.dumps(payload, default=str).encode("utf-8")
    start_response(
        "200 OK", [("Content-Type", "application/x-amz-json-1.0"), ("Content-Length", str(len(data)))]
    )
    return [data]


def _auth_code(service: str, code: str, message: str) -> tuple[str, str]:
    """S3 and EC2 name a refused credential by its kind; query and JSON services have their own codes."""
    if service in ("s3", "ec2"):
        if service == "ec2" and code == "InvalidAccessKeyId":
            return "AuthFailure", "AWS was not able to validate the provided access credentials"
        return code, message
    if code == "SignatureDoesNotMatch":
        return code, message
    return ("UnrecognizedClientException" if service in ("ssm", "logs", "events", "states") else
            "InvalidClientTokenId"), "The security token included in the request is invalid."


def _read_json(environ: dict[str, Any]) -> Any:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    raw = environ["wsgi.input"].read(length) if length else b""
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except ValueError as e:
        raise ControlRequestError(f"the request body is not JSON: {e}") from e


def _control(environ: dict[str, Any], start_response: StartResponse, route: str) -> Iterable[bytes]:
    method = environ.get("REQUEST_METHOD", "GET")
    try:
        status, payload = _route(method, route, environ)
    except ControlRequestError as e:
        status, payload = 400, {"error": str(e)}
    body = json.dumps(payload, default=str).encode("utf-8")
    start_response(
        f"{status} {'OK' if status < 400 else 'Error'}",
        [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
    )
    return [body]


def _route(method: str, route: str, environ: dict[str, Any]) -> tuple[int, Any]:
    if route == "health" and method == "GET":
        return 200, {"ok": True, "moto": version("moto"), "mode": sandbox.MODE.name, "modeReason": sandbox.MODE.reason}
    if route == "reset" and method == "POST":
        # moto's reset also clears our state (see patches.apply_all).
        moto_api_backend.reset()
        return 200, {"ok": True}
    if route == "faults":
        if method == "GET":
            return 200, STATE.faults_json()
        if method == "POST":
            body = _read_json(environ)
            for fault in body if isinstance(body, list) else [body]:
                STATE.add_fault(fault)
            return 200, STATE.faults_json()
        if method == "DELETE":
            STATE.clear_faults()
            return 200, []
    if route == "commands" and method == "GET":
        return 200, [c.record_json() for c in STATE.commands]
    if route == "events" and method == "GET":
        return 200, STATE.events
    if route == "instances" and method == "GET":
        return 200, STATE.launches
    if route == "calls":
        if method == "GET":
            return 200, [
                {"service": s, "operation": o, "region": r, "count": n}
                for (s, o, r), n in sorted(STATE.calls.items())
            ]
        if method == "DELETE":
            STATE.calls.clear()
            return 200, []
    if route == "executions" and method == "POST":
        body = _read_json(environ)
        if not isinstance(body, dict) or not isinstance(body.get("executionArn"), str):
            raise ControlRequestError("an execution record needs an executionArn")
        STATE.executions[body["executionArn"]] = body
        return 200, {"ok": True}
    if route == "images" and method == "POST":
        return 200, ec2_images.seed_image(_read_json(environ))
    if route == "instance-profiles" and method == "POST":
        return 200, iam.create_instance_profile(_read_json(environ))
    if route == "options":
        if method == "POST":
            body = _read_json(environ)
            if not isinstance(body, dict):
                raise ControlRequestError("options must be a JSON object")
            STATE.options.update(body)
            return 200, STATE.options.to_json()
        if method == "GET":
            return 200, STATE.options.to_json()
    known = {
        "health", "reset", "faults", "commands", "events", "instances", "calls", "images", "instance-profiles",
        "options", "executions",
    }
    if route in known:
        return 405, {"error": f"{method} is not allowed on {PREFIX}{route}"}
    return 404, {"error": f"no control route {PREFIX}{route}; routes: {sorted(known)}"}
