"""EC2 image operations, filled in where moto 5.2.1 drops what an instance-store build relies on.

moto's RegisterImage keeps only Name/Description (root type `standard`, no ImageLocation, no architecture), its
ModifyImageAttribute drops Description/ProductCodes/ImdsSupport, CopyImage forgets the root device type and has no
ClientToken, images are `available` at once, and EnableImageDeprecation / EnableImageDeregistrationProtection do
not exist. The response methods below replace moto's and keep the extra fields as attributes on moto's `Ami`
objects, so a moto reset clears them with the images.
"""

from __future__ import annotations

import binascii
import datetime as dt
import re
import time
import xml.etree.ElementTree as ET
from typing import Any

from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.parse import default_timestamp_parser as parse_timestamp
from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.ec2.exceptions import EC2ClientError, InvalidAMIIdError
from moto.ec2.models import ec2_backends
from moto.ec2.models.amis import Ami
from moto.ec2.responses.amis import AmisResponse
from moto.ec2.utils import random_ami_id

from . import sandbox
from .state import STATE, ControlRequestError

# Fields moto's Ami does not have. Class-level defaults make moto's own default AMIs (loaded at backend creation)
# answer for them too.
_AMI_DEFAULTS: dict[str, Any] = {
    "ena_support": None,
    "sriov_net_support": None,
    "tpm_support": None,
    "imds_support": None,
    "deprecation_time": None,
    "deregistration_protection": None,
    "state_reason": None,
    "source_image_id": None,
    "source_image_region": None,
    "emulator_bdm": None,  # the mappings as registered; None = moto's default root snapshot mapping
    "emulator_describes": 0,  # DescribeImages calls that returned this image while pending
    "emulator_final_state": None,  # what a pending image becomes once described enough: available | failed
    "emulator_final_reason": None,
    "emulator_pending_since": 0.0,  # monotonic time the image turned pending
}

_AMI_ID = re.compile(r"^ami-[0-9a-f]{8,17}$")
_ACCOUNT_ID = re.compile(r"^[0-9]{12}$")
_VIRTUAL_NAME = re.compile(r"^ephemeral([0-9]|1[0-9]|2[0-3])$")


def _bool(value: Any) -> bool | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    return str(value).lower() == "true"


def _int(value: Any) -> int | None:
    return None if value is None or value == "" else int(value)


def _tags_of(ami: Ami) -> list[dict[str, str]]:
    return [{"Key": t["key"], "Value": t["value"]} for t in ami.get_tags()]


def _tag_specs(params: list[dict[str, Any]], resource_type: str) -> dict[str, str]:
    tags: dict[str, str] = {}
    for spec in params or []:
        if spec.get("ResourceType") == resource_type:
            for tag in spec.get("Tags", []) or spec.get("Tag", []):
                tags[tag["Key"]] = tag.get("Value", "")
    return tags


def normalize_block_device_mappings(raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Request mappings (query-parsed strings) → the typed shape DescribeImages returns, dropping empty fields."""
    out: list[dict[str, Any]] = []
    for m in raw or []:
        mapping: dict[str, Any] = {"DeviceName": m.get("DeviceName")}
        if m.get("VirtualName"):
            if not _VIRTUAL_NAME.match(m["VirtualName"]):
                raise EC2ClientError(
                    "InvalidBlockDeviceMapping",
                    f"Invalid virtual name {m['VirtualName']!r} for {m.get('DeviceName')}: "
                    "use ephemeral0 … ephemeral23.",
                )
            mapping["VirtualName"] = m["VirtualName"]
        if "NoDevice" in m:
            mapping["NoDevice"] = ""
        ebs = m.get("Ebs")
        if ebs:
            typed = {
                "SnapshotId": ebs.get("SnapshotId"),
                "VolumeSize": _int(ebs.get("VolumeSize")),
                "VolumeType": ebs.get("VolumeType"),
                "Iops": _int(ebs.get("Iops")),
                "Throughput": _int(ebs.get("Throughput")),
                "DeleteOnTermination": _bool(ebs.get("DeleteOnTermination")),
                "Encrypted": _bool(ebs.get("Encrypted")),
                "KmsKeyId": ebs.get("KmsKeyId"),
            }
            mapping["Ebs"] = {k: v for k, v in typed.items() if v is not None}
        out.append(mapping)
    return out


def _block_device_mappings(ami: Ami) -> list[dict[str, Any]]:
    if ami.emulator_bdm is not None:
        return ami.emulator_bdm
    if ami.root_device_type == "instance-store":
        # Instance-store images have no root snapshot (moto's default AMIs show one anyway).
        return []
    return ami.block_device_mappings


def _drop_root_snapshot(ami: Ami) -> None:
    """moto's Ami always creates a root snapshot; an instance-store image has none on AWS."""
    ami.ec2_backend.snapshots.pop(ami.ebs_snapshot.id, None)


def image_json(ami: Ami) -> dict[str, Any]:
    """The DescribeImages entry for one image, built explicitly so every field we keep is serialized."""
    image = {
        "ImageId": ami.id,
        "ImageLocation": ami.image_location,
        "State": ami.state,
        "OwnerId": ami.owner_id,
        "CreationDate": ami.creation_date,
        "Public": ami.is_public,
        "ProductCodes": [{"ProductCodeId": c, "ProductCodeType": "marketplace"} for c in sorted(ami.product_codes)],
        "Architecture": ami.architecture,
        "ImageType": ami.image_type,
        "KernelId": ami.kernel_id,
        "Platform": ami.platform if ami.platform == "windows" else None,
        "PlatformDetails": "Windows" if ami.platform == "windows" else "Linux/UNIX",
        "UsageOperation": "RunInstances",
        "BlockDeviceMappings": _block_device_mappings(ami),
        "Description": ami.description,
        "EnaSupport": ami.ena_support,
        "Hypervisor": ami.hypervisor or "xen",
        "ImageOwnerAlias": ami.owner_alias,
        "Name": ami.name,
        "RootDeviceName": ami.root_device_name,
        "RootDeviceType": ami.root_device_type,
        "SriovNetSupport": ami.sriov_net_support,
        "StateReason": ami.state_reason,
        "Tags": _tags_of(ami),
        "VirtualizationType": ami.virtualization_type,
        "BootMode": ami.boot_mode,
        "TpmSupport": ami.tpm_support,
        "DeprecationTime": ami.deprecation_time,
        "ImdsSupport": ami.imds_support,
        "SourceInstanceId": ami.instance_id,
        "DeregistrationProtection": ami.deregistration_protection,
        "SourceImageId": ami.source_image_id,
        "SourceImageRegion": ami.source_image_region,
    }
    return {k: v for k, v in image.items() if v is not None}


def _start_pending(ami: Ami, final_state: str = "available", reason: str | None = None) -> None:
    ami.state = "pending"
    ami.emulator_describes = 0
    ami.emulator_final_state = final_state
    ami.emulator_final_reason = reason
    ami.emulator_pending_since = time.monotonic()
    if STATE.options.image_describes_until_available == 0 and STATE.options.image_pending_s == 0:
        _finish(ami)


def _observe(ami: Ami) -> None:
    """One DescribeImages sighting: a pending image shows `pending` to `imageDescribesUntilAvailable` of them,
    then turns final (so with the default of 1 the first describe says pending and the second available)."""
    if ami.state != "pending" or ami.emulator_final_state is None:
        return
    ami.emulator_describes += 1
    waited = time.monotonic() - ami.emulator_pending_since
    if ami.emulator_describes > STATE.options.image_describes_until_available and waited >= STATE.options.image_pending_s:
        _finish(ami)


def _finish(ami: Ami) -> None:
    ami.state = ami.emulator_final_state
    if ami.state == "failed":
        ami.state_reason = {"Code": "Server.InternalError", "Message": ami.emulator_final_reason}


def _find_image(backend: Any, image_id: str) -> Ami:
    images = backend.describe_images(ami_ids=[image_id])
    if not images:
        raise InvalidAMIIdError(image_id)
    return images[0]


# --- bundle manifests ------------------------------------------------------------------------------------------


def _invalid_manifest(message: str) -> EC2ClientError:
    return EC2ClientError("InvalidManifest", message)


def read_manifest(account_id: str, region: str, location: str, for_copy: bool = False) -> dict[str, Any] | None:
    """Reads and checks a bundle manifest as RegisterImage does (sandbox mode; simulated builds upload no bundle).

    The manifest must exist in the image's region, parse, list its parts and carry the image key encrypted for
    EC2's certificate. Returns the architecture, the block device mappings and the root device it names.

    :raises EC2ClientError: InvalidManifest, with AWS's kind of message.
    """
    if sandbox.MODE.name != "sandbox":
        return None
    from moto.s3.models import s3_backends

    bucket_name, _, key_name = location.lstrip("/").partition("/")
    url = f"https://s3.amazonaws.com:443/{bucket_name}/{key_name}"
    bucket = s3_backends[account_id]["aws"].buckets.get(bucket_name)
    if bucket is None or not key_name:
        raise _invalid_manifest(
            f"HTTP 404 (Not Found) response for URL {url}: check your manifest path is correct and in the correct "
            "region."
        )
    if bucket.region_name != region and not for_copy:
        raise _invalid_manifest(
            f"HTTP 301 (Moved Permanently) response for URL {url}: check your manifest path is correct and in the "
            f"correct region (the bucket {bucket_name} is in {bucket.region_name}, the image in {region})."
        )
    key = bucket.keys.get(key_name)
    if key is None or not hasattr(key, "value"):
        raise _invalid_manifest(
            f"HTTP 404 (Not Found) response for URL {url}: check your manifest path is correct and in the correct "
            "region."
        )
    try:
        root = ET.fromstring(key.value)
    except ET.ParseError as e:
        raise _invalid_manifest(f"Unable to parse the manifest {location}: {e}") from e
    parts = root.findall("image/parts/part")
    encrypted_key = (root.findtext("image/ec2_encrypted_key") or "").strip()
    if root.tag != "manifest" or not parts or not encrypted_key or root.find("machine_configuration") is None:
        raise _invalid_manifest(f"The manifest {location} is not a bundle manifest (no image parts or image key).")
    try:
        from cryptography.hazmat.primitives.asymmetric import padding

        ec2_key, _ = sandbox.ec2_bundle_key()
        ec2_key.decrypt(binascii.unhexlify(encrypted_key), padding.PKCS1v15())
    except (ValueError, binascii.Error) as e:
        raise _invalid_manifest(
            f"Unable to decrypt the image key of the manifest {location}: it was not bundled for EC2's certificate."
        ) from e
    mappings: list[dict[str, Any]] = []
    root_device = None
    for mapping in root.findall("machine_configuration/block_device_mapping/mapping"):
        virtual = (mapping.findtext("virtual") or "").strip()
        device = (mapping.findtext("device") or "").strip()
        if not device.startswith("/dev/"):
            device = "/dev/" + device
        if virtual == "root":
            root_device = device
        elif virtual.startswith("ephemeral"):
            mappings.append({"DeviceName": device, "VirtualName": virtual})
    return {
        "architecture": (root.findtext("machine_configuration/architecture") or "").strip() or None,
        "mappings": mappings,
        "root": root_device,
    }


def unbundle(account_id: str, location: str) -> bytes | None:
    """The image file of a bundle: what an instance launched from an instance-store AMI boots from.

    EC2 reads the bundle when it launches such an instance: the manifest at `location`, the image key and IV
    decrypted with EC2's private key, the parts joined in order, decrypted (AES-128-CBC), gunzipped. Here the
    image file is the stand-in ec2-bundle-vol's tar of the volume. Returns None in simulated mode, or when the
    bundle cannot be read (an image seeded with a location, or whose bundle is gone: the instance then boots
    the plain sandbox image).
    """
    if sandbox.MODE.name != "sandbox" or not location:
        return None
    import gzip

    from cryptography.hazmat.primitives import padding as sym_padding
    from cryptography.hazmat.primitives.asymmetric import padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    from moto.s3.models import s3_backends

    bucket_name, _, key_name = location.lstrip("/").partition("/")
    bucket = s3_backends[account_id]["aws"].buckets.get(bucket_name)
    if bucket is None:
        return None

    def read(key: str) -> bytes | None:
        found = bucket.keys.get(key)
        return found.value if found is not None and hasattr(found, "value") else None

    try:
        manifest = read(key_name)
        if manifest is None:
            return None
        root = ET.fromstring(manifest)
        ec2_key, _ = sandbox.ec2_bundle_key()

        def decrypt_hex(tag: str) -> bytes:
            value = (root.findtext(tag) or "").strip()
            return binascii.unhexlify(ec2_key.decrypt(binascii.unhexlify(value), padding.PKCS1v15()))

        key = decrypt_hex("image/ec2_encrypted_key")
        iv = decrypt_hex("image/ec2_encrypted_iv")
        folder = key_name[: key_name.rfind("/") + 1] if "/" in key_name else ""
        parts = sorted(root.findall("image/parts/part"), key=lambda p: int(p.get("index") or 0))
        encrypted = b""
        for part in parts:
            body = read(folder + (part.findtext("filename") or "").strip())
            if body is None:
                return None
            encrypted += body
        decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
        padded = decryptor.update(encrypted) + decryptor.finalize()
        unpadder = sym_padding.PKCS7(128).unpadder()
        return gzip.decompress(unpadder.update(padded) + unpadder.finalize())
    except (ET.ParseError, ValueError, binascii.Error, OSError, EOFError) as e:
        print(f"emulator: the bundle {location} cannot be read: {e}", flush=True)
        return None


# --- response methods (replace moto's) -------------------------------------------------------------------------


def register_image(self: AmisResponse) -> ActionResult:
    self.error_on_dryrun()
    name = self._get_param("Name")
    if not name:
        raise EC2ClientError("MissingParameter", "The request must contain the parameter name")
    backend = self.ec2_backend
    taken = next(
        (a for a in backend.amis.values() if a.name == name and a.owner_id == backend.account_id),
        None,
    )
    if taken is not None:
        # Packer's prevalidation and force_deregister depend on this error.
        raise EC2ClientError("InvalidAMIName.Duplicate", f"AMI name {name} is already in use by AMI {taken.id}")
    image_location = self._get_param("ImageLocation")
    bdm = normalize_block_device_mappings(self._get_param("BlockDeviceMappings", []))
    instance_store = bool(image_location)
    manifest = read_manifest(backend.account_id, self.region, image_location) if instance_store else None
    root_device_name = self._get_param("RootDeviceName") or (manifest or {}).get("root") or "/dev/sda1"
    if manifest is not None and not bdm:
        bdm = manifest["mappings"]

    ami = Ami(
        backend,
        random_ami_id(),
        name=name,
        description=self._get_param("Description"),
        # AWS takes these from the bundle manifest when not given (sandbox mode reads it; else x86_64).
        architecture=self._get_param("Architecture") or (manifest or {}).get("architecture") or "x86_64",
        virtualization_type=self._get_param("VirtualizationType") or "paravirtual",
        image_location=image_location,
        root_device_type="instance-store" if instance_store else "ebs",
        root_device_name=root_device_name,
        hypervisor="xen",
        boot_mode=self._get_param("BootMode"),
        region_name=self.region + "a",
        snapshot_description=f"Root snapshot of {name}",
    )
    if instance_store:
        _drop_root_snapshot(ami)
        ami.emulator_bdm = bdm
        # Registered from a bundle that RegisterImage read: instances launched from it boot the bundle.
        ami.emulator_bundled = manifest is not None
    elif bdm:
        ami.emulator_bdm = bdm
    ami.kernel_id = self._get_param("KernelId")
    ami.ena_support = _bool(self._get_param("EnaSupport"))
    ami.sriov_net_support = self._get_param("SriovNetSupport")
    ami.tpm_support = self._get_param("TpmSupport")
    ami.imds_support = self._get_param("ImdsSupport")
    ami.add_tags(_tag_specs(self._get_param("TagSpecifications", []), "image"))
    backend.amis[ami.id] = ami
    _start_pending(ami)
    return ActionResult({"ImageId": ami.id})


def describe_images(self: AmisResponse) -> ActionResult:
    self.error_on_dryrun()
    images = self.ec2_backend.describe_images(
        ami_ids=self._get_param("ImageIds", []),
        filters=self._filters_from_querystring(),
        exec_users=self._get_param("ExecutableUsers", []),
        owners=self._get_param("Owners", []),
    )
    for ami in images:
        _observe(ami)
    return ActionResult({"Images": [image_json(ami) for ami in images]})


_ORG_ARN = re.compile(r"^arn:aws[a-z-]*:organizations::[0-9]{12}:organization/o-[a-z0-9]{10,32}$")
_OU_ARN = re.compile(
    r"^arn:aws[a-z-]*:organizations::[0-9]{12}:ou/o-[a-z0-9]{10,32}/ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}$"
)


def _validate_permission(permission: dict[str, str]) -> None:
    def invalid_item(value: str, item_type: str) -> EC2ClientError:
        return EC2ClientError(
            "InvalidAMIAttributeItemValue", f'Invalid attribute item value "{value}" for {item_type} item type.'
        )

    if "UserId" in permission and not _ACCOUNT_ID.match(permission["UserId"]):
        raise invalid_item(permission["UserId"], "userId")
    if "Group" in permission and permission["Group"] != "all":
        raise invalid_item(permission["Group"], "UserGroup")
    if "OrganizationArn" in permission and not _ORG_ARN.match(permission["OrganizationArn"]):
        raise EC2ClientError("InvalidParameter", f"Invalid organization ARN: {permission['OrganizationArn']}")
    if "OrganizationalUnitArn" in permission and not _OU_ARN.match(permission["OrganizationalUnitArn"]):
        raise EC2ClientError(
            "InvalidParameter", f"Invalid organizational unit ARN: {permission['OrganizationalUnitArn']}"
        )


def modify_image_attribute(self: AmisResponse) -> ActionResult:
    """Every form the SDKs send: `Description={Value}`, `Attribute`+`Value`, `ProductCodes`, `ImdsSupport`,
    `LaunchPermission={Add,Remove}` and `OperationType` with `UserIds`/`UserGroups`/organization ARNs."""
    self.error_on_dryrun()
    ami = _find_image(self.ec2_backend, self._get_param("ImageId"))
    attribute = self._get_param("Attribute")
    value = self._get_param("Value")
    changed = False

    description = self._get_param("Description")
    if isinstance(description, dict):
        description = description.get("Value")
    if description is None and attribute == "description":
        description = value
    if description is not None:
        ami.description = description
        changed = True

    product_codes = self._get_param("ProductCodes", [])
    if not product_codes and attribute == "productCodes" and value:
        product_codes = [value]
    if product_codes:
        # AWS only ever adds product codes; they cannot be removed.
        ami.product_codes = set(ami.product_codes) | set(product_codes)
        changed = True

    imds = self._get_param("ImdsSupport")
    if isinstance(imds, dict):
        imds = imds.get("Value")
    if imds is None and attribute == "imdsSupport":
        imds = value
    if imds is not None:
        if imds != "v2.0":
            raise EC2ClientError("InvalidParameterValue", f"Value ({imds}) for parameter ImdsSupport is invalid.")
        ami.imds_support = imds
        changed = True

    launch_permission = self._get_param("LaunchPermission", {}) or {}
    add = list(launch_permission.get("Add", []))
    remove = list(launch_permission.get("Remove", []))
    operation_type = self._get_param("OperationType")
    if operation_type in ("add", "remove"):
        target = add if operation_type == "add" else remove
        target += [{"Group": g} for g in self._get_param("UserGroups", [])]
        target += [{"UserId": u} for u in self._get_param("UserIds", [])]
        target += [{"OrganizationArn": a} for a in self._get_param("OrganizationArns", [])]
        target += [{"OrganizationalUnitArn": a} for a in self._get_param("OrganizationalUnitArns", [])]
    for permission in add + remove:
        _validate_permission(permission)
    for permission in add:
        if permission not in ami.launch_permissions:
            ami.launch_permissions.append(permission)
    for permission in remove:
        if permission in ami.launch_permissions:
            ami.launch_permissions.remove(permission)
    changed = changed or bool(add or remove)

    if not changed:
        raise EC2ClientError("MissingParameter", "No attribute to modify was given.")
    return ActionResult({})


def describe_image_attribute(self: AmisResponse) -> ActionResult:
    ami = _find_image(self.ec2_backend, self._get_param("ImageId"))
    attribute = self._get_param("Attribute")
    result: dict[str, Any] = {"ImageId": ami.id}

    def wrap(value: Any) -> dict[str, Any]:
        return {} if value is None else {"Value": value}

    if attribute == "description":
        result["Description"] = wrap(ami.description)
    elif attribute == "launchPermission":
        result["LaunchPermissions"] = list(ami.launch_permissions)
    elif attribute == "productCodes":
        result["ProductCodes"] = [
            {"ProductCodeId": c, "ProductCodeType": "marketplace"} for c in sorted(ami.product_codes)
        ]
    elif attribute == "imdsSupport":
        result["ImdsSupport"] = wrap(ami.imds_support)
    elif attribute == "kernel":
        result["KernelId"] = wrap(ami.kernel_id)
    elif attribute == "ramdisk":
        result["RamdiskId"] = {}
    elif attribute == "sriovNetSupport":
        result["SriovNetSupport"] = wrap(ami.sriov_net_support)
    elif attribute == "bootMode":
        result["BootMode"] = wrap(ami.boot_mode)
    elif attribute == "tpmSupport":
        result["TpmSupport"] = wrap(ami.tpm_support)
    elif attribute == "deregistrationProtection":
        result["DeregistrationProtection"] = wrap(ami.deregistration_protection or "disabled")
    elif attribute == "blockDeviceMapping":
        result["BlockDeviceMappings"] = _block_device_mappings(ami)
    elif attribute in ("uefiData", "lastLaunchedTime"):
        pass
    else:
        raise EC2ClientError("InvalidRequest", f"Value ({attribute}) for parameter attribute is invalid.")
    return ActionResult(result)


def copy_image(self: AmisResponse) -> ActionResult:
    self.error_on_dryrun()
    backend = self.ec2_backend
    source_id = self._get_param("SourceImageId")
    source_region = self._get_param("SourceRegion")
    token = self._get_param("ClientToken")
    tokens: dict[str, tuple[str, str, str]] = backend.__dict__.setdefault("emulator_copy_tokens", {})
    if token and token in tokens:
        previous_source, previous_region, image_id = tokens[token]
        if (previous_source, previous_region) != (source_id, source_region):
            raise EC2ClientError(
                "IdempotentParameterMismatch",
                f"The client token {token} was already used with a different request.",
            )
        return ActionResult({"ImageId": image_id})

    source_backend = ec2_backends[backend.account_id][source_region]
    source = _find_image(source_backend, source_id)
    name = self._get_param("Name") or source.name
    ami = Ami(
        backend,
        random_ami_id(),
        source_ami=source,
        name=name,
        description=self._get_param("Description"),
        image_location=source.image_location,
        root_device_type=source.root_device_type,
        root_device_name=source.root_device_name,
        hypervisor=source.hypervisor,
        boot_mode=source.boot_mode,
        region_name=self.region + "a",
        snapshot_description=f"Copied for DestinationAmi {name} from {source_id}",
    )
    if source.root_device_type == "instance-store":
        _drop_root_snapshot(ami)
    ami.emulator_bdm = source.emulator_bdm
    ami.emulator_bundled = getattr(source, "emulator_bundled", False)
    for attr in ("ena_support", "sriov_net_support", "tpm_support", "imds_support"):
        setattr(ami, attr, getattr(source, attr))
    ami.source_image_id = source.id
    ami.source_image_region = source_region
    if _bool(self._get_param("CopyImageTags")):
        ami.add_tags({t["Key"]: t["Value"] for t in _tags_of(source) if not t["Key"].startswith("aws:")})
    ami.add_tags(_tag_specs(self._get_param("TagSpecifications", []), "image"))
    backend.amis[ami.id] = ami
    failure = STATE.copy_fail_regions.get(self.region)
    if failure is None and source.root_device_type == "instance-store" and source.image_location:
        try:
            read_manifest(backend.account_id, source_region, source.image_location, for_copy=True)
        except EC2ClientError as e:
            # The copy reads the source's bundle from S3: without it, the copy fails.
            failure = f"Unable to copy the image: the source bundle cannot be read ({e.message})"
    _start_pending(ami, "failed" if failure else "available", failure)
    if token:
        tokens[token] = (source_id, source_region, ami.id)
    return ActionResult({"ImageId": ami.id})


def _deprecate_at(value: Any) -> str:
    when = value if isinstance(value, dt.datetime) else parse_timestamp(str(value))
    # AWS rounds the deprecation time up to the next minute.
    if when.second or when.microsecond:
        when = when.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
    return when.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def enable_image_deprecation(self: AmisResponse) -> ActionResult:
    self.error_on_dryrun()
    ami = _find_image(self.ec2_backend, self._get_param("ImageId"))
    ami.deprecation_time = _deprecate_at(self._get_param("DeprecateAt"))
    return ActionResult({"Return": True})


def disable_image_deprecation(self: AmisResponse) -> ActionResult:
    self.error_on_dryrun()
    ami = _find_image(self.ec2_backend, self._get_param("ImageId"))
    ami.deprecation_time = None
    return ActionResult({"Return": True})


def enable_image_deregistration_protection(self: AmisResponse) -> ActionResult:
    self.error_on_dryrun()
    ami = _find_image(self.ec2_backend, self._get_param("ImageId"))
    with_cooldown = _bool(self._get_param("WithCooldown")) or False
    ami.deregistration_protection = "enabled-with-cooldown" if with_cooldown else "enabled-without-cooldown"
    return ActionResult({"Return": ami.deregistration_protection})


def disable_image_deregistration_protection(self: AmisResponse) -> ActionResult:
    self.error_on_dryrun()
    ami = _find_image(self.ec2_backend, self._get_param("ImageId"))
    ami.deregistration_protection = "disabled"
    return ActionResult({"Return": "disabled"})


# --- seeding (control API) -------------------------------------------------------------------------------------


def seed_image(body: Any) -> dict[str, Any]:
    """Creates an image with a chosen id, as if a public or account AMI already existed (`POST /images`)."""
    if not isinstance(body, dict):
        raise ControlRequestError("an image must be a JSON object")
    allowed = {
        "region", "imageId", "name", "ownerId", "ownerAlias", "rootDeviceType", "architecture",
        "virtualizationType", "creationDate", "tags", "state", "description", "imageLocation", "public",
        "enaSupport", "rootDeviceName", "blockDeviceMappings", "bootMode",
    }
    unknown = set(body) - allowed
    if unknown:
        raise ControlRequestError(f"image: unknown field(s) {sorted(unknown)}; allowed: {sorted(allowed)}")
    region = body.get("region")
    name = body.get("name")
    if not isinstance(region, str) or not region:
        raise ControlRequestError("image: region must be a non-empty string")
    if not isinstance(name, str) or not name:
        raise ControlRequestError("image: name must be a non-empty string")
    image_id = body.get("imageId") or random_ami_id()
    if not isinstance(image_id, str) or not _AMI_ID.match(image_id):
        raise ControlRequestError(f"image: imageId must look like ami-0123abcd, got {image_id!r}")
    owner_id = body.get("ownerId") or DEFAULT_ACCOUNT_ID
    if not isinstance(owner_id, str) or not _ACCOUNT_ID.match(owner_id):
        raise ControlRequestError(f"image: ownerId must be 12 digits, got {owner_id!r}")
    root_device_type = body.get("rootDeviceType", "instance-store")
    if root_device_type not in ("instance-store", "ebs"):
        raise ControlRequestError(f"image: rootDeviceType must be instance-store or ebs, got {root_device_type!r}")
    virtualization_type = body.get("virtualizationType", "hvm")
    if virtualization_type not in ("hvm", "paravirtual"):
        raise ControlRequestError(f"image: virtualizationType must be hvm or paravirtual, got {virtualization_type!r}")
    state = body.get("state", "available")
    if state not in ("available", "pending", "failed", "deregistered", "invalid", "error", "transient"):
        raise ControlRequestError(f"image: state {state!r} is not an EC2 image state")
    tags = body.get("tags") or {}
    if not isinstance(tags, dict) or not all(isinstance(v, str) for v in tags.values()):
        raise ControlRequestError("image: tags must be an object of string values")
    try:
        created = parse_timestamp(body["creationDate"]) if body.get("creationDate") else utcnow()
    except Exception as e:
        raise ControlRequestError(f"image: creationDate is not an ISO 8601 time: {body.get('creationDate')!r}") from e
    try:
        backend = ec2_backends[DEFAULT_ACCOUNT_ID][region]
    except KeyError as e:
        raise ControlRequestError(f"image: unknown region {region!r}") from e

    owner_alias = body.get("ownerAlias")
    default_root = "/dev/xvda" if virtualization_type == "hvm" else "/dev/sda1"
    ami = Ami(
        backend,
        image_id,
        name=name,
        description=body.get("description"),
        owner_id=owner_id,
        owner_alias=owner_alias,
        public=bool(body.get("public", False)),
        virtualization_type=virtualization_type,
        architecture=body.get("architecture", "x86_64"),
        state="available",
        creation_date=created,
        image_location=body.get("imageLocation")
        or (f"{owner_alias or owner_id}/{name}.manifest.xml" if root_device_type == "instance-store" else None),
        hypervisor="xen",
        root_device_type=root_device_type,
        root_device_name=body.get("rootDeviceName") or default_root,
        region_name=region + "a",
        boot_mode=body.get("bootMode"),
        tags=tags,
    )
    if root_device_type == "instance-store":
        _drop_root_snapshot(ami)
        ami.emulator_bdm = normalize_block_device_mappings(body.get("blockDeviceMappings") or [])
    elif body.get("blockDeviceMappings"):
        ami.emulator_bdm = normalize_block_device_mappings(body["blockDeviceMappings"])
    ami.ena_support = body.get("enaSupport")
    previous = backend.amis.pop(image_id, None)
    if previous is not None:
        backend.snapshots.pop(previous.ebs_snapshot.id, None)
    backend.amis[image_id] = ami
    if image_id in backend.deleted_amis:
        backend.deleted_amis.remove(image_id)
    if state == "pending":
        _start_pending(ami)
    else:
        ami.state = state
    return {"imageId": image_id, "region": region}


def apply() -> None:
    for name, value in _AMI_DEFAULTS.items():
        setattr(Ami, name, value)
    AmisResponse.register_image = register_image
    AmisResponse.describe_images = describe_images
    AmisResponse.modify_image_attribute = modify_image_attribute
    AmisResponse.describe_image_attribute = describe_image_attribute
    AmisResponse.copy_image = copy_image
    AmisResponse.enable_image_deprecation = enable_image_deprecation
    AmisResponse.disable_image_deprecation = disable_image_deprecation
    AmisResponse.enable_image_deregistration_protection = enable_image_deregistration_protection
    AmisResponse.disable_image_deregistration_protection = disable_image_deregistration_protection
