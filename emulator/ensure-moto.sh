#!/usr/bin/env bash
# Makes sure the pinned moto (with its server extras) is importable by python3; installs it with pip if not.
set -euo pipefail
PINNED="5.2.1"
have=$(python3 -c 'import importlib.metadata as m; print(m.version("moto"))' 2>/dev/null || true)
if [ "$have" = "$PINNED" ] && python3 -c 'import flask, flask_cors, werkzeug' 2>/dev/null; then
  echo "== moto $have present"
  exit 0
fi
echo "== installing moto[server]==$PINNED (found: ${have:-none})"
python3 -m pip install --quiet "moto[server]==$PINNED"
python3 -c 'import importlib.metadata as m; v=m.version("moto"); assert v == "'"$PINNED"'", v; print("== moto", v)'
