#!/usr/bin/env bash
# Power chi^2 per trigger: chirpfarm vs PyCBC 2.11, side by side in one run (issue 13).
#
#   bench/chisq.sh [POINTS]      # default 64 trigger points; or bench/run.sh --with-chisq
#
# Same work on both sides: one 256 s segment at 2048 Hz (n = 2^19), f_low 20 Hz, the Newtonian
# chirp Mc 1.3, P = 16 bins, POINTS samples, one core, median of 5 timed passes, everything the
# filter already has (conditioned data, template band, raw SNR at the points, bin edges)
# precomputed outside the timing. chirpfarm: ChisqInput::chisq_at (worker/tests/chisq.rs,
# bench_chisq_per_trigger; the test profile builds chirpfarm-worker and its tests at
# opt-level 3, see Cargo.toml, so no separate release build is needed); PyCBC: power_chisq_at_points_from_precomputed
# (bench/python/chisq_bench.py), the direct time-shift-and-sum pycbc_inspiral's CPU path uses.
# Prints both JSON lines and writes bench/results/<date>-chisq.json.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
POINTS=${1:-64}
PY=${CHISQ_BENCH_PYTHON:-bench/.venv/bin/python}
CORES=$(nproc --all)
[ -x "$PY" ] || PY=python3
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 RAYON_NUM_THREADS=1
echo "[chisq.sh $(date -u +%FT%TZ)] $CORES cores, $(uptime | sed 's/.*load average/load average/')" >&2
cargo test -q -p chirpfarm-worker --test chisq --no-run >&2
OURS=$(CHISQ_BENCH_POINTS=$POINTS cargo test -q -p chirpfarm-worker --test chisq \
    bench_chisq_per_trigger -- --ignored --nocapture 2>/dev/null | grep '^{')
THEIRS=$("$PY" -W ignore bench/python/chisq_bench.py "$POINTS" | grep '^{')
echo "$OURS"
echo "$THEIRS"
mkdir -p bench/results
OUT=bench/results/$(date -u +%F)-chisq.json
printf '{"command": "bench/chisq.sh %s", "date": "%s", "nproc": %s, "load": "%s",\n "chirpfarm": %s,\n "pycbc": %s}\n' \
    "$POINTS" "$(date -u +%FT%TZ)" "$CORES" "$(cut -d' ' -f1-3 /proc/loadavg)" "$OURS" "$THEIRS" > "$OUT"
echo "[chisq.sh] wrote $OUT" >&2
