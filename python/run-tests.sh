#!/usr/bin/env bash
# Builds the Python package into a fresh venv and runs its pytest suite (called by .ci/run;
# alone: python/run-tests.sh). Needs python3 with venv, PyPI (maturin, numpy, pytest) and
# crates.io; the CLI, coordinator and worker binaries come from cargo (built here if missing).
# Prints `SKIP: why` and exits 0 where python3 cannot make a venv.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
VENV=${CHIRPFARM_PY_VENV:-$ROOT/target/py-venv}
if ! command -v python3 >/dev/null || ! python3 -m venv "$VENV" >/dev/null 2>&1; then
    echo "SKIP: python3 cannot create a venv (install python3-venv): Python package not tested"
    exit 0
fi
# The binaries the tests start (CLI JSON parity, a real coordinator and workers).
[ -x target/debug/chirpfarm ] && [ -x target/debug/chirpfarm-coordinator ] && [ -x target/debug/chirpfarm-worker ] \
    || cargo build --bins
export CHIRPFARM_BIN_DIR=$ROOT/target/debug
"$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
# Shares the workspace's target directory and cargo's dev profile (dependencies and the engine
# at opt-level 3, as `cargo test` builds them): the crates built for the tests are reused
# instead of a release build of everything.
CARGO_TARGET_DIR=$ROOT/target MATURIN_PEP517_ARGS="--profile dev" \
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check ./python pytest numpy
"$VENV/bin/python" -m pip install -q --disable-pip-version-check pandas \
    || echo "NOTE: pandas did not install: DataResult.to_pandas() is not tested"
# From a directory without a `chirpfarm/` source folder, so the installed wheel is imported.
cd "$ROOT/python/tests"
"$VENV/bin/python" -m pytest -q -p no:cacheprovider .
