#!/usr/bin/env bash
# Data-search benchmark: `chirpfarm search --data` vs PyCBC's filtering (FFTW), side by side.
#
#   bench/data_search.sh                      # PyCBC on every 10th template (100 of 1,000)
#   bench/data_search.sh --pycbc-step 1       # PyCBC on the whole bank (~15-25 min more)
#   bench/data_search.sh --rounds 2           # two interleaved rounds (medians reported)
#   bench/data_search.sh --profile            # also a perf profile of chirpfarm --threads 1
#
# 1. bench/.venv with numpy, pyfftw and pycbc (lalsuite etc. come as wheels from PyPI);
# 2. cargo build --release -p chirpfarm;
# 3. bench/python/data_search.py run: 2048 s of coloured noise at 2048 Hz + 4 injections, Welch
#    PSD, 1,000 templates; chirpfarm --threads 1 / PyCBC loop / prealloc / MatchedFilterControl
#    (one core each) / chirpfarm --threads 2, interleaved; parity of triggers and per-template
#    maxima; writes bench/results/<date>-data.json (and <date>-data-profile.txt with --profile).
# See bench/README.md and the "Data search vs PyCBC" section of bench/RESULTS.md.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
COMMAND="bench/data_search.sh${*:+ $*}"
PROFILE=0
ARGS=()
for a in "$@"; do
    case "$a" in
        --profile) PROFILE=1 ;;
        -h | --help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) ARGS+=("$a") ;;
    esac
done
say() { printf '[data_search.sh %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

VENV=bench/.venv
if [ ! -x "$VENV/bin/python" ]; then
    say "creating $VENV"
    python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c 'import pycbc, pyfftw, numpy' 2>/dev/null; then
    say "pip install numpy pyfftw pycbc into $VENV"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check numpy pyfftw pycbc
fi
say "cargo build --release -p chirpfarm"
cargo build --release -p chirpfarm

WORK=${CHIRPFARM_DATA_BENCH_DIR:-/tmp/chirpfarm-bench-data}
JSON=$("$VENV/bin/python" bench/python/data_search.py run --work "$WORK" --command "$COMMAND" \
    ${ARGS[@]+"${ARGS[@]}"} | tail -n 1)
say "results: $JSON"

if [ "$PROFILE" = 1 ]; then
    if command -v perf >/dev/null; then
        # 100 templates (every 10th), one thread: where chirpfarm's time goes.
        awk 'NR % 10 == 1' "$WORK/bank.txt" >"$WORK/bank100.txt"
        PROF=${JSON%.json}-profile.txt
        perf record -q -F 499 -g -o "$WORK/perf.data" -- "$WORK/chirpfarm" search \
            --data "$WORK/strain.npy" --sample-rate 2048 --gps-start 0 --psd "$WORK/psd.txt" \
            --segment-length 256 --segment-pad 64 --f-low 30 --snr-threshold 5.5 \
            --cluster-window 1 --bank-file "$WORK/bank100.txt" --threads 1 --json -q >/dev/null
        perf report -i "$WORK/perf.data" --stdio --no-children --sort symbol 2>/dev/null \
            | grep -E '^ +[0-9]' | head -n 40 >"$PROF"
        say "profile: $PROF"
    else
        say "NOTE: perf is not installed; no profile"
    fi
fi
