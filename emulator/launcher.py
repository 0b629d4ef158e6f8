#!/usr/bin/env python3
"""Starts the local AWS emulator: moto 5.2.1 with the ami-builder patches, on 127.0.0.1.

    python3 emulator/launcher.py --port 0          # 0 = any free port

Prints exactly one line `READY <port> <mode>` on stdout (mode: `sandbox` or `simulated`) once the socket accepts connections; everything else goes to
stderr. The patches depend on moto's internals, so any moto other than 5.2.1 is refused. When moto is missing
it is installed with pip (set AMI_BUILDER_NO_PIP=1 to forbid that).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import logging
import os
import signal
import subprocess
import sys
import threading

PINNED_MOTO = "5.2.1"
HERE = os.path.dirname(os.path.abspath(__file__))


def fail(message: str) -> None:
    print(f"emulator: {message}", file=sys.stderr, flush=True)
    sys.exit(2)


def installed_moto() -> str | None:
    try:
        return importlib.metadata.version("moto")
    except importlib.metadata.PackageNotFoundError:
        return None


def ensure_moto() -> None:
    found = installed_moto()
    if found is None and os.environ.get("AMI_BUILDER_NO_PIP") != "1":
        print(f"emulator: moto is not installed; installing moto[server]=={PINNED_MOTO} with pip", file=sys.stderr)
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", f"moto[server]=={PINNED_MOTO}"],
            check=False,
            stdout=sys.stderr,
        )
        importlib.invalidate_caches()
        found = installed_moto()
    if found is None:
        fail(f"moto is not installed. Install it with: python3 -m pip install 'moto[server]=={PINNED_MOTO}'")
    if found != PINNED_MOTO:
        fail(
            f"moto {found} is installed, but the emulator patches moto's internals and needs exactly "
            f"{PINNED_MOTO}. Install it with: python3 -m pip install 'moto[server]=={PINNED_MOTO}'"
        )
    try:
        import flask  # noqa: F401
        import flask_cors  # noqa: F401
        import werkzeug  # noqa: F401
    except ImportError as e:
        fail(
            f"moto's server extras are missing ({e}). "
            f"Install them with: python3 -m pip install 'moto[server]=={PINNED_MOTO}'"
        )


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=0, help="port to listen on; 0 picks a free one (default 0)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--agent-online-delay-ms", type=int, default=300, help="SSM agent registration delay (default 300)"
    )
    parser.add_argument(
        "--image-describes-until-available",
        type=int,
        default=1,
        help="DescribeImages calls that still show a new image pending (default 1)",
    )
    parser.add_argument(
        "--command-steps", type=int, default=1, help="observations a command reports InProgress (default 1)"
    )
    parser.add_argument(
        "--default-amis",
        action="store_true",
        help="load moto's ~1200 built-in AMIs per region (slow; they also compete with seeded images in filters)",
    )
    parser.add_argument(
        "--instance-start-ms", type=int, default=200, help="time an instance stays pending (default 200)"
    )
    parser.add_argument(
        "--instance-stop-ms", type=int, default=200, help="time an instance stays shutting-down (default 200)"
    )
    parser.add_argument(
        "--image-pending-ms", type=int, default=200, help="time a new image stays pending at least (default 200)"
    )
    parser.add_argument(
        "--no-sandbox",
        action="store_true",
        help="simulate commands instead of running them in a sandbox per instance (the default where possible)",
    )
    parser.add_argument("--quiet", action="store_true", help="do not log each request on stderr")
    parser.add_argument(
        "--exit-on-stdin-eof",
        action="store_true",
        help="exit when stdin closes, so the emulator dies with the process that started it",
    )
    return parser.parse_args(argv)


def main(argv: list[str]) -> None:
    args = parse_args(argv)
    sys.path.insert(0, HERE)
    from sandbox import probe as sandbox_probe

    # Whether sandboxes can be made is probed while moto loads (loading takes seconds on a busy machine).
    early_probe = None if args.no_sandbox else sandbox_probe.start()
    ensure_moto()
    # RunInstances with an unknown AMI fails on AWS; moto only checks when asked. Read at moto's import time.
    os.environ.setdefault("MOTO_ENABLE_AMI_VALIDATION", "true")
    # moto's built-in AMIs cost ~1.5 s per region after every reset, and a template's source_ami_filter could
    # pick one of them (created "now") over the image the run seeded for it. Only seeded images exist by default.
    os.environ["MOTO_EC2_LOAD_DEFAULT_AMIS"] = "true" if args.default_amis else "false"

    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    from patches import apply_all, sandbox
    from patches.app import EmulatorApp
    from patches.state import STATE, ControlRequestError, Options

    try:
        options = Options()
        options.update(
            {
                "agentOnlineDelayMs": args.agent_online_delay_ms,
                "imageDescribesUntilAvailable": args.image_describes_until_available,
                "commandSteps": args.command_steps,
                "instanceStartMs": args.instance_start_ms,
                "instanceStopMs": args.instance_stop_ms,
                "imagePendingMs": args.image_pending_ms,
            }
        )
    except ControlRequestError as e:
        fail(str(e))
    STATE.launch_options = options
    STATE.reset()
    apply_all()

    if args.quiet:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    app = EmulatorApp(DomainDispatcherApplication(create_backend_app))
    try:
        server = make_server(args.host, args.port, app, threaded=True)
    except OSError as e:
        fail(f"cannot listen on {args.host}:{args.port}: {e}")

    sandbox.AWS_PORT["port"] = server.server_port
    sandbox.use_probe(early_probe)
    sandbox.probe(force_simulated=args.no_sandbox)
    sandbox.announce()

    def stop(*_: object) -> None:
        # shutdown() waits for serve_forever to return, so it must not run on the serving thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if args.exit_on_stdin_eof:

        def watch_stdin() -> None:
            while sys.stdin.buffer.read(4096):
                pass
            stop()

        threading.Thread(target=watch_stdin, daemon=True).start()

    # The socket listens from make_server on: connections queue until serve_forever picks them up.
    print(f"READY {server.server_port} {sandbox.MODE.name}", flush=True)
    server.serve_forever()
    server.server_close()
    sandbox.destroy_all()
    sandbox.remove_root()
    sys.stdout.flush()
    sys.stderr.flush()
    # Skips interpreter teardown of moto's many modules and backends: nothing is left to save.
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1:])
