#!/usr/bin/env bash
# deploy/slurm/workers.sbatch against a real single-node Slurm (tests/slurm/cluster.sh): a
# coordinator on 127.0.0.1, worker jobs started with `sbatch`, searches run through them and
# compared, every float, with the embedded (in-process) run of the same build.
#
#   1. scancel: two worker jobs; a search; one job is `scancel`led while it holds tasks. The
#      result must be identical, the cancelled worker must drain (finish its tasks within
#      Slurm's KillWait; srun exits 0).
#   2. walltime: one worker job with --time=1 (Slurm sends SIGTERM 60 s before the limit, i.e.
#      soon after the start) while a search runs; the worker must drain and the Slurm job end
#      COMPLETED with exit code 0:0 (not TIMEOUT or FAILED, and srun must not "force job
#      termination", as it does with --signal=B:TERM@60); a second job then finishes the
#      search, identical to the embedded run.
#
# Prints the times measured, one `key=value` line each (allocation_to_first_result_seconds,
# scancel_drain_seconds, scancel_to_result_seconds, walltime_job_seconds), then PASS or FAIL.
# Exit: 0 passed (or "SKIP: why" when Slurm cannot start here), 1 failed. Bounded: every wait
# has a timeout and the run stops after CHIRPFARM_TEST_BUDGET seconds (default 420).
#
# Binaries: CHIRPFARM_BIN_DIR (default target/debug, as `cargo build` leaves them).
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

if [ -z "${CHIRPFARM_IN_TEST_SLURM:-}" ]; then
    work="$(mktemp -d "${TMPDIR:-/tmp}/chirpfarm-slurm.XXXXXX")"
    CHIRPFARM_IN_TEST_SLURM=1 CHIRPFARM_TEST_WORK="$work" \
        bash "$here/cluster.sh" run "$work/slurm" bash "${BASH_SOURCE[0]}" "$@"
    rc=$?
    [ "$rc" = 77 ] && rc=0 # cluster.sh printed the SKIP line
    [ "${CHIRPFARM_TEST_KEEP:-0}" = 1 ] || rm -rf "$work"
    exit "$rc"
fi

# ---- inside the cluster (SLURM_CONF exported by cluster.sh) ------------------------------
source "$here/lib.sh"
work="$CHIRPFARM_TEST_WORK"
need_binaries

start_coordinator "$work/coordinator.log"
export CHIRPFARM_COORDINATOR="$coord_url" CHIRPFARM_WORKER_BIN="$bin/chirpfarm-worker"

big=(--bank 0.8:1.74:0.001 --random-signals 6 --seed 3)
log "embedded reference: chirpfarm search ${big[*]}"
t_ref="$(now)"
bounded 300 env -u CHIRPFARM_COORDINATOR "$bin/chirpfarm" search "${big[@]}" --json --quiet \
    >"$work/ref.json" || fail "the embedded reference search failed"
# Seconds this machine takes for the 940 x 6 search: sizes the walltime search in part 2.
big_seconds="$(elapsed "$t_ref" "$(now)")"

# sbatch_workers ARGS...: submits deploy/slurm/workers.sbatch; prints the Slurm job id.
sbatch_workers() {
    bounded 20 sbatch --parsable --output="$work/workers-%j.out" "$@" \
        "$root/deploy/slurm/workers.sbatch" | cut -d';' -f1
}

# ---- 1. scancel one worker job mid-search ------------------------------------------------
t_alloc="$(now)"
job_a="$(sbatch_workers --time=10)" && job_b="$(sbatch_workers --time=10)" ||
    fail "sbatch failed"
log "worker jobs $job_a and $job_b submitted"
search="$(cli submit "${big[@]}" | tr -d '\r\n ')"
[[ "$search" == job-* ]] || fail "chirpfarm submit printed '$search'"
wait_until 120 "a first result of $search" job_progressed "$search" || fail "no result within 120 s"
t_first="$(now)"
metric allocation_to_first_result_seconds "$(elapsed "$t_alloc" "$t_first")"
wait_until 60 "job $job_a's worker to hold tasks" worker_holds_tasks "$(hostname -s)-$job_a" ||
    fail "the worker of job $job_a never held a task"
[ "$(job_state_of "$search")" = running ] || fail "the search ended before scancel (make it bigger)"
log "scancel $job_a (its worker holds tasks of $search)"
t_cancel="$(now)"
scancel "$job_a" || fail "scancel $job_a failed"
wait_until 60 "job $job_a to leave the queue" slurm_job_gone "$job_a" || fail "job $job_a did not end"
metric scancel_drain_seconds "$(elapsed "$t_cancel" "$(now)")"
bounded 300 "$bin/chirpfarm" watch "$search" --json --quiet \
    --coordinator "$coord_url" >"$work/scancel.json" || fail "watch $search failed"
metric scancel_to_result_seconds "$(elapsed "$t_cancel" "$(now)")"
same_signals "$work/ref.json" "$work/scancel.json" || fail "results after scancel differ from the embedded run"
log "results after scancel: identical to the embedded run"
out_a="$work/workers-$job_a.out"
# scancel signals every process of the job: srun says "forcing job termination" but the worker
# has Slurm's KillWait (10 s here, 30 s by default) to finish its tasks, and does.
grep -q "worker stopping" "$out_a" && grep -q "srun exited with 0" "$out_a" ||
    fail "the worker of $job_a did not drain: $(tail -n 8 "$out_a")"
scancel "$job_b"
wait_until 60 "job $job_b to leave the queue" slurm_job_gone "$job_b" || fail "job $job_b did not end"

# ---- 2. the time limit: SIGTERM 60 s before, the worker drains, COMPLETED 0:0 -------------
# Slurm sends the signal at its next time-limit check (within ~30 s of the start): a search
# long enough for one worker to be in the middle of it then, sized from this machine's speed
# (the 940-template reference above) for about 60 s of work on one worker (twice the signal's
# delay), and never fewer than 4,700 templates: a fixed size finished before the signal on a
# quiet machine.
long_step="$(awk -v s="$big_seconds" 'BEGIN { n = 940 * 60 / (s > 0.05 ? s : 0.05);
    if (n < 4700) n = 4700; if (n > 200000) n = 200000; printf "%.9f", 0.94 / n }')"
long=(--bank "0.8:1.74:$long_step" --random-signals 6 --seed 4)
log "embedded reference: chirpfarm search ${long[*]}"
bounded 300 env -u CHIRPFARM_COORDINATOR "$bin/chirpfarm" search "${long[@]}" --json --quiet \
    >"$work/ref-long.json" || fail "the embedded reference search failed"
search="$(cli submit "${long[@]}" | tr -d '\r\n ')"
[[ "$search" == job-* ]] || fail "chirpfarm submit printed '$search'"
t_wall="$(now)"
job_w="$(sbatch_workers --time=1)" || fail "sbatch --time=1 failed"
log "worker job $job_w with --time=1 (SIGTERM at most 60 s before the limit)"
wait_until 60 "job $job_w's worker to hold tasks" worker_holds_tasks "$(hostname -s)-$job_w" ||
    fail "the worker of job $job_w never held a task"
wait_until 150 "job $job_w to end" slurm_job_gone "$job_w" || fail "job $job_w outlived its time limit"
metric walltime_job_seconds "$(elapsed "$t_wall" "$(now)")"
info="$(scontrol show job "$job_w")"
state="$(grep -o 'JobState=[A-Z_]*' <<<"$info" | cut -d= -f2)"
code="$(grep -o ' ExitCode=[0-9:]*' <<<"$info" | cut -d= -f2)"
log "job $job_w ended $state, exit code $code"
[ "$state" = COMPLETED ] && [ "$code" = 0:0 ] ||
    fail "the time-limited job ended $state $code, not COMPLETED 0:0: $(tail -n 8 "$work/workers-$job_w.out")"
grep -q "forcing job termination" "$work/workers-$job_w.out" &&
    fail "srun killed the time-limited worker: $(tail -n 8 "$work/workers-$job_w.out")"
log "job $job_w's worker: $(grep -Eo 'shutdown requested.*|worker stopping.*' "$work/workers-$job_w.out" | paste -sd ';' -)"
grep -q "worker stopping" "$work/workers-$job_w.out" ||
    fail "the time-limited worker did not drain: $(tail -n 8 "$work/workers-$job_w.out")"
[ "$(job_state_of "$search")" = running ] ||
    fail "the search was not left running when the time-limited worker left (make it bigger)"
job_f="$(sbatch_workers --time=10)" || fail "sbatch failed"
bounded 300 "$bin/chirpfarm" watch "$search" --json --quiet \
    --coordinator "$coord_url" >"$work/walltime.json" || fail "watch $search failed"
same_signals "$work/ref-long.json" "$work/walltime.json" || fail "results after the time limit differ from the embedded run"
log "results after the time limit: identical to the embedded run"
scancel "$job_f"
wait_until 60 "job $job_f to leave the queue" slurm_job_gone "$job_f" || fail "job $job_f did not end"
echo "PASS: workers.sbatch on a real Slurm (scancel mid-search, --time=1 walltime)"
