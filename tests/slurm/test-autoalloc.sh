#!/usr/bin/env bash
# Automatic allocation against a real single-node Slurm (tests/slurm/cluster.sh): an empty
# cluster, a coordinator started with `--autoalloc slurm --max-workers 2`; a search must complete
# with workers the coordinator allocated (results identical, every float, to the embedded run),
# and once idle they must be gone: no job left in Slurm, no worker registered, each job ended
# COMPLETED 0:0 (drained, not killed). Beside it, a queue added at run time with a partition
# that does not exist: sbatch fails, the failure is counted and reported by `chirpfarm alloc
# list`, and the queue backs off instead of resubmitting in a loop.
#
# Then a coordinator stopped (SIGTERM) while its workers run must end their jobs; last, jobs
# whose worker fails at start are counted, reported and backed off (two jobs, not a loop).
#
# Prints allocation_to_first_result_seconds, search_seconds, idle_to_gone_seconds,
# shutdown_to_jobs_gone_seconds, then PASS or
# FAIL. Exit: 0 passed (or "SKIP: why" when Slurm cannot start here), 1 failed. Bounded by
# CHIRPFARM_TEST_BUDGET seconds (default 300). Binaries: as tests/slurm/test-workers.sh.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

if [ -z "${CHIRPFARM_IN_TEST_SLURM:-}" ]; then
    work="$(mktemp -d "${TMPDIR:-/tmp}/chirpfarm-autoalloc.XXXXXX")"
    CHIRPFARM_IN_TEST_SLURM=1 CHIRPFARM_TEST_WORK="$work" CHIRPFARM_TEST_BUDGET="${CHIRPFARM_TEST_BUDGET:-300}" \
        bash "$here/cluster.sh" run "$work/slurm" bash "${BASH_SOURCE[0]}" "$@"
    rc=$?
    [ "$rc" = 77 ] && rc=0 # cluster.sh printed the SKIP line
    [ "${CHIRPFARM_TEST_KEEP:-0}" = 1 ] || rm -rf "$work"
    exit "$rc"
fi

source "$here/lib.sh"
work="$CHIRPFARM_TEST_WORK"
need_binaries

[ -z "$(squeue -h -o %i)" ] || fail "the test cluster is not empty: $(squeue)"
start_coordinator "$work/coordinator.log" --autoalloc slurm --max-workers 2 --time-limit 10m \
    --alloc-idle-timeout 5 --alloc-poll 1 --alloc-dir "$work/alloc" --worker-bin "$bin/chirpfarm-worker"
[ "$(workers_registered)" = 0 ] || fail "workers registered before any was allocated"

alloc_json() { cli alloc list --json 2>/dev/null; }
# queue_field ID FIELD
queue_field() {
    alloc_json | python3 -c 'import json, sys
for q in json.load(sys.stdin):
    if q["id"] == int(sys.argv[1]): print(json.dumps(q[sys.argv[2]]))' "$1" "$2" 2>/dev/null
}
[ "$(queue_field 1 submitted)" = 0 ] || fail "queue 1 submitted jobs with nothing to do: $(alloc_json)"

# A second queue that cannot work: sbatch refuses the partition.
cli alloc add slurm --max-workers 1 --partition nosuchpartition >"$work/add.txt" ||
    fail "alloc add failed: $(cat "$work/add.txt")"
grep -q "queue 2" "$work/add.txt" || fail "alloc add printed: $(cat "$work/add.txt")"

big=(--bank 0.8:1.74:0.002 --random-signals 4 --seed 5)
log "embedded reference: chirpfarm search ${big[*]}"
bounded 300 env -u CHIRPFARM_COORDINATOR "$bin/chirpfarm" search "${big[@]}" --json --quiet \
    >"$work/ref.json" || fail "the embedded reference search failed"

t0="$(now)"
search="$(cli submit "${big[@]}" | tr -d '\r\n ')"
[[ "$search" == job-* ]] || fail "chirpfarm submit printed '$search'"
wait_until 120 "a first result of $search" job_progressed "$search" || {
    log "coordinator log: $(tail -n 20 "$work/coordinator.log")"
    fail "no result within 120 s: $(cli alloc list)"
}
metric allocation_to_first_result_seconds "$(elapsed "$t0" "$(now)")"
cli alloc list | sed 's/^/    /' >&2
jobs_seen="$(squeue -h -o '%i %j' | awk '$2 ~ /^chirpfarm-/ { print $1 }' | sort -u)"
bounded 300 "$bin/chirpfarm" watch "$search" --json --quiet --coordinator "$coord_url" \
    >"$work/result.json" || fail "watch $search failed"
t_done="$(now)"
metric search_seconds "$(elapsed "$t0" "$t_done")"
same_signals "$work/ref.json" "$work/result.json" || fail "results differ from the embedded run"
log "results identical to the embedded run"

# Queue 2: counted, reported, backed off (one attempt, not a loop).
failures="$(queue_field 2 failures)"
submitted="$(queue_field 2 submitted)"
error="$(queue_field 2 last_error)"
log "queue 2: failures=$failures submitted=$submitted last_error=$error"
[ "$submitted" = 0 ] || fail "queue 2 submitted a job to a partition that does not exist"
[ "$failures" = 1 ] || fail "queue 2 should have failed exactly once (then backed off 30 s), not $failures times"
case "$error" in *nosuchpartition* | *"invalid partition"* | *"Invalid partition"*) ;; *) fail "queue 2's error does not name the problem: $error" ;; esac
cli alloc remove 2 >/dev/null || fail "alloc remove 2 failed"

# Idle: the allocated jobs end by themselves (idle timeout 5 s) and leave nothing behind.
allocated="$(queue_field 1 submitted)"
[ "${allocated:-0}" -ge 1 ] && [ "$allocated" -le 2 ] || fail "queue 1 submitted $allocated jobs (max 2)"
gone() { [ -z "$(squeue -h -o %i)" ] && [ "$(workers_registered)" = 0 ]; }
wait_until 90 "the allocated workers to go" gone || fail "still there: $(squeue) $(cli workers)"
metric idle_to_gone_seconds "$(elapsed "$t_done" "$(now)")"
for j in $jobs_seen; do
    info="$(scontrol show job "$j" 2>/dev/null)" || continue
    state="$(grep -o 'JobState=[A-Z_]*' <<<"$info" | cut -d= -f2)"
    code="$(grep -o ' ExitCode=[0-9:]*' <<<"$info" | cut -d= -f2)"
    log "allocated job $j ended $state $code"
    [ "$state" = COMPLETED ] && [ "$code" = 0:0 ] ||
        fail "allocated job $j ended $state $code, not COMPLETED 0:0: $(tail -n 5 "$work/alloc/chirpfarm-alloc-$j.out")"
done
[ -n "$jobs_seen" ] || fail "no allocated job was seen in squeue"
[ "$(queue_field 1 failures)" = 0 ] || fail "queue 1 counted failures: $(cli alloc list)"

# Shutdown: a coordinator stopped while its allocated workers run ends their jobs.
search="$(cli submit "${big[@]}" | tr -d '\r\n ')"
[[ "$search" == job-* ]] || fail "chirpfarm submit printed '$search'"
jobs_running() { [ -n "$(squeue -h -t running -o %i)" ]; }
queue_empty() { [ -z "$(squeue -h -o %i)" ]; }
wait_until 60 "an allocated job to run" jobs_running ||
    fail "nothing was allocated for the second search"
t_stop="$(now)"
stop_coordinator
wait_until 60 "the allocated jobs to end after the coordinator stopped" queue_empty ||
    fail "jobs left after the coordinator stopped: $(squeue)"
metric shutdown_to_jobs_gone_seconds "$(elapsed "$t_stop" "$(now)")"

# Jobs failing at start (a worker that exits at once: --threads 0 is refused with exit 2):
# counted, reported, backed off (30 s, then 60 s): two jobs in 20 s, not a loop.
start_coordinator "$work/coordinator-failing.log" --autoalloc slurm --max-workers 2 \
    --worker-args "--threads 0" --alloc-poll 1 --alloc-dir "$work/alloc" --worker-bin "$bin/chirpfarm-worker"
search="$(cli submit "${big[@]}" | tr -d '\r\n ')"
[[ "$search" == job-* ]] || fail "chirpfarm submit printed '$search'"
two_failures() { [ "$(queue_field 1 failures)" = 2 ]; }
wait_until 60 "two failed starts to be counted" two_failures || fail "failures not counted: $(cli alloc list)"
sleep 10
submitted="$(queue_field 1 submitted)"
failures="$(queue_field 1 failures)"
error="$(queue_field 1 last_error)"
log "failing starts: submitted=$submitted failures=$failures last_error=$error"
cli alloc list | sed 's/^/    /' >&2
[ "$submitted" = 2 ] && [ "$failures" = 2 ] || fail "jobs failing at start were resubmitted: submitted=$submitted failures=$failures"
case "$error" in *"before its worker registered"*) ;; *) fail "the failure is not explained: $error" ;; esac
[ "$(queue_field 1 next_submit_in_ms)" -gt 0 ] || fail "queue 1 is not backing off"
stop_coordinator
echo "PASS: automatic allocation on a real Slurm ($allocated job(s), gone when idle; failing starts backed off)"
