#!/usr/bin/env bash
# Bank placement time for issue 13's example (run by bench/run.sh; alone: bench/bank_place.sh):
#   chirpfarm bank --mass1 1:3 --mass2 1:3 --min-match 0.97 --f-low 30 --psd aligo -o bank.csv
# 3 runs of the release binary (all cores), median wall time and the template count, then
# `bank --check` of the bank (1000 signals) for its fitting factors. Writes
# bench/results/<date>-bank.json and prints its path.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BIN=target/release/chirpfarm
[ -x "$BIN" ] || cargo build --release -p chirpfarm
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
times=()
for i in 1 2 3; do
    "$BIN" bank --mass1 1:3 --mass2 1:3 --min-match 0.97 --f-low 30 --psd aligo -o "$OUT/bank.csv" --json >"$OUT/place.json"
    times+=("$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["placement_seconds"])' "$OUT/place.json")")
done
t0=$(date +%s.%N)
"$BIN" bank --check "$OUT/bank.csv" --injections 1000 --seed 1 --json >"$OUT/check.json"
t1=$(date +%s.%N)
mkdir -p bench/results
RES="bench/results/$(date -u +%Y-%m-%d)-bank.json"
python3 - "$OUT/place.json" "$OUT/check.json" "$RES" "$t0" "$t1" "$(nproc)" "$(uptime | sed 's/.*load average: //')" "${times[@]}" <<'PY'
import json, statistics, sys
place, check, res, t0, t1, nproc, load = sys.argv[1:8]
times = [float(t) for t in sys.argv[8:]]
p, c = json.load(open(place)), json.load(open(check))
out = {
    "command": "chirpfarm bank --mass1 1:3 --mass2 1:3 --min-match 0.97 --f-low 30 --psd aligo -o bank.csv",
    "nproc": int(nproc), "load_average_before_check": load,
    "placement_seconds": times, "placement_median_seconds": statistics.median(times),
    "templates": p["templates"], "strips": p["strips"],
    "check_command": "chirpfarm bank --check bank.csv --injections 1000 --seed 1",
    "check_seconds": float(t1) - float(t0), "check_summary": c["summary"],
}
json.dump(out, open(res, "w"), indent=1)
print(res)
PY
