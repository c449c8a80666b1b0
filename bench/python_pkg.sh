#!/usr/bin/env bash
# The Python package against the seed's own scripts (run by bench/run.sh; alone:
# bench/python_pkg.sh [RUNS]), in the same Python process each time:
#   1. python/examples/seed_bank_search.py --json: the seed's map and Pool(2) over its bank
#      (numpy) vs chirpfarm.search (in-process engine) on the same bank (target >= 15x the Pool);
#   2. python/examples/standing_workers.py --json: ten random signals, the seed's two standing
#      worker processes vs chirpfarm.Farm.local(workers=2) (template caches).
# Installs ./python into bench/.venv (maturin from PyPI; the crates build in target/; or the
# wheel $CHIRPFARM_PY_WHEEL), runs each script RUNS times (default 3), takes medians; writes
# bench/results/<date>-python.json and prints its path.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
RUNS=${1:-3}
PY=bench/.venv/bin/python
[ -x "$PY" ] || { python3 -m venv bench/.venv && "$PY" -m pip install -q numpy; }
if [ -n "${CHIRPFARM_PY_WHEEL:-}" ]; then
    # A wheel built already (e.g. `maturin build -o DIR` in python/), instead of a release build.
    "$PY" -m pip install -q --disable-pip-version-check --force-reinstall --no-deps "$CHIRPFARM_PY_WHEEL" >&2
else
    CARGO_TARGET_DIR=$PWD/target "$PY" -m pip install -q --disable-pip-version-check ./python >&2
fi
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
for i in $(seq "$RUNS"); do
    "$PY" python/examples/seed_bank_search.py --json >>"$OUT/one.jsonl"
    "$PY" python/examples/standing_workers.py --json >>"$OUT/two.jsonl"
done
mkdir -p bench/results
RES="bench/results/$(date -u +%Y-%m-%d)-python.json"
"$PY" - "$OUT/one.jsonl" "$OUT/two.jsonl" "$RES" "$(nproc)" <<'PY'
import json, statistics as st, sys
one = [json.loads(l) for l in open(sys.argv[1])]
two = [json.loads(l) for l in open(sys.argv[2])]
med = lambda rows, k: st.median(r[k] for r in rows)
pool, cf = med(one, "seed_pool_seconds"), med(one, "chirpfarm_seconds")
seed_sig = st.median(st.median(r["seed_per_signal_seconds"]) for r in two)
cf_sig = st.median(st.median(r["chirpfarm_per_signal_seconds"]) for r in two)
out = {
    "nproc": int(sys.argv[4]), "runs": len(one),
    "script1": {
        "command": "python python/examples/seed_bank_search.py --json",
        "seed_map_seconds": med(one, "seed_map_seconds"),
        "seed_pool2_seconds": pool, "seed_pool2_map_only_seconds": med(one, "seed_pool_map_seconds"),
        "chirpfarm_search_seconds": cf, "pool2_over_chirpfarm": pool / cf,
        "max_relative_difference": max(r["max_relative_difference"] for r in one),
    },
    "script2": {
        "command": "python python/examples/standing_workers.py --json",
        "seed_total_seconds": med(two, "seed_total_seconds"),
        "chirpfarm_total_seconds": med(two, "chirpfarm_total_seconds"),
        "seed_per_signal_median_seconds": seed_sig, "chirpfarm_per_signal_median_seconds": cf_sig,
        "per_signal_ratio": seed_sig / cf_sig,
        "total_ratio": med(two, "seed_total_seconds") / med(two, "chirpfarm_total_seconds"),
        "same_best_fits": all(r["same_best_fits"] for r in two),
    },
}
json.dump(out, open(sys.argv[3], "w"), indent=1)
print(json.dumps(out, indent=1), file=sys.stderr)
print(sys.argv[3])
PY
