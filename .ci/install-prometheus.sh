#!/usr/bin/env bash
# Installs Prometheus (for `promtool check metrics` in the worker metrics test). Idempotent;
# prints SKIP and exits 0 when it cannot be installed (the test then prints its own SKIP).
set -uo pipefail
if command -v promtool >/dev/null 2>&1; then
    echo "promtool: $(command -v promtool)"
    exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
if ! command -v apt-get >/dev/null 2>&1; then
    echo "SKIP: no apt-get: install prometheus (promtool) yourself"
    exit 0
fi
$sudo apt-get update -qq >/dev/null 2>&1 || true
if $sudo apt-get install -y --no-install-recommends prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; then
    echo "promtool: $(command -v promtool)"
else
    echo "SKIP: prometheus could not be installed with apt-get"
fi
exit 0
