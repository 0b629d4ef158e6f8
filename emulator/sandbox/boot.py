"""The first process of an emulated instance: runs as PID 1 in fresh mount, PID and network namespaces.

    unshare --mount --net --pid --fork [--user --map-root-user] -- python3 boot.py <config.json>

It builds the instance's root file system (an overlay of the host's `/` with a tmpfs upper layer, so nothing it
writes reaches the host; fresh `/tmp`, `/run`, `/proc`), gives loopback the instance metadata address
169.254.169.254, installs the guest files (the AMI tool stand-ins, users as a cloud image has them), chroots into
the new root and prints `READY`. From then on it forwards two TCP listeners inside the instance's network
namespace to Unix sockets the emulator serves on the host: the metadata service (169.254.169.254:80) and the AWS
endpoint (127.0.0.1:<emulator port>). Nothing else is reachable: the namespace has no other interface. It also
reaps orphaned processes, as an init does.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time


def run(*args: str) -> None:
    subprocess.run(list(args), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def try_run(*args: str) -> None:
    subprocess.run(list(args), check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def build_root(config: dict) -> str:
    base = config["base"]
    rw = os.path.join(base, "rw")
    root = os.path.join(base, "root")
    run("mount", "-t", "tmpfs", "-o", "mode=0755", "ami-builder-rw", rw)
    os.makedirs(os.path.join(rw, "upper"))
    os.makedirs(os.path.join(rw, "work"))
    run(
        "mount", "-t", "overlay", "ami-builder-root",
        "-o", f"lowerdir=/,upperdir={rw}/upper,workdir={rw}/work", root,
    )
    run("mount", "-t", "proc", "proc", os.path.join(root, "proc"))
    run("mount", "--rbind", "/dev", os.path.join(root, "dev"))
    try_run("mount", "-t", "sysfs", "-o", "ro", "sysfs", os.path.join(root, "sys"))
    for fresh in ("tmp", "run"):
        mode = "1777" if fresh == "tmp" else "0755"
        run("mount", "-t", "tmpfs", "-o", f"mode={mode}", f"ami-builder-{fresh}", os.path.join(root, fresh))
    return root


def unpack_image(root: str, config: dict) -> None:
    """An instance launched from an AMI registered from a bundle boots the bundled volume: its files (the stand-in
    ec2-bundle-vol's tar) go over the root, as they were on the instance that was bundled."""
    image = config.get("image")
    if not image:
        return
    import tarfile

    skipped = 0
    with tarfile.open(image) as tar:
        for member in tar.getmembers():
            if member.name.startswith("/") or ".." in member.name.split("/"):
                skipped += 1
                continue
            if member.isdir() and os.path.isdir(os.path.join(root, member.name)):
                continue  # an existing directory keeps its mode and owner (as a restored volume's does)
            try:
                if hasattr(tarfile, "data_filter"):
                    tar.extract(member, root, set_attrs=False, filter="tar")
                else:
                    tar.extract(member, root, set_attrs=False)
                if member.isfile():
                    os.chmod(os.path.join(root, member.name), member.mode & 0o7777)
                    try:
                        os.chown(os.path.join(root, member.name), member.uid, member.gid)
                    except OSError:
                        pass  # an id the user namespace does not map
            except (OSError, tarfile.TarError) as e:
                skipped += 1
                print(f"boot: not restored from the image: {member.name}: {e}", file=sys.stderr, flush=True)
    if skipped:
        print(f"boot: {skipped} entries of the image were not restored", file=sys.stderr, flush=True)
    os.remove(image)


def install_guest(root: str, config: dict) -> None:
    bin_dir = os.path.join(root, "usr/local/bin")
    os.makedirs(bin_dir, exist_ok=True)
    for name, source in config["tools"].items():
        if name == "sudo" and os.path.exists(os.path.join(root, "usr/bin/sudo")):
            continue  # the image has a real sudo; root may use it without a password
        with open(source, encoding="utf-8") as f:
            text = f.read()
        if text.startswith("#!/usr/bin/env python3"):
            text = f"#!{config['python']}" + text[len("#!/usr/bin/env python3") :]
        target = os.path.join(bin_dir, name)
        with open(target, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(target, 0o755)
    amitools = os.path.join(root, "etc/ec2/amitools")
    os.makedirs(amitools, exist_ok=True)
    shutil.copyfile(config["ec2Cert"], os.path.join(amitools, "cert-ec2.pem"))
    with open(os.path.join(amitools, "emulator.json"), "w", encoding="utf-8") as f:
        json.dump({"endpoint": f"http://127.0.0.1:{config['awsPort']}", "region": config["region"]}, f)
    users = config.get("users", [])
    add_users(root, users)
    # As cloud-init sets up a cloud image's default user: sudo without a password.
    sudoers = os.path.join(root, "etc/sudoers.d")
    os.makedirs(sudoers, exist_ok=True)
    with open(os.path.join(sudoers, "90-cloud-init-users"), "w", encoding="utf-8") as f:
        f.write("".join(f"{user} ALL=(ALL) NOPASSWD:ALL\n" for user in users))
    os.chmod(os.path.join(sudoers, "90-cloud-init-users"), 0o440)
    with open(os.path.join(root, "etc/hostname"), "w", encoding="utf-8") as f:
        f.write(config["hostname"] + "\n")


def add_users(root: str, users: list[str]) -> None:
    """What useradd --create-home --user-group does, written directly (useradd costs ~0.3 s per user)."""
    etc = os.path.join(root, "etc")
    with open(os.path.join(etc, "passwd"), encoding="utf-8") as f:
        entries = [line.split(":") for line in f.read().splitlines() if line]
    with open(os.path.join(etc, "group"), encoding="utf-8") as f:
        groups = [line.split(":") for line in f.read().splitlines() if line]
    taken_names = {e[0] for e in entries}
    taken = {int(e[2]) for e in entries if e[2].isdigit()} | {int(g[2]) for g in groups if g[2].isdigit()}
    next_id = 1000
    for user in users:
        if user in taken_names:
            continue
        while next_id in taken:
            next_id += 1
        uid = next_id
        taken.add(uid)
        home = f"/home/{user}"
        with open(os.path.join(etc, "passwd"), "a", encoding="utf-8") as f:
            f.write(f"{user}:x:{uid}:{uid}::{home}:/bin/bash\n")
        with open(os.path.join(etc, "group"), "a", encoding="utf-8") as f:
            f.write(f"{user}:x:{uid}:\n")
        shadow = os.path.join(etc, "shadow")
        if os.path.exists(shadow):
            with open(shadow, "a", encoding="utf-8") as f:
                f.write(f"{user}:!:19000:0:99999:7:::\n")
        target = os.path.join(root, home.lstrip("/"))
        skel = os.path.join(etc, "skel")
        if os.path.isdir(skel):
            shutil.copytree(skel, target, dirs_exist_ok=True)
        else:
            os.makedirs(target, exist_ok=True)
        for dirpath, dirnames, filenames in os.walk(target):
            for name in [dirpath] + [os.path.join(dirpath, n) for n in dirnames + filenames]:
                try:
                    os.lchown(name, uid, uid)
                except OSError:
                    pass  # an unprivileged user namespace maps root only
        os.chmod(target, 0o750)


def setup_network(port: int) -> list[tuple[socket.socket, str]]:
    run("ip", "link", "set", "lo", "up")
    run("ip", "addr", "add", "169.254.169.254/32", "dev", "lo")
    listeners = []
    for address, name in ((("169.254.169.254", 80), "imds.sock"), (("127.0.0.1", port), "aws.sock")):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(address)
        s.listen(64)
        listeners.append((s, name))
    return listeners


def pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while True:
            data = source.recv(65536)
            if not data:
                break
            sink.sendall(data)
    except OSError:
        pass
    finally:
        try:
            sink.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def forward(listener: socket.socket, path: str) -> None:
    while True:
        client, _ = listener.accept()
        upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            upstream.connect(path)
        except OSError:
            client.close()
            upstream.close()
            continue

        def both(c: socket.socket = client, u: socket.socket = upstream) -> None:
            t = threading.Thread(target=pump, args=(u, c), daemon=True)
            t.start()
            pump(c, u)
            t.join()
            c.close()
            u.close()

        threading.Thread(target=both, daemon=True).start()


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as f:
        config = json.load(f)
    try:
        root = build_root(config)
        unpack_image(root, config)
        install_guest(root, config)
        listeners = setup_network(int(config["awsPort"]))
        host_dir = os.open(config["base"], os.O_RDONLY | os.O_DIRECTORY)
        os.chroot(root)
        os.chdir("/")
    except subprocess.CalledProcessError as e:
        print(f"FAILED {' '.join(e.cmd)}: {e.stderr.decode(errors='replace').strip()}", flush=True)
        sys.exit(1)
    except OSError as e:
        print(f"FAILED {e}", flush=True)
        sys.exit(1)
    for listener, name in listeners:
        # The Unix socket is reached through the directory opened before the chroot.
        path = f"/proc/self/fd/{host_dir}/{name}"
        threading.Thread(target=forward, args=(listener, path), daemon=True).start()
    watch = config.get("watchFd")
    if watch is not None:
        # The emulator holds the other end: when it exits, however it exits, the instance goes with it.
        def watch_parent(fd: int = int(watch)) -> None:
            while os.read(fd, 1):
                pass
            os._exit(0)  # PID 1 exits: the kernel ends every process of the namespace

        threading.Thread(target=watch_parent, daemon=True).start()
    print("READY", flush=True)
    os.close(1)
    os.open("/dev/null", os.O_WRONLY)
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            time.sleep(0.5)
        except InterruptedError:
            pass


if __name__ == "__main__":
    main()
