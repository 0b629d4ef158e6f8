"""In-process patches that fill the gaps of moto 5.2.1 the ami-builder workflow depends on.

They replace methods of moto's response and backend classes, so they are tied to moto's internals: the launcher
refuses any other moto version. `apply_all()` must run before the server handles its first request.
"""

from __future__ import annotations

from moto.moto_api._internal.models import MotoAPIBackend

from . import ec2_images, ec2_instances, events, imds, sandbox, ssm
from .state import STATE

_original_reset = MotoAPIBackend.reset


def _reset(self: MotoAPIBackend) -> None:
    # One reset for both worlds: `POST /moto-api/reset` and `POST /_ami-builder/reset` clear moto and our state.
    for command in STATE.commands:
        for inv in command.invocations.values():
            if inv.execution is not None:
                inv.execution.cancel()
    sandbox.destroy_all()
    imds.reset()
    _original_reset(self)
    STATE.reset()


def apply_all() -> None:
    ec2_images.apply()
    ec2_instances.apply()
    ssm.apply()
    events.apply()
    MotoAPIBackend.reset = _reset
