#!/usr/bin/env bash
# Checks deploy/htcondor/workers.sub with the HTCondor Python bindings (no pool, no daemons):
# deploy/htcondor/check_submit.py parses and expands it as condor_submit would, evaluates its
# policy expressions, and proves it catches a set of deliberately broken copies; then a broken
# copy written here must make check_submit.py exit 1.
#
# Uses the bindings if `python3 -c 'import htcondor2'` (or `htcondor`) works, else installs the
# `htcondor` wheel from PyPI into a private virtual environment; prints "SKIP: ..." and exits 0
# when neither is possible. Set CHIRPFARM_WORKER_BIN (or build target/debug/chirpfarm-worker)
# to also check the submit file's flags and environment variables against the worker's --help.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/chirpfarm-htcondor.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

has_bindings() { "$1" -c 'import htcondor2' >/dev/null 2>&1 || "$1" -c 'import htcondor' >/dev/null 2>&1; }

command -v python3 >/dev/null 2>&1 || { echo "SKIP: htcondor submit check: python3 not available"; exit 0; }
python=python3
if ! has_bindings python3; then
    if python3 -m venv "$tmp/venv" >/dev/null 2>&1 &&
        "$tmp/venv/bin/python" -m pip install --quiet --disable-pip-version-check htcondor >/dev/null 2>&1 &&
        has_bindings "$tmp/venv/bin/python"; then
        python="$tmp/venv/bin/python"
    else
        echo "SKIP: htcondor submit check: the HTCondor Python bindings are not installed and 'pip install htcondor' failed (no network, or no wheel for this platform)"
        exit 0
    fi
fi

echo "== htcondor: $here/workers.sub"
"$python" "$here/check_submit.py"

echo "== htcondor: a broken copy must fail"
# request_memory too small for the template cache, and the idle timeout removed.
sed -e 's/^  memory = 2GB$/  memory = 64MB/' -e 's/ CHIRPFARM_IDLE_TIMEOUT=\$(idle_timeout)//' \
    "$here/workers.sub" >"$tmp/broken.sub"
cmp -s "$here/workers.sub" "$tmp/broken.sub" && { echo "FAILED: the broken copy is identical (update this script)"; exit 1; }
if "$python" "$here/check_submit.py" "$tmp/broken.sub"; then
    echo "FAILED: check_submit.py accepted a broken submit file"
    exit 1
fi
echo "htcondor: ok (the file passes; broken copies are caught)"
