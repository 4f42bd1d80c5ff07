#!/usr/bin/env bash
# Install Debian's headless Chromium + chromedriver for the browser CORS test
# (tests/browser/test_sandbox_cors.py, pytest -m browser).
#
# Why Debian packages: the test drives /usr/bin/chromium through /usr/bin/chromedriver with an
# explicit Service path, so Selenium Manager never downloads a browser or driver at test time.
# Idempotent: does nothing when both binaries are already present.
set -euo pipefail

if [[ -x /usr/bin/chromium && -x /usr/bin/chromedriver ]]; then
    echo "install-browser: chromium and chromedriver already installed"
    /usr/bin/chromium --version 2>/dev/null || true
    exit 0
fi

SUDO=""
if [[ "$(id -u)" -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "install-browser: need root (or sudo) to apt-get install chromium chromium-driver" >&2
        exit 1
    fi
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends chromium chromium-driver

/usr/bin/chromium --version
/usr/bin/chromedriver --version
