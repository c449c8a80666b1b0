#!/usr/bin/env bash
# Makes `python3 -m venv` work for docs/examples/python/test_example.sh (Debian splits venv
# into python3-venv). Idempotent; prints a SKIP line and exits 0 when it cannot install.
set -uo pipefail
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
if command -v python3 >/dev/null && python3 -m venv "$probe/v" >/dev/null 2>&1; then
    echo "python3 venv: present ($(python3 --version 2>&1))"
    exit 0
fi
if ! command -v apt-get >/dev/null; then
    echo "SKIP: python3 with venv is missing and there is no apt-get to install it"
    exit 0
fi
sudo=
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null; then sudo=sudo; else
        echo "SKIP: python3-venv is missing and installing it needs root"
        exit 0
    fi
fi
if { $sudo apt-get install -y --no-install-recommends python3 python3-venv python3-pip >/dev/null 2>&1 ||
    { $sudo apt-get update >/dev/null 2>&1 &&
        $sudo apt-get install -y --no-install-recommends python3 python3-venv python3-pip >/dev/null 2>&1; }; } &&
    rm -rf "$probe/v" && python3 -m venv "$probe/v" >/dev/null 2>&1; then
    echo "python3 venv: installed ($(python3 --version 2>&1))"
else
    echo "SKIP: could not install python3-venv with apt-get"
fi
exit 0
