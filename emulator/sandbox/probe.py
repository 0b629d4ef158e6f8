"""Whether a sandbox can be made here: namespaces and an overlay of `/`, tried the way a sandbox boot does them.

Imports nothing from moto, so the launcher can start the probe before moto loads (it runs meanwhile).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

PROBE_SCRIPT = (
    "set -e; d=$(mktemp -d); mount -t tmpfs t $d; mkdir $d/u $d/w $d/m; "
    "mount -t overlay o -o lowerdir=/,upperdir=$d/u,workdir=$d/w $d/m; ip link set lo up; "
    "test -x $d/m/bin/sh"
)


def userns() -> bool:
    """Without root, sandboxes need an unprivileged user namespace."""
    return os.geteuid() != 0


def namespace_args() -> list[str]:
    args = ["unshare", "--mount", "--net", "--pid", "--fork", "--kill-child", "--propagation", "private"]
    if userns():
        args += ["--user", "--map-root-user"]
    return args


def start() -> subprocess.Popen[str] | None:
    """Starts the probe; None where it cannot even start (not Linux, no unshare)."""
    if not sys.platform.startswith("linux") or shutil.which("unshare") is None:
        return None
    try:
        return subprocess.Popen(
            namespace_args() + ["--", "/bin/sh", "-c", PROBE_SCRIPT],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
    except OSError:
        return None
