#!/usr/bin/env bash
# The virtualenv of the aiortc interop test (tests/browser/interop.test.js):
# tests/interop/.venv with aiortc from PyPI, made with Debian's python3
# (python3-venv, installed by .ci/system-deps). Reused when it already has
# the pinned version.
set -euo pipefail
cd "$(dirname "$0")"
AIORTC_VERSION=1.16.0
if .venv/bin/python -c "import aiortc, sys; sys.exit(aiortc.__version__ != '$AIORTC_VERSION')" 2>/dev/null; then
  exit 0
fi
echo "--- creating tests/interop/.venv (aiortc $AIORTC_VERSION from PyPI)"
rm -rf .venv
/usr/bin/python3 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check "aiortc==$AIORTC_VERSION"
