#!/usr/bin/env bash
# Scheduler fairness (issue 14): how long the seed-bank job (94 templates, `--signal-mc 1.2`)
# waits behind a 9,400 x 20 job submitted first, on a real coordinator and two real workers on
# 127.0.0.1 (release binaries).
#
#   bench/fairness.sh [--runs N] [--no-build] [--label TEXT]
#
# Prints one JSON object per run (see bench/fairness.py) and appends them to
# bench/results/<date>-fairness.json. About 30 s per run on an idle 2-core machine (minutes under load).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
RUNS=3
BUILD=1
LABEL=""
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) RUNS=${2:?--runs needs a number}; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        --label) LABEL=${2:?--label needs a text}; shift 2 ;;
        -h | --help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "bench/fairness.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
    esac
done
case "$RUNS" in '' | *[!0-9]* | 0) echo "bench/fairness.sh: --runs must be a positive integer, got '$RUNS'" >&2; exit 2 ;; esac
if [ "$BUILD" = 1 ]; then
    cargo build --release -p chirpfarm -p chirpfarm-worker -p chirpfarm-coordinator >&2
fi
mkdir -p bench/results
OUT="bench/results/$(date -u +%Y-%m-%d)-fairness.json"
for i in $(seq "$RUNS"); do
    echo "[fairness.sh] run $i of $RUNS" >&2
    python3 bench/fairness.py --label "$LABEL" | tee -a "$OUT"
done
echo "[fairness.sh] results appended to $OUT" >&2
