#!/usr/bin/env bash
# Installs Chromium for the headless test of the coordinator's status page
# (client/tests/observe.rs). Idempotent; prints a SKIP line and exits 0 when it cannot install
# (no apt-get, no root, no network): the tests then print their own SKIP lines.
set -uo pipefail
if command -v chromium >/dev/null 2>&1; then
    echo "chromium: already installed ($(command -v chromium))"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "SKIP: chromium not installed (no apt-get on this machine)"
    exit 0
fi
sudo=""
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then sudo="sudo -n"; else
        echo "SKIP: chromium not installed (not root and no sudo)"
        exit 0
    fi
fi
export DEBIAN_FRONTEND=noninteractive
if ! $sudo apt-get install -y --no-install-recommends chromium >/dev/null 2>&1; then
    $sudo apt-get update >/dev/null 2>&1 || true
    if ! $sudo apt-get install -y --no-install-recommends chromium >/dev/null 2>&1; then
        echo "SKIP: chromium not installed (apt-get install chromium failed)"
        exit 0
    fi
fi
echo "chromium: installed ($(command -v chromium))"
