#!/usr/bin/env bash
# Install what the tests need (Python packages, Debian's Chromium), check lint, format and types, and run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q -r requirements-test.txt
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -q && $SUDO apt-get install -y -q chromium
fi
# Lint, format and types first (settings in pyproject.toml); set -e stops at the first failure.
python -m ruff check .
python -m ruff format --check .
python -m mypy
python -m pytest "$@"
