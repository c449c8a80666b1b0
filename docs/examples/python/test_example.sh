#!/usr/bin/env bash
# Runs the Python example client against a real coordinator and worker on 127.0.0.1 and checks
# that its numbers equal the CLI's for the same search (the seed search: bank 0.8:1.74:0.01,
# signal Mc 1.2): every SNR, every lag, the best template, the bank's chirp masses, exactly.
#
#   bash docs/examples/python/test_example.sh      (after `cargo build -p chirpfarm
#                                                   -p chirpfarm-worker -p chirpfarm-coordinator`)
#
# Environment: CHIRPFARM_BIN (default target/debug), PYTHON (default python3), CHIRPFARM_VENV
# (reuse this virtual environment instead of creating one; it must have grpcio and grpcio-tools).
# Bounded: each step has a timeout, the whole run well under two minutes once pip is done.
# Everything it starts is killed on exit; its temporary directory is removed.
set -euo pipefail
cd "$(dirname "$0")/../../.."
BIN=${CHIRPFARM_BIN:-target/debug}
PYTHON=${PYTHON:-python3}
for b in chirpfarm chirpfarm-coordinator chirpfarm-worker; do
    if [ ! -x "$BIN/$b" ]; then
        echo "FAIL: $BIN/$b not built (cargo build -p chirpfarm -p chirpfarm-worker -p chirpfarm-coordinator)" >&2
        exit 1
    fi
done

tmp=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

if [ -n "${CHIRPFARM_VENV:-}" ]; then
    venv=$CHIRPFARM_VENV
else
    venv=$tmp/venv
    if ! command -v "$PYTHON" >/dev/null; then
        echo "SKIP: no $PYTHON to run the Python example (.ci/install-python.sh installs it)"
        exit 0
    fi
    if ! timeout 120 "$PYTHON" -m venv "$venv" >"$tmp/venv.log" 2>&1; then
        cat "$tmp/venv.log" >&2
        echo "FAIL: $PYTHON -m venv failed (Debian: apt-get install python3-venv; .ci/install-python.sh)" >&2
        exit 1
    fi
    if ! timeout 300 "$venv/bin/pip" install --quiet grpcio grpcio-tools >"$tmp/pip.log" 2>&1; then
        cat "$tmp/pip.log" >&2
        echo "FAIL: pip install grpcio grpcio-tools failed" >&2
        exit 1
    fi
fi

# Coordinator on a free loopback port (it logs the address it bound).
RUST_LOG=info "$BIN/chirpfarm-coordinator" --listen 127.0.0.1:0 >/dev/null 2>"$tmp/coord.log" &
pids+=($!)
addr=
for _ in $(seq 200); do
    addr=$(sed -n 's/.*listening on \(https\?:\/\/\)\?\([0-9.:]*\).*/\2/p' "$tmp/coord.log" | head -n1)
    [ -n "$addr" ] && break
    sleep 0.1
done
if [ -z "$addr" ]; then
    cat "$tmp/coord.log" >&2
    echo "FAIL: the coordinator did not report its address" >&2
    exit 1
fi
url=http://$addr
"$BIN/chirpfarm-worker" --coordinator "$url" --name py-example --threads 2 >/dev/null 2>"$tmp/worker.log" &
pids+=($!)

timeout 120 "$venv/bin/python" docs/examples/python/chirpfarm_client.py \
    --coordinator "$url" --bank 0.8:1.74:0.01 --signal-mc 1.2 >"$tmp/python.json"
timeout 120 "$BIN/chirpfarm" search --coordinator "$url" --bank 0.8:1.74:0.01 --signal-mc 1.2 \
    --json --quiet >"$tmp/cli.json"

"$venv/bin/python" - "$tmp/python.json" "$tmp/cli.json" <<'EOF'
import json, sys
py, cli = (json.load(open(p)) for p in sys.argv[1:3])
def same(what, a, b):
    if a != b:
        sys.exit(f"FAIL: {what} differ: python {a!r} vs CLI {b!r}")
same("schema versions", py["version"], cli["version"])
same("SNR conventions", py["snr_convention"], cli["snr_convention"])
same("bank chirp masses", py["bank"]["mc"], cli["bank"]["mc"])
same("signal counts", len(py["signals"]), len(cli["signals"]))
for i, (p, c) in enumerate(zip(py["signals"], cli["signals"])):
    for key in ("mc", "delay_seconds", "best", "snr", "lag_seconds"):
        same(f"signal {i} {key}", p[key], c[key])
for key in ("templates", "signals", "workers"):
    same(f"stats.{key}", py["stats"][key], cli["stats"][key])
s = py["signals"][0]
if len(s["snr"]) != 94 or not s["best"]["snr"] > 0:
    sys.exit(f"FAIL: unexpected seed search: {len(s['snr'])} templates, best {s['best']}")
print(f"ok: python example == CLI on {len(s['snr'])} templates; best Mc {s['best']['mc']} "
      f"SNR {s['best']['snr']} (python job {py['stats']['job_id']}, CLI job {cli['stats']['job_id']})")
EOF
