#!/usr/bin/env bash
# chirpfarm benchmark suite (issue 7): ONE command, from anywhere in the repository.
#
#   bench/run.sh                  # full suite (< 15 min on a 2-core machine)
#   bench/run.sh --quick          # reduced set: fewer repeats, no 9,400-template bank (< 3 min)
#   bench/run.sh --with-faults    # also run bench/fault_recovery.py (~1 min more)
#   bench/run.sh --with-data      # also bench/data_search.sh: data search vs PyCBC (~10 min more)
#   bench/run.sh --with-chisq     # also bench/chisq.sh: power chi^2 per trigger vs PyCBC (~1 min)
#
# 1. creates bench/.venv (numpy, pyfftw, dask[distributed], threadpoolctl from PyPI; a package
#    that fails to install is reported and its rows are marked "skipped"; --with-data: + pycbc);
# 2. builds the release binaries (cargo build --release --bins), incl. chirpfarm-bench-report;
# 3. bench/harness.py measures everything and writes bench/results/<date>.json
#    (<date>-quick.json with --quick);
# 4. chirpfarm-bench-report draws bench/results/<stem>-scale.png and <stem>-per-template.png and
#    regenerates the generated block of bench/RESULTS.md (text outside it is kept);
# 5. with --with-data: bench/data_search.sh (bench/results/<date>-data.json);
# 6. TaylorF2 generation per template, chirpfarm vs LALSuite (pip lalsuite into the venv), and
#    generation / filtering on the data benchmark's grid: bench/python/taylorf2_gen.py
#    (bench/results/<date>-taylorf2.json; skipped if lalsuite cannot be installed);
# 7. with --with-chisq: bench/chisq.sh, chi^2 per trigger vs PyCBC;
# 8. bench/bank_place.sh: bank placement time and fitting factors (bench/results/<date>-bank.json);
# 9. bench/python_pkg.sh: the Python package vs the seed's scripts (bench/results/<date>-python.json).
# See bench/README.md.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

HARNESS_ARGS=()
WITH_DATA=0
WITH_CHISQ=0
for a in "$@"; do
    case "$a" in
        --quick | --with-faults) HARNESS_ARGS+=("$a") ;;
        --with-data) WITH_DATA=1 ;;
        --with-chisq) WITH_CHISQ=1 ;;
        -h | --help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "bench/run.sh: unknown option '$a' (try --help)" >&2; exit 2 ;;
    esac
done
COMMAND="bench/run.sh${*:+ $*}"
T0=$(date +%s)
say() { printf '[run.sh %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
say "$COMMAND: $(nproc) cores, $(uptime | sed 's/.*load average/load average/')"

# --- 1. Python venv -----------------------------------------------------------------------
VENV=bench/.venv
FAILED=()
if [ ! -x "$VENV/bin/python" ]; then
    say "creating $VENV"
    python3 -m venv "$VENV" || say "NOTE: cannot create $VENV (python3 -m venv failed): every Python row will be skipped"
fi
if [ -x "$VENV/bin/python" ]; then
    for spec in numpy pyfftw "dask[distributed]" threadpoolctl; do
        name=${spec%%[*}
        if ! log=$("$VENV/bin/python" -m pip install -q --disable-pip-version-check "$spec" 2>&1); then
            say "NOTE: 'pip install $spec' failed; the rows that need $name will be marked skipped:"
            printf '%s\n' "$log" | tail -n 5 >&2
            FAILED+=("$name")
        fi
    done
    if [ "$(( WITH_DATA + WITH_CHISQ ))" -gt 0 ] && ! log=$("$VENV/bin/python" -m pip install -q --disable-pip-version-check pycbc 2>&1); then
        say "NOTE: 'pip install pycbc' failed; the data-search benchmark will be skipped:"
        printf '%s\n' "$log" | tail -n 5 >&2
        FAILED+=(pycbc)
    fi
    say "venv ready: $("$VENV/bin/python" -m pip list 2>/dev/null | grep -E -i '^(numpy|pyfftw|dask|distributed|threadpoolctl|pycbc) ' | tr -s ' ' | paste -sd, -)"
fi

# --- 2. release binaries ------------------------------------------------------------------
say "cargo build --release --bins"
if ! cargo build --release --bins; then
    say "WARNING: the workspace build failed; building the report crate alone and using the binaries already in target/release"
    cargo build --release -p chirpfarm-bench-report
    for b in chirpfarm chirpfarm-coordinator chirpfarm-worker; do
        [ -x "target/release/$b" ] || { say "ERROR: target/release/$b is missing"; exit 1; }
    done
fi

# --- 3. a font for the plots' text (plotters draws with ab_glyph, no fontconfig needed) -----
have_font() {
    [ -n "${CHIRPFARM_BENCH_FONT:-}" ] && return 0
    for f in /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf /usr/share/fonts/dejavu/DejaVuSans.ttf \
        /usr/share/fonts/TTF/DejaVuSans.ttf; do
        [ -f "$f" ] && return 0
    done
    command -v fc-match >/dev/null && fc-match -f '%{file}' sans-serif 2>/dev/null | grep -q -E '\.(ttf|otf)$'
}
if ! have_font; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        say "installing fonts-dejavu-core for the plots' text"
        (apt-get install -y -q fonts-dejavu-core >/dev/null 2>&1 \
            || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q fonts-dejavu-core >/dev/null 2>&1; }) \
            || say "NOTE: could not install fonts-dejavu-core; the plots will have no text"
    else
        say "NOTE: no DejaVu Sans font; the plots will have no text (set CHIRPFARM_BENCH_FONT=/path/to.ttf)"
    fi
fi

# --- 4. measure ---------------------------------------------------------------------------
JSON=$(python3 bench/harness.py "${HARNESS_ARGS[@]}" --command "$COMMAND" \
    --failed-packages "${FAILED[@]}" | tail -n 1)

# --- 5. plots and RESULTS.md --------------------------------------------------------------
target/release/chirpfarm-bench-report "$JSON"

# --- 6. data search vs PyCBC (--with-data) --------------------------------------------------
if [ "$WITH_DATA" = 1 ]; then
    if [ -x "$VENV/bin/python" ] && ! printf '%s\n' "${FAILED[@]}" | grep -q -x -E 'pycbc|pyfftw|numpy'; then
        bench/data_search.sh || say "WARNING: bench/data_search.sh failed"
    else
        say "data search vs PyCBC: skipped (no venv, or a package failed to install)"
    fi
fi
# --- 7. power chi^2 per trigger vs PyCBC (--with-chisq) ----------------------------------------
if [ "$WITH_CHISQ" = 1 ]; then
    if [ -x "$VENV/bin/python" ] && ! printf '%s\n' "${FAILED[@]}" | grep -q -x -E 'pycbc|numpy'; then
        bench/chisq.sh || say "WARNING: bench/chisq.sh failed"
    else
        say "chi^2 vs PyCBC: skipped (no venv, or a package failed to install)"
    fi
fi
# --- 8. TaylorF2 generation vs LALSuite --------------------------------------------------
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -m pip install -q --disable-pip-version-check lalsuite >/dev/null 2>&1; then
    "$VENV/bin/python" bench/python/taylorf2_gen.py --command "$COMMAND" \
        || say "WARNING: bench/python/taylorf2_gen.py failed"
else
    say "TaylorF2 generation vs LALSuite: skipped (no venv, or 'pip install lalsuite' failed)"
fi
# --- 9. bank placement for issue 13's example (bench/bank_place.sh, ~1 min) ----------------
bench/bank_place.sh || say "WARNING: bench/bank_place.sh failed"
# --- 10. scheduler fairness: a small job behind a large one (bench/fairness.sh, ~1 min per run) --
bench/fairness.sh --no-build --runs 1 --label "$COMMAND" || say "WARNING: bench/fairness.sh failed"
# --- 11. the Python package vs the seed's scripts (bench/python_pkg.sh, ~1 min) ------------
if [ -x "$VENV/bin/python" ]; then
    bench/python_pkg.sh || say "WARNING: bench/python_pkg.sh failed"
else
    say "Python package vs the seed's scripts: skipped (no venv)"
fi
say "done in $(( $(date +%s) - T0 )) s: $JSON, bench/RESULTS.md"
