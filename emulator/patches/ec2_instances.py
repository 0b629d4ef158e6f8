"""EC2 instance and security-group behaviour the workflow relies on and moto 5.2.1 lacks.

- RunInstances rejects `ephemeralN` block-device mappings (moto insists on an `Ebs` block), ignores ClientToken
  (a retried Lambda would launch a second instance), and always reports an EBS root device.
- DeleteSecurityGroup succeeds while an instance still uses the group; AWS answers DependencyViolation, which the
  cleanup tasks must handle.
- An instance launched from an instance-store AMI that RegisterImage made from a bundle boots from moto's host
  view, not from the bundle: here its sandbox gets the bundle's files (see `ec2_images.unbundle`).
- Instances are `running` at once and `terminated` at once. Here an instance stays `pending` for `instanceStartMs`
  (and, in sandbox mode, until its sandbox has booted), and `shutting-down` for `instanceStopMs`, so wait loops
  really wait. In sandbox mode each instance gets a sandbox at launch, ended when it shuts down.
"""

from __future__ import annotations

import base64
import binascii
import threading
import time
from typing import Any

from moto.core.responses import ActionResult
from moto.ec2.exceptions import DependencyViolationError

from moto.ec2.models.instances import Instance
from moto.ec2.models.security_groups import SecurityGroupBackend
from moto.ec2.responses.instances import InstanceResponse

from . import imds, sandbox
from .ec2_images import normalize_block_device_mappings, unbundle
from .state import LOCK, STATE

_original_run_instances = InstanceResponse.run_instances
_original_delete_security_group = SecurityGroupBackend.delete_security_group
_original_terminate = Instance.terminate


def _later(seconds: float, action: Any) -> None:
    timer = threading.Timer(seconds, action)
    timer.daemon = True
    timer.start()


def _boot(instance: Instance, region: str, image: bytes | None = None) -> None:
    """pending → running once the start delay has passed and (sandbox mode) the sandbox has booted, from the
    image file of the AMI's bundle when it was registered from one."""
    generation = STATE.generation
    box = (
        sandbox.create(instance.id, region, imds.ImdsHandler, image=image)
        if sandbox.MODE.name == "sandbox"
        else None
    )
    started = time.monotonic()

    def become_running() -> None:
        if box is not None:
            box.ready.wait(sandbox.BOOT_TIMEOUT_S)
        remaining = STATE.options.instance_start_s - (time.monotonic() - started)
        if remaining > 0:
            time.sleep(remaining)
        with LOCK:
            if STATE.generation != generation or instance._state.name != "pending":
                return
            instance._state.name = "running"
            instance._state.code = 16
            # The agent's delay counts from the boot.
            STATE.launched_at[instance.id] = time.monotonic()

    threading.Thread(target=become_running, daemon=True).start()


def terminate(self: Instance) -> Any:
    previous = _original_terminate(self)
    if previous.name in ("terminated", "shutting-down"):
        self._state.name, self._state.code = previous.name, previous.code
        return previous
    sandbox.destroy(self.id)
    self._state.name = "shutting-down"
    self._state.code = 32
    generation = STATE.generation

    def become_terminated() -> None:
        with LOCK:
            if STATE.generation == generation and self._state.name == "shutting-down":
                self._state.name = "terminated"
                self._state.code = 48

    _later(STATE.options.instance_stop_s, become_terminated)
    return previous


def _is_virtual(mapping: dict[str, Any]) -> bool:
    return bool(mapping.get("VirtualName")) and not mapping.get("Ebs")


def _decode_user_data(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return base64.b64decode(value, validate=True).decode("utf-8", errors="replace")
    except (binascii.Error, ValueError):
        return value


def run_instances(self: InstanceResponse) -> ActionResult:
    backend = self.ec2_backend
    token = self._get_param("ClientToken")
    tokens: dict[str, str] = backend.__dict__.setdefault("emulator_run_tokens", {})
    if token and token in tokens and tokens[token] in backend.reservations:
        # Same token, same reservation: AWS's idempotency for retried RunInstances calls.
        return ActionResult(backend.reservations[tokens[token]])

    raw_mappings = self._get_param("BlockDeviceMappings", []) or []
    # Validates the virtual names; moto would reject the ephemeral entries for lacking an Ebs block.
    requested = normalize_block_device_mappings(raw_mappings)
    ebs_mappings = [m for m in raw_mappings if not _is_virtual(m)]
    if ebs_mappings:
        self.params["BlockDeviceMappings"] = ebs_mappings
    else:
        self.params.pop("BlockDeviceMappings", None)

    result = _original_run_instances(self)
    reservation = result.result
    if token:
        tokens[token] = reservation.id

    image = next(iter(backend.describe_images(filters={"image-id": self._get_param("ImageId")})), None)
    # An instance-store AMI registered from a bundle boots what was bundled (EC2 reads the bundle at launch).
    bundled = (
        unbundle(backend.account_id, image.image_location)
        if image is not None and image.root_device_type == "instance-store" and getattr(image, "emulator_bundled", False)
        else None
    )
    for instance in reservation.instances:
        if image is not None and image.root_device_type == "instance-store":
            instance.root_device_type = "instance-store"
            if not ebs_mappings:
                # moto attaches an 8 GiB EBS root volume by default; an instance-store root has none.
                instance.teardown_defaults()
        STATE.launched_at[instance.id] = time.monotonic()
        instance._state.name = "pending"
        instance._state.code = 0
        _boot(instance, self.region, bundled)
        STATE.launches.append(
            {
                "instanceId": instance.id,
                "reservationId": reservation.id,
                "region": self.region,
                "imageId": instance.image_id,
                "instanceType": instance.instance_type,
                "clientToken": token,
                "iamInstanceProfile": self._get_param("IamInstanceProfile"),
                "metadataOptions": self._get_param("MetadataOptions"),
                "userData": _decode_user_data(self._get_param("UserData")),
                "blockDeviceMappings": requested,
                "securityGroupIds": [g.id for g in instance.security_groups],
                "subnetId": instance.subnet_id,
                "keyName": instance.key_name,
                "tags": {t["key"]: t["value"] for t in instance.get_tags()},
                "launchedAt": instance.launch_time.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            }
        )
    return result


def delete_security_group(self: Any, name: str | None = None, group_id: str | None = None) -> None:
    group = self.get_security_group_from_id(group_id) if group_id else self.get_security_group_by_name_or_id(name)
    if group is not None:
        for instance in self.all_instances():
            if instance.state == "terminated":
                continue
            groups = {g.id for g in instance.security_groups}
            for nic in instance.nics.values():
                groups |= {g.id for g in nic.group_set}
            if group.id in groups:
                raise DependencyViolationError(f"resource {group.id} has a dependent object")
    _original_delete_security_group(self, name=name, group_id=group_id)


def apply() -> None:
    InstanceResponse.run_instances = run_instances
    Instance.terminate = terminate
    SecurityGroupBackend.delete_security_group = delete_security_group
