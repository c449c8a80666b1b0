# Helpers shared by the real-Slurm tests (sourced, inside tests/slurm/cluster.sh run): logging,
# bounded waits, the coordinator they start (ended by PID on exit), `chirpfarm --json` queries
# and the exact comparison of search results.

budget="${CHIRPFARM_TEST_BUDGET:-420}"
start_epoch="$(date +%s)"
log() { printf '[%4ss] %s\n' "$(($(date +%s) - start_epoch))" "$*" >&2; }
fail() {
    log "FAIL: $*"
    echo "FAIL: $*"
    exit 1
}
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
# metric KEY VALUE: one line on stdout, for CI logs and deploy/README.md.
metric() { echo "$1=$2"; }
remaining() { echo $((budget - ($(date +%s) - start_epoch))); }
# bounded LIMIT CMD...: runs CMD with a timeout of min(LIMIT, time left in the budget).
bounded() {
    local limit="$1" left
    shift
    left="$(remaining)"
    [ "$left" -gt 0 ] || fail "time budget of ${budget}s exhausted"
    [ "$limit" -le "$left" ] || limit="$left"
    timeout --kill-after=10 "$limit" "$@"
}
# wait_until SECONDS WHAT CMD...: polls CMD every 0.5 s.
wait_until() {
    local limit="$1" what="$2" end
    shift 2
    end=$(($(date +%s) + limit))
    until "$@"; do
        [ "$(date +%s)" -lt "$end" ] || {
            log "timed out after ${limit}s waiting for $what"
            return 1
        }
        [ "$(remaining)" -gt 0 ] || fail "time budget of ${budget}s exhausted"
        sleep 0.5
    done
}

# Sets bin to a folder with the three binaries.
need_binaries() {
    local d
    command -v python3 >/dev/null 2>&1 || fail "python3 is needed to read --json output"
    for d in "${CHIRPFARM_BIN_DIR:-}" "$root/target/debug"; do
        [ -n "$d" ] || continue
        if [ -x "$d/chirpfarm" ] && [ -x "$d/chirpfarm-coordinator" ] && [ -x "$d/chirpfarm-worker" ]; then
            bin="$(cd "$d" && pwd)"
            log "binaries from $bin"
            return 0
        fi
    done
    fail "no chirpfarm, chirpfarm-coordinator and chirpfarm-worker binaries (cargo build, or set CHIRPFARM_BIN_DIR)"
}

coord_pid=""
stop_coordinator() {
    [ -n "$coord_pid" ] || return 0
    kill -TERM "$coord_pid" 2>/dev/null
    for _ in $(seq 1 150); do
        kill -0 "$coord_pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$coord_pid" 2>/dev/null
    coord_pid=""
}
trap stop_coordinator EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

# start_coordinator LOG [ARGS...]: a coordinator on 127.0.0.1 (a free port); sets coord_url.
start_coordinator() {
    local logfile="$1"
    shift
    "$bin/chirpfarm-coordinator" --listen 127.0.0.1:0 --heartbeat-timeout 5 "$@" >"$logfile" 2>&1 &
    coord_pid=$!
    coord_url=""
    wait_until 30 "the coordinator to listen" coordinator_listening "$logfile" ||
        fail "the coordinator did not start: $(tail -n 5 "$logfile")"
    log "coordinator (pid $coord_pid) at $coord_url"
}
coordinator_listening() {
    kill -0 "$coord_pid" 2>/dev/null || fail "the coordinator exited: $(tail -n 5 "$1")"
    coord_url="$(grep -s -o 'listening on http://127\.0\.0\.1:[0-9]*' "$1" | head -n 1 | sed 's/^listening on //')"
    [ -n "$coord_url" ]
}

# cli ARGS...: the CLI against the test's coordinator.
cli() { bounded 30 "$bin/chirpfarm" "$@" --coordinator "$coord_url"; }
# job_field JOB FIELD: a field of `jobs --json` for one job.
job_field() {
    cli jobs --json 2>/dev/null | python3 -c 'import json, sys
for j in json.load(sys.stdin):
    if j["job_id"] == sys.argv[1]: print(j.get(sys.argv[2], ""))' "$1" "$2" 2>/dev/null
}
job_state_of() { job_field "$1" state; }
job_progressed() { [ "$(job_field "$1" templates_done)" -gt 0 ] 2>/dev/null; }
# worker_field NAME FIELD: a field of `workers --json` for the worker named NAME.
worker_field() {
    cli workers --json 2>/dev/null | python3 -c 'import json, sys
for w in json.load(sys.stdin):
    if w["name"] == sys.argv[1]: print(w.get(sys.argv[2], ""))' "$1" "$2" 2>/dev/null
}
worker_holds_tasks() { [ "$(worker_field "$1" leased_tasks)" -gt 0 ] 2>/dev/null; }
workers_registered() { cli workers --json 2>/dev/null | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))' 2>/dev/null; }
# slurm_job_gone ID: the Slurm job is no longer pending, running or completing.
slurm_job_gone() { [ -z "$(squeue -h -j "$1" -o %T 2>/dev/null)" ]; }

# same_signals REFERENCE RESULT: the `signals` arrays of two `--json` results are equal (every
# float, exactly).
same_signals() { python3 "$root/tests/same_signals.py" "$1" "$2"; }
