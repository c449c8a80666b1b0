#!/usr/bin/env python3
"""same_signals.py REFERENCE RESULT: exit 0 when the `signals` arrays of two `chirpfarm --json`
results are equal (every float, exactly), else say what differs on stderr and exit 1.

One comparison for the shell tests that check a farm's result against the embedded run
(deploy/test-cluster.sh, tests/slurm/)."""
import json
import sys

try:
    ref = json.load(open(sys.argv[1]))["signals"]
    got = json.load(open(sys.argv[2]))["signals"]
except Exception as e:  # empty or truncated output
    print(f"  cannot compare: {e}", file=sys.stderr)
    sys.exit(1)
if ref == got:
    sys.exit(0)
if len(ref) != len(got):
    print(f"  {len(got)} signals, expected {len(ref)}", file=sys.stderr)
for i, (r, g) in enumerate(zip(ref, got)):
    for key in ("mc", "best", "snr", "lag_seconds"):
        if r.get(key) != g.get(key):
            print(f"  signal {i}: {key} differs", file=sys.stderr)
            break
sys.exit(1)
