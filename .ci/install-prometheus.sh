#!/usr/bin/env bash
# Installs Prometheus (`prometheus` and `promtool`) for the coordinator's /metrics tests
# (client/tests/observe.rs). Idempotent; prints a SKIP line and exits 0 when it cannot install
# (no apt-get, no root, no network): the tests then print their own SKIP lines.
set -uo pipefail
if command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; then
    echo "prometheus: already installed ($(command -v prometheus))"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "SKIP: prometheus not installed (no apt-get on this machine)"
    exit 0
fi
sudo=""
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then sudo="sudo -n"; else
        echo "SKIP: prometheus not installed (not root and no sudo)"
        exit 0
    fi
fi
export DEBIAN_FRONTEND=noninteractive
if ! $sudo apt-get install -y --no-install-recommends prometheus >/dev/null 2>&1; then
    $sudo apt-get update >/dev/null 2>&1 || true
    if ! $sudo apt-get install -y --no-install-recommends prometheus >/dev/null 2>&1; then
        echo "SKIP: prometheus not installed (apt-get install prometheus failed)"
        exit 0
    fi
fi
# The package starts a system service on some machines; the tests run their own server.
$sudo systemctl stop prometheus >/dev/null 2>&1 || true
echo "prometheus: installed ($(command -v prometheus))"
