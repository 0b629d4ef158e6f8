#!/usr/bin/env bash
# Makes sure the pinned moto (with its server extras) is importable by the emulator's Python; installs it with pip
# if not. The emulator patches moto's internals, so the version must be exactly the pinned one.
set -euo pipefail
PINNED="5.2.1"
PYTHON="${AMI_BUILDER_PYTHON:-python3}"
have=$("$PYTHON" -c 'import importlib.metadata as m; print(m.version("moto"))' 2>/dev/null || true)
if [ "$have" = "$PINNED" ] && "$PYTHON" -c 'import flask, flask_cors, werkzeug' 2>/dev/null; then
  echo "== moto $have present"
  exit 0
fi
echo "== installing moto[server]==$PINNED (found: ${have:-none})"
"$PYTHON" -m pip install --quiet "moto[server]==$PINNED"
"$PYTHON" -c 'import importlib.metadata as m; v=m.version("moto"); assert v == "'"$PINNED"'", v; print("== moto", v)'
