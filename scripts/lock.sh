#!/usr/bin/env bash
# Regenerate constraints.txt: a fresh venv with every extra, then `pip freeze`. Run after changing
# dependencies in pyproject.toml and commit the result; CI and the Dockerfile install from it.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"${PYTHON:-python3}" -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install -q --upgrade pip
"$tmp/venv/bin/pip" install -q '.[postgres,test]'
{
  echo "# Pinned versions CI, scripts/test.sh and the Dockerfile install with (pip install -c constraints.txt ...)."
  echo "# Regenerate after changing dependencies in pyproject.toml: bash scripts/lock.sh"
  "$tmp/venv/bin/pip" freeze --exclude-editable | grep -v '^cdshooks'
} > constraints.txt
echo "lock: wrote constraints.txt ($(grep -vc '^#' constraints.txt) pins)"
