#!/usr/bin/env bash
# Installs a Debian package the tests need when its commands are missing:
#   bash .ci/install-debian.sh PACKAGE COMMAND...
# (prometheus + promtool for the /metrics tests, chromium for the status-page test). Idempotent;
# prints a SKIP line and exits 0 when it cannot install (no apt-get, no root, no network): the
# tests then print their own SKIP lines.
set -uo pipefail
pkg=$1
shift
missing=0
for c in "$@"; do command -v "$c" >/dev/null 2>&1 || missing=1; done
if [ "$missing" = 0 ]; then
    echo "$pkg: already installed ($*)"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "SKIP: $pkg not installed (no apt-get on this machine)"
    exit 0
fi
sudo=""
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then sudo="sudo -n"; else
        echo "SKIP: $pkg not installed (not root and no sudo)"
        exit 0
    fi
fi
export DEBIAN_FRONTEND=noninteractive
if ! $sudo apt-get install -y --no-install-recommends "$pkg" >/dev/null 2>&1; then
    $sudo apt-get update >/dev/null 2>&1 || true
    if ! $sudo apt-get install -y --no-install-recommends "$pkg" >/dev/null 2>&1; then
        echo "SKIP: $pkg not installed (apt-get install $pkg failed)"
        exit 0
    fi
fi
# Some packages (prometheus) start a system service; the tests run their own servers.
$sudo systemctl stop "$pkg" >/dev/null 2>&1 || true
echo "$pkg: installed"
