#!/usr/bin/env bash
# Makes sure the pinned moto (with its server extras) is importable by the emulator's Python, and prints which
# Python that is with --print-python. The emulator patches moto's internals, so the version must be exactly 5.2.1.
#
# The Python is AMI_BUILDER_PYTHON when set, else python3. When that Python lacks moto, or refuses system-wide
# installs (PEP 668, "externally-managed-environment", as Debian's and Ubuntu's do), a project-local virtual
# environment .venv/ is created (git-ignored) with --system-site-packages, so a moto installed system-wide (e.g.
# python3-moto) is seen there and PyPI is used only for what is missing. Point AMI_BUILDER_PYTHON at .venv/bin/python
# afterwards, or let the CLI find it (it uses .venv/bin/python when present and AMI_BUILDER_PYTHON is unset).
set -euo pipefail
PINNED="5.2.1"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VENV="${AMI_BUILDER_VENV:-$ROOT/.venv}"
PRINT=false
[ "${1:-}" = "--print-python" ] && PRINT=true
say() { if $PRINT; then echo "$@" >&2; else echo "$@"; fi; }

has_moto() {
  local v
  v=$("$1" -c 'import importlib.metadata as m; print(m.version("moto"))' 2>/dev/null || true)
  [ "$v" = "$PINNED" ] && "$1" -c 'import flask, flask_cors, werkzeug' 2>/dev/null
}
# PEP 668's marker, in the interpreter's stdlib folder or its own prefix's lib folder.
externally_managed() {
  "$1" -c 'import os, sys, sysconfig
v = "python%d.%d" % sys.version_info[:2]
places = [sysconfig.get_path("stdlib"), os.path.join(sys.prefix, "lib", v)]
sys.exit(0 if any(os.path.exists(os.path.join(p, "EXTERNALLY-MANAGED")) for p in places) else 1)' 2>/dev/null
}
in_venv() { "$1" -c 'import sys; sys.exit(0 if sys.prefix != sys.base_prefix else 1)' 2>/dev/null; }

PYTHON="${AMI_BUILDER_PYTHON:-}"
if [ -z "$PYTHON" ] && [ -x "$VENV/bin/python" ]; then PYTHON="$VENV/bin/python"; fi
PYTHON="${PYTHON:-python3}"

if has_moto "$PYTHON"; then
  say "== moto $PINNED present ($PYTHON)"
  if $PRINT; then command -v "$PYTHON" || echo "$PYTHON"; fi
  exit 0
fi
if externally_managed "$PYTHON" || ! in_venv "$PYTHON"; then
  # Never pip-install into a system or externally managed Python: use the project's own environment.
  if externally_managed "$PYTHON"; then say "== $PYTHON is externally managed (PEP 668): using $VENV"; else say "== using $VENV"; fi
  if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv --system-site-packages "$VENV"
  fi
  PYTHON="$VENV/bin/python"
fi
if ! has_moto "$PYTHON"; then
  say "== installing moto[server]==$PINNED into $PYTHON"
  "$PYTHON" -m pip install --quiet "moto[server]==$PINNED" >&2
fi
"$PYTHON" -c 'import importlib.metadata as m; v=m.version("moto"); assert v == "'"$PINNED"'", v' >&2
say "== moto $PINNED ready ($PYTHON)"
if $PRINT; then echo "$PYTHON"; fi
