#!/usr/bin/env bash
# Coordinator under a crowd: the latency of one seed search and the coordinator's resident memory
# with 1,000 idle TCP connections (never speaking HTTP/2), 100 unread watch streams of a job with
# 30 MB of results (9,400 templates x 200 signals, answered by no-op workers so it takes seconds),
# and 1,000 queued one-template jobs, on a release coordinator with two one-thread workers on
# loopback. Prints `chirpfarm bench load`'s JSON (and saves it under bench/results/).
#
#   bench/trust_load.sh [--idle-connections N] [--unread-watchers N] [--queued-jobs N]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
say() { printf '[trust_load.sh %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
case "${1:-}" in -h | --help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
say "cargo build --release"
cargo build --release -p chirpfarm -p chirpfarm-coordinator -p chirpfarm-worker
BIN=target/release
ulimit -n 8192 2>/dev/null || true
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
URL="http://127.0.0.1:$PORT"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
"$BIN/chirpfarm-coordinator" --listen "127.0.0.1:$PORT" --max-queued-jobs 2000 \
    --max-queued-jobs-per-client 2000 2>/tmp/chirpfarm-trust-load-coordinator.log &
COORD=$!
PIDS+=("$COORD")
workers_are() {
    for _ in $(seq 200); do
        n=$("$BIN/chirpfarm" workers --coordinator "$URL" 2>/dev/null | tail -n +2 | wc -l || true)
        [ "$n" -eq "$1" ] && return 0
        sleep 0.2
    done
    echo "expected $1 workers" >&2
    return 1
}
# The watched job: large results, computed as zeros by no-op workers that then leave.
NOOP=()
for i in 1 2; do
    "$BIN/chirpfarm-worker" --coordinator "$URL" --name "noop$i" --threads 1 --noop 2>/dev/null &
    NOOP+=("$!")
    PIDS+=("$!")
done
workers_are 2
JOB=$("$BIN/chirpfarm" submit --coordinator "$URL" --bank 0.8:1.74:0.0001 --random-signals 200 --seed 1)
"$BIN/chirpfarm" watch "$JOB" --coordinator "$URL" --quiet --json >/dev/null
for p in "${NOOP[@]}"; do kill "$p"; done
workers_are 0
for i in 1 2; do
    "$BIN/chirpfarm-worker" --coordinator "$URL" --name "load$i" --threads 1 2>/dev/null &
    PIDS+=("$!")
done
workers_are 2
mkdir -p bench/results
OUT="bench/results/$(date +%Y-%m-%d)-trust-load.json"
"$BIN/chirpfarm" bench load --coordinator "$URL" --coordinator-pid "$COORD" --watch-job "$JOB" "$@" | tee "$OUT"
say "saved $OUT"
