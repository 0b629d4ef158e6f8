"""Sandboxes: each emulated instance gets its own mount, PID and network namespaces over a copy-on-write view of
the host's root file system (see `emulator/sandbox/boot.py`, which runs inside as PID 1).

The emulator serves each sandbox two Unix sockets in the sandbox's host folder, which the sandbox's init forwards
from inside its network namespace: `imds.sock` (the instance metadata service, answered by `patches.imds` for
that instance) and `aws.sock` (piped to the emulator's own TCP port). Commands run in the sandbox with `nsenter`.

Where no sandbox can be made (not Linux, no `unshare`/`nsenter`, namespaces refused), the emulator falls back to
simulated commands and says so once on stderr; `GET /_ami-builder/health` reports the mode and the reason.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from typing import Any

from sandbox import probe as probe_script

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BOOT = os.path.join(HERE, "sandbox", "boot.py")
GUEST = os.path.join(HERE, "guest")
GUEST_TOOLS = {
    "ec2-bundle-vol": os.path.join(GUEST, "ec2-bundle-vol"),
    "ec2-upload-bundle": os.path.join(GUEST, "ec2-upload-bundle"),
    "sudo": os.path.join(GUEST, "sudo"),
    # Chef and Salt are not packaged by Debian: images "with Chef/Salt installed" get these stand-ins.
    "chef-solo": os.path.join(GUEST, "chef-solo"),
    "salt-call": os.path.join(GUEST, "salt-call"),
}
# The default users of common cloud images, so that `ssh_username` names a user that exists.
GUEST_USERS = ["ubuntu", "ec2-user", "admin"]
BOOT_TIMEOUT_S = 30


@dataclass
class Mode:
    """Which mode the emulator runs in: `sandbox` (commands really run) or `simulated`."""

    name: str = "simulated"
    reason: str = "not probed"
    userns: bool = False
    announced: bool = False


MODE = Mode()


def _root_dir() -> str:
    return os.path.join(tempfile.gettempdir(), f"ami-builder-emulator-{os.getpid()}")


_ec2_key: Any = None
_ec2_cert_path: str | None = None


def ec2_bundle_key() -> tuple[Any, str]:
    """The emulated EC2 bundling key pair: the stand-in ec2-bundle-vol encrypts each bundle's key for its
    certificate (`/etc/ec2/amitools/cert-ec2.pem`, as the AMI tools ship EC2's), and RegisterImage decrypts it."""
    global _ec2_key, _ec2_cert_path
    if _ec2_key is None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.x509.oid import NameOID

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ec2-bundling (emulated)")])
        now = dt.datetime.now(dt.timezone.utc)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=3650))
            .sign(key, hashes.SHA256())
        )
        os.makedirs(_root_dir(), exist_ok=True)
        path = os.path.join(_root_dir(), "cert-ec2.pem")
        with open(path, "wb") as f:
            f.write(cert.public_bytes(serialization.Encoding.PEM))
        _ec2_key, _ec2_cert_path = key, path
    return _ec2_key, _ec2_cert_path  # type: ignore[return-value]


def _namespace_args() -> list[str]:
    return probe_script.namespace_args()


_probe_process: subprocess.Popen[str] | None = None


def use_probe(started: subprocess.Popen[str] | None) -> None:
    """The probe the launcher started before moto loaded (`sandbox/probe.py`); `probe()` collects it."""
    global _probe_process
    _probe_process = started


def probe(force_simulated: bool = False) -> Mode:
    """Decides the mode once, at start: tries to make namespaces and an overlay the way a sandbox does."""
    if force_simulated:
        if _probe_process is not None:
            _probe_process.kill()
            _probe_process.wait()
        MODE.name, MODE.reason = "simulated", "sandboxes were switched off (--no-sandbox)"
        return MODE
    if not sys.platform.startswith("linux"):
        MODE.name, MODE.reason = "simulated", f"sandboxes need Linux namespaces; this is {sys.platform}"
        return MODE
    missing = [t for t in ("unshare", "nsenter", "mount", "ip", "chroot") if shutil.which(t) is None]
    if missing:
        MODE.name, MODE.reason = "simulated", f"missing tools for sandboxes: {', '.join(missing)}"
        return MODE
    MODE.userns = os.geteuid() != 0
    probe_args = _namespace_args() + ["--", "/bin/sh", "-c", probe_script.PROBE_SCRIPT]
    try:
        started = _probe_process or subprocess.Popen(
            probe_args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        _, stderr = started.communicate(timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        MODE.name, MODE.reason = "simulated", f"namespaces could not be created: {e}"
        return MODE
    if started.returncode != 0:
        how = "an unprivileged user namespace" if MODE.userns else "namespaces as root"
        MODE.name = "simulated"
        MODE.reason = f"{how} with an overlay root could not be made: {stderr.strip() or started.returncode}"
        return MODE
    MODE.name = "sandbox"
    MODE.reason = (
        "each instance runs in its own mount, PID and network namespaces "
        + ("(unprivileged user namespace)" if MODE.userns else "(as root)")
        + " over a copy-on-write view of the host's root"
    )
    return MODE


def announce() -> None:
    if not MODE.announced:
        MODE.announced = True
        what = "commands run for real" if MODE.name == "sandbox" else "commands are simulated"
        print(f"emulator: {MODE.name} mode, {what}: {MODE.reason}", file=sys.stderr, flush=True)


class _UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    allow_reuse_address = True


class _AwsProxy(socketserver.BaseRequestHandler):
    """Pipes one connection from inside the sandbox to the emulator's TCP port."""

    server: Any

    def handle(self) -> None:
        upstream = socket.create_connection(("127.0.0.1", self.server.aws_port))
        client = self.request

        def pump(source: socket.socket, sink: socket.socket) -> None:
            try:
                while data := source.recv(65536):
                    sink.sendall(data)
            except OSError:
                pass
            finally:
                try:
                    sink.shutdown(socket.SHUT_WR)
                except OSError:
                    pass

        back = threading.Thread(target=pump, args=(upstream, client), daemon=True)
        back.start()
        pump(client, upstream)
        back.join()
        upstream.close()


@dataclass
class Sandbox:
    instance_id: str
    region: str
    base: str
    process: subprocess.Popen[bytes] | None = None
    init_pid: int | None = None
    servers: list[Any] = field(default_factory=list)
    ready: threading.Event = field(default_factory=threading.Event)
    error: str | None = None
    destroyed: bool = False
    watch_fd: int | None = None

    def nsenter(self, workdir: str | None = None) -> list[str]:
        """The command prefix that runs a program inside the sandbox (its root, namespaces and `workdir`)."""
        args = ["nsenter", "-t", str(self.init_pid), "-m", "-n", "-p", "-r"]
        if MODE.userns:
            args += ["-U", "--preserve-credentials"]
        args.append("--")
        # nsenter's own -w resolves outside the new root's mounts; env --chdir changes directory inside.
        return args + ["/usr/bin/env", f"--chdir={workdir or '/'}"]

    def destroy(self) -> None:
        if self.destroyed:
            return
        self.destroyed = True
        if self.init_pid is not None:
            try:
                os.kill(self.init_pid, signal.SIGKILL)  # the kernel ends every process of the PID namespace
            except ProcessLookupError:
                pass
        if self.process is not None:
            try:
                self.process.kill()
            except ProcessLookupError:
                pass
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        if self.watch_fd is not None:
            os.close(self.watch_fd)
            self.watch_fd = None
        servers, base = list(self.servers), self.base

        def close() -> None:
            for server in servers:
                server.shutdown()
                server.server_close()
            shutil.rmtree(base, ignore_errors=True)

        threading.Thread(target=close, daemon=True).start()


SANDBOXES: dict[str, Sandbox] = {}
_lock = threading.Lock()
AWS_PORT = {"port": 0}


def create(instance_id: str, region: str, imds_handler: type, image: bytes | None = None) -> Sandbox:
    """Starts booting a sandbox for an instance; `ready` is set once it accepts commands (or `error` is set).

    `image`: the image file of the AMI's bundle (a tar of the bundled volume), unpacked over the sandbox's root.
    """
    base = os.path.join(_root_dir(), instance_id)
    os.makedirs(os.path.join(base, "rw"), exist_ok=True)
    os.makedirs(os.path.join(base, "root"), exist_ok=True)
    if image is not None:
        with open(os.path.join(base, "image.tar"), "wb") as f:
            f.write(image)
    box = Sandbox(instance_id=instance_id, region=region, base=base)
    with _lock:
        SANDBOXES[instance_id] = box
    threading.Thread(target=_boot, args=(box, imds_handler), daemon=True, name=f"boot-{instance_id}").start()
    return box


def _boot(box: Sandbox, imds_handler: type) -> None:
    try:
        imds = _UnixServer(os.path.join(box.base, "imds.sock"), imds_handler)
        imds.instance_id = box.instance_id  # type: ignore[attr-defined]
        imds.region = box.region  # type: ignore[attr-defined]
        aws = _UnixServer(os.path.join(box.base, "aws.sock"), _AwsProxy)
        aws.aws_port = AWS_PORT["port"]  # type: ignore[attr-defined]
        for server in (imds, aws):
            box.servers.append(server)
            threading.Thread(target=server.serve_forever, daemon=True).start()
        _, cert = ec2_bundle_key()
        config = {
            "base": box.base,
            "awsPort": AWS_PORT["port"],
            "region": box.region,
            "python": sys.executable,
            "tools": GUEST_TOOLS,
            "ec2Cert": cert,
            "users": GUEST_USERS,
            "hostname": "ip-10-0-0-1",
        }
        if os.path.exists(os.path.join(box.base, "image.tar")):
            config["image"] = os.path.join(box.base, "image.tar")
        watch_read, box.watch_fd = os.pipe()
        os.set_inheritable(watch_read, True)
        config["watchFd"] = watch_read
        config_path = os.path.join(box.base, "boot.json")
        with open(config_path, "w", encoding="utf-8") as f:
            json.dump(config, f)
        box.process = subprocess.Popen(
            _namespace_args() + ["--", sys.executable, BOOT, config_path],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            pass_fds=(watch_read,),
        )
        os.close(watch_read)
        line = box.process.stdout.readline().decode("utf-8", errors="replace").strip()  # type: ignore[union-attr]
        if line != "READY":
            raise RuntimeError(f"the sandbox of {box.instance_id} did not boot: {line or 'no output'}")
        with open(f"/proc/{box.process.pid}/task/{box.process.pid}/children", encoding="utf-8") as f:
            children = f.read().split()
        if not children:
            raise RuntimeError(f"the sandbox of {box.instance_id} has no init process")
        box.init_pid = int(children[0])
    except Exception as e:  # noqa: BLE001 - any failure leaves the instance without a working agent
        box.error = str(e)
        print(f"emulator: {box.error}", file=sys.stderr, flush=True)
    finally:
        box.ready.set()


def get(instance_id: str) -> Sandbox | None:
    with _lock:
        return SANDBOXES.get(instance_id)


def destroy(instance_id: str) -> None:
    with _lock:
        box = SANDBOXES.pop(instance_id, None)
    if box is not None:
        if box.ready.is_set():
            box.destroy()
        else:
            threading.Thread(target=lambda: (box.ready.wait(BOOT_TIMEOUT_S), box.destroy()), daemon=True).start()


def destroy_all() -> None:
    with _lock:
        boxes = list(SANDBOXES.values())
        SANDBOXES.clear()
    for box in boxes:
        box.ready.wait(BOOT_TIMEOUT_S)
        box.destroy()


def remove_root() -> None:
    """Removes the emulator's sandbox folder (at exit, after `destroy_all`)."""
    shutil.rmtree(_root_dir(), ignore_errors=True)
