#!/usr/bin/env bash
# End-to-end test of the container deployment: builds the image (deploy/build-image.sh), starts
# deploy/docker-compose.yml (a coordinator and 3 workers, over mutual TLS with certificates made
# for the run by deploy/tls/make-dev-ca.sh) under a unique project name, checks that plaintext
# is refused, runs searches through `docker-compose run --rm client` and compares them with the
# in-process (embedded cluster) results of the same build, then injects faults while a
# 940-template × 10-signal job runs: kill a worker, pause one, cut one off the network, restart the
# coordinator (only when it has --data-dir). Prints one line per scenario:
#
#   scenario=<name> recovery_seconds=<s> identical=yes|no
#
# recovery_seconds: from the fault to the moment `watch` had returned the complete result (0
# for the fault-free runs). Exit status: 0 when every scenario is identical, 1 otherwise; 0 with
# "SKIP: ..." when docker is not usable here. Bounded: every wait has a timeout, and the whole
# run stops after CHIRPFARM_TEST_BUDGET seconds (default 600, image build included).
#
# Environment: CHIRPFARM_TEST_IMAGE (default chirpfarm:latest), CHIRPFARM_TEST_SKIP_BUILD=1 (use
# the existing image and target/static binaries), CHIRPFARM_STATIC_TARGET_DIR (as build-image.sh),
# CHIRPFARM_TEST_KEEP=1 (leave the cluster running for inspection; prints how to remove it).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
budget="${CHIRPFARM_TEST_BUDGET:-600}"
start_epoch="$(date +%s)"

skip() { echo "SKIP: $*"; exit 0; }
log() { printf '[%4ss] %s\n' "$(($(date +%s) - start_epoch))" "$*" >&2; }
fail() { log "FAIL: $*"; exit 1; }

# ---- prerequisites -----------------------------------------------------------------------
command -v docker >/dev/null 2>&1 || skip "docker not available (no docker command)"
if ! docker_info_err="$(docker info 2>&1 >/dev/null)"; then
    skip "docker not available ($(printf '%s' "$docker_info_err" | head -n 1))"
fi
if command -v docker-compose >/dev/null 2>&1; then
    compose_cmd=(docker-compose)
elif docker compose version >/dev/null 2>&1; then
    compose_cmd=(docker compose)
else
    skip "docker not available (neither docker-compose nor the docker compose plugin is installed)"
fi
command -v python3 >/dev/null 2>&1 || fail "python3 is needed to compare the JSON results"
command -v timeout >/dev/null 2>&1 || fail "timeout (coreutils) is needed"

remaining() { echo $((budget - ($(date +%s) - start_epoch))); }
# bounded CMD...: runs CMD with a timeout of min(limit, time left in the budget).
bounded() {
    local limit="$1"
    shift
    local left
    left="$(remaining)"
    [ "$left" -gt 0 ] || fail "time budget of ${budget}s exhausted"
    [ "$limit" -le "$left" ] || limit="$left"
    timeout --kill-after=10 "$limit" "$@"
}

image="${CHIRPFARM_TEST_IMAGE:-chirpfarm:latest}"
export CHIRPFARM_STATIC_TARGET_DIR="${CHIRPFARM_STATIC_TARGET_DIR:-$root/target/static}"
host_cli="$CHIRPFARM_STATIC_TARGET_DIR/x86_64-unknown-linux-gnu/release/chirpfarm"

if [ "${CHIRPFARM_TEST_SKIP_BUILD:-0}" != 1 ]; then
    log "building $image"
    bounded 540 "$here/build-image.sh" "$image" >&2
fi
docker image inspect "$image" >/dev/null 2>&1 || fail "image $image does not exist"
[ -x "$host_cli" ] || fail "host binary $host_cli missing (run deploy/build-image.sh)"

# ---- the cluster -------------------------------------------------------------------------
project="chirpfarm-test-$$"
work="$(mktemp -d "${TMPDIR:-/tmp}/chirpfarm-test.XXXXXX")"
chmod 0700 "$work" # the token below is 0644 (uid 65532 reads it in the containers)
token_file="$work/token"
(umask 022 && od -An -tx1 -N24 /dev/urandom | tr -d ' \n' >"$token_file" && echo >>"$token_file")
# TLS for this run: a throwaway CA, the coordinator's certificate (names `coordinator` and
# 127.0.0.1) and the workers' client certificate. Like the token, readable by uid 65532.
tls_dir="$work/tls"
bash "$here/tls/make-dev-ca.sh" "$tls_dir" 2 2>/dev/null || fail "cannot make TLS certificates (openssl)"
rm -f "$tls_dir/ca.key"
chmod 0755 "$tls_dir"
chmod 0644 "$tls_dir"/*.pem "$tls_dir"/*.key

compose_files=(-f "$here/docker-compose.yml")
# Compose settings for this run (see the header of docker-compose.yml).
export CHIRPFARM_IMAGE="$image"
export CHIRPFARM_TOKEN_FILE="$token_file"
export CHIRPFARM_TLS_DIR="$tls_dir"
export CHIRPFARM_BIND="127.0.0.1:" # a free loopback port, so runs never collide
export CHIRPFARM_HEARTBEAT_TIMEOUT=3

# dc ARGS...: docker-compose for this project, bounded by $dc_limit seconds (default 120).
dc() { bounded "${dc_limit:-120}" "${compose_cmd[@]}" -p "$project" "${compose_files[@]}" "$@"; }

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ "${CHIRPFARM_TEST_KEEP:-0}" = 1 ]; then
        log "keeping project $project: ${compose_cmd[*]} -p $project ${compose_files[*]} down -v --remove-orphans"
        exit "$rc"
    fi
    log "tearing down $project"
    local c
    # Paused containers cannot be stopped; a disconnected one is fine.
    for c in $(docker ps -q --filter "label=com.docker.compose.project=$project" --filter status=paused 2>/dev/null); do
        docker unpause "$c" >/dev/null 2>&1 || true
    done
    timeout 120 "${compose_cmd[@]}" -p "$project" "${compose_files[@]}" down -v --remove-orphans -t 5 >&2 2>&1 || true
    # Anything left (one-off client containers of a timed-out run, networks, volumes).
    local label="label=com.docker.compose.project=$project"
    docker ps -aq --filter "$label" 2>/dev/null | xargs -r docker rm -f >/dev/null 2>&1 || true
    docker network ls -q --filter "$label" 2>/dev/null | xargs -r docker network rm >/dev/null 2>&1 || true
    docker volume ls -q --filter "$label" 2>/dev/null | xargs -r docker volume rm >/dev/null 2>&1 || true
    rm -rf "$work"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Durable coordinator? Decided by the image's own binary, not by this script's checkout. The
# compose file passes --data-dir; should the two disagree (an older image, or the line removed
# from the compose file), an override file makes this run match the image.
coordinator_help="$(docker run --rm "$image" chirpfarm-coordinator --help 2>/dev/null || true)"
compose_config="$(dc config 2>/dev/null || true)"
has_data_dir=no
case "$coordinator_help" in *--data-dir*) has_data_dir=yes ;; esac
compose_data_dir=no
case "$compose_config" in *--data-dir*) compose_data_dir=yes ;; esac
if [ "$has_data_dir" != "$compose_data_dir" ]; then
    data_dir_arg=""
    [ "$has_data_dir" = no ] || data_dir_arg="      - --data-dir=/var/lib/chirpfarm"
    cat >"$work/data-dir.override.yml" <<EOF
version: "3.9"
services:
  coordinator:
    command:
      - chirpfarm-coordinator
      - --listen=0.0.0.0:50051
      - --token-file=/run/secrets/chirpfarm_token
      - --tls-cert=/run/chirpfarm/tls/server.pem
      - --tls-key=/run/chirpfarm/tls/server.key
      - --client-ca=/run/chirpfarm/tls/ca.pem
      - --heartbeat-timeout=$CHIRPFARM_HEARTBEAT_TIMEOUT
$data_dir_arg
EOF
    compose_files+=(-f "$work/data-dir.override.yml")
    log "image coordinator has --data-dir: $has_data_dir, docker-compose.yml passes it: $compose_data_dir; using the image's choice for this run"
fi

log "starting $project: coordinator + 3 workers"
dc up -d --scale worker=3 >&2 2>&1 || fail "docker-compose up failed"

coord_url=""
refresh_coord_url() {
    local hostport
    hostport="$(dc_limit=30 dc port coordinator 50051 2>/dev/null | tail -n 1)" || hostport=""
    [ -n "$hostport" ] || return 1
    coord_url="https://$hostport"
}
# The host binary against the published loopback port (fast polling; also proves the port).
hcli() { bounded 20 env -u CHIRPFARM_TOKEN "$host_cli" "$@" --coordinator "$coord_url" --token-file "$token_file" --ca-file "$tls_dir/ca.pem"; }
# The in-process embedded cluster of the same build (the reference).
embedded() { bounded 180 env -u CHIRPFARM_COORDINATOR -u CHIRPFARM_TOKEN_FILE -u CHIRPFARM_TOKEN -u CHIRPFARM_CA_FILE "$host_cli" "$@"; }
# The image's client, as a user runs it.
client() { dc_limit=180 dc run --rm -T client "$@" 2>>"$work/client.log"; }

# wait_until SECONDS DESCRIPTION COMMAND...: polls COMMAND every 0.5 s.
wait_until() {
    local limit="$1" what="$2"
    shift 2
    local end=$(($(date +%s) + limit))
    until "$@"; do
        [ "$(date +%s)" -lt "$end" ] || { log "timed out after ${limit}s waiting for $what"; return 1; }
        [ "$(remaining)" -gt 0 ] || fail "time budget of ${budget}s exhausted"
        sleep 0.5
    done
}

# `workers --json`, one "HOST LEASED" line per worker (JSON: the table's columns are for people).
worker_rows() {
    hcli workers --json 2>/dev/null |
        python3 -c 'import json, sys
for w in json.load(sys.stdin): print(w["host"], w["leased_tasks"])' 2>/dev/null
}
workers_registered() { worker_rows | wc -l; }
have_workers() { refresh_coord_url && [ "$(workers_registered)" -ge "$1" ]; }
# `jobs --json`: prints "STATE DONE/TOTAL" for job $1.
job_row() {
    hcli jobs --json 2>/dev/null |
        python3 -c 'import json, sys
for j in json.load(sys.stdin):
    if j["job_id"] == sys.argv[1]: print(j["state"], "%d/%d" % (j["templates_done"], j["templates_total"]))' "$1" 2>/dev/null
}
coordinator_healthy() {
    [ "$(docker inspect -f '{{.State.Health.Status}}' "$(dc ps -q coordinator)" 2>/dev/null)" = healthy ]
}

log "waiting for the coordinator to be healthy and 3 workers to register"
wait_until 60 "a healthy coordinator" coordinator_healthy || fail "the coordinator never became healthy"
wait_until 60 "3 registered workers" have_workers 3 || fail "workers did not register"
log "coordinator published at $coord_url; workers: $(worker_rows | awk '{printf "%s ", $1}')"

# The published port speaks TLS only: a plaintext client is refused with an explanation.
plain_out="$(bounded 20 env -u CHIRPFARM_TOKEN -u CHIRPFARM_CA_FILE "$host_cli" workers --coordinator "http://${coord_url#https://}" --token-file "$token_file" 2>&1)" &&
    fail "a plaintext http:// request to the TLS coordinator succeeded"
case "$plain_out" in
*"requires TLS"*) log "plaintext http:// refused: $plain_out" ;;
*) fail "unexpected answer to a plaintext request: $plain_out" ;;
esac

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# same_signals REFERENCE RESULT: the `signals` arrays are equal (every float, exactly).
same_signals() { python3 "$root/tests/same_signals.py" "$1" "$2"; }

summary=()
failed=0
report() { # NAME RECOVERY IDENTICAL
    local line="scenario=$1 recovery_seconds=$2 identical=$3"
    summary+=("$line")
    echo "$line"
    [ "$3" = yes ] || failed=1
}

big=(--bank 0.8:1.74:0.001 --random-signals 10 --seed 3)

# ---- (a) fault-free searches: client container vs in-process -----------------------------
log "in-process reference results (host binary, embedded cluster)"
embedded search --signal-mc 1.2 --json --quiet >"$work/ref-seed.json"
embedded search "${big[@]}" --json --quiet >"$work/ref-big.json"

log "seed search through the client container"
client search --signal-mc 1.2 --json --quiet >"$work/seed.json" || log "client search failed (see below)"
if same_signals "$work/ref-seed.json" "$work/seed.json"; then ok=yes; else ok=no; fi
report seed-search 0 "$ok"

log "940-template × 10-signal search through the client container"
t0="$(now)"
client search "${big[@]}" --json --quiet >"$work/big.json" || log "client search failed"
t1="$(now)"
if same_signals "$work/ref-big.json" "$work/big.json"; then ok=yes; else ok=no; fi
log "fault-free 940×10 search took $(elapsed "$t0" "$t1") s end to end (client container start included)"
report bank-940 0 "$ok"

# ---- (b) faults while a job runs ----------------------------------------------------------
used_hosts=" "
# Submits the big job and waits until it is running with some of it leased to a worker not
# used by an earlier scenario; sets job and victim (a container id).
submit_and_pick_victim() {
    job="$(client submit "${big[@]}" | tr -d '\r\n ')"
    [[ "$job" == job-* ]] || fail "submit printed '$job'"
    victim=""
    local end=$(($(date +%s) + 30)) host leased state
    while [ "$(date +%s)" -lt "$end" ]; do
        state="$(job_row "$job" | awk '{print $1}')"
        case "$state" in succeeded | failed | cancelled) break ;; esac
        while read -r host leased; do
            [ "${leased:-0}" -gt 0 ] 2>/dev/null || continue
            case "$used_hosts" in *" $host "*) continue ;; esac
            victim="$(container_of_host "$host")" && [ -n "$victim" ] && { used_hosts="$used_hosts$host "; return 0; }
        done < <(worker_rows)
        sleep 0.2
    done
    log "job $job: no fresh worker with leased tasks found (job state: ${state:-unknown})"
    return 1
}
# Worker containers are named HOST (their hostname is the container's short id).
container_of_host() {
    local c
    for c in $(dc ps -q worker); do
        if [ "$(docker inspect -f '{{.Config.Hostname}}' "$c")" = "$1" ]; then
            echo "$c"
            return 0
        fi
    done
    return 1
}
job_finished_ok() { [ "$(job_row "$1" | awk '{print $1}')" = succeeded ]; }
# watch_and_compare NAME T0: watches $job, compares with the reference, reports.
watch_and_compare() {
    local name="$1" t0="$2" t1 ok
    client watch "$job" --json --quiet >"$work/$name.json" || log "$name: watch failed"
    t1="$(now)"
    if same_signals "$work/ref-big.json" "$work/$name.json"; then ok=yes; else ok=no; fi
    log "$name: $(hcli jobs 2>/dev/null | awk -v j="$job" 'NR == 1 || $1 == j' | tr -s ' ' | paste -sd '|' -)"
    report "$name" "$(elapsed "$t0" "$t1")" "$ok"
}
name_of() { docker inspect -f '{{.Name}}' "$1" | tr -d /; }
# act ARGS...: `docker ARGS...`, retried (runc's freezer sometimes answers "unable to freeze"
# to a pause of a busy container); fails the run after 5 tries.
act() {
    local try
    for try in 1 2 3 4 5; do
        if bounded 30 docker "$@" >/dev/null 2>"$work/docker.err"; then return 0; fi
        log "docker $1 failed (try $try): $(head -n 1 "$work/docker.err")"
        sleep 0.5
    done
    fail "docker $* kept failing"
}

# 1. SIGKILL a worker holding leases: its tasks come back after the heartbeat timeout.
log "scenario worker-kill"
if submit_and_pick_victim; then
    log "docker kill $(name_of "$victim") during $job"
    t0="$(now)"
    act kill "$victim"
    watch_and_compare worker-kill "$t0"
    # restart: unless-stopped may or may not bring a killed container back; make sure it is.
    docker start "$victim" >/dev/null 2>&1 || true
    wait_until 60 "3 workers after the kill" have_workers 3 || fail "the killed worker did not come back"
else
    report worker-kill 0 no
fi

# 2. Freeze a worker (SIGSTOP-like): it holds leases and stops heartbeating; unpaused after.
log "scenario worker-pause"
if submit_and_pick_victim; then
    log "docker pause $(name_of "$victim") during $job"
    t0="$(now)"
    act pause "$victim"
    watch_and_compare worker-pause "$t0"
    act unpause "$victim"
    wait_until 60 "the unpaused worker to be registered again" have_workers 3 || fail "the unpaused worker did not come back"
else
    report worker-pause 0 no
fi

# 3. Cut a worker off the network past the heartbeat timeout, then reconnect it.
log "scenario worker-network"
farm_net="$(docker network ls -q --filter "label=com.docker.compose.project=$project" --filter "label=com.docker.compose.network=farm")"
[ -n "$farm_net" ] || fail "cannot find the farm network of $project"
if submit_and_pick_victim; then
    log "docker network disconnect $(name_of "$victim") during $job"
    t0="$(now)"
    act network disconnect "$farm_net" "$victim"
    sleep $((CHIRPFARM_HEARTBEAT_TIMEOUT + 2))
    act network connect "$farm_net" "$victim"
    log "reconnected"
    watch_and_compare worker-network "$t0"
    wait_until 60 "the reconnected worker to be registered again" have_workers 3 || fail "the reconnected worker did not come back"
else
    report worker-network 0 no
fi

# 4. Restart the coordinator mid-job: needs its durable --data-dir.
if [ "$has_data_dir" = yes ]; then
    log "scenario coordinator-restart"
    used_hosts=" " # any worker will do: the victim is the coordinator
    if submit_and_pick_victim; then
        log "docker restart coordinator during $job"
        t0="$(now)"
        act restart -t 10 "$(dc ps -q coordinator)"
        log "docker restart returned after $(elapsed "$t0" "$(now)") s"
        wait_until 60 "the restarted coordinator" have_workers 1 || true
        log "a worker re-registered after $(elapsed "$t0" "$(now)") s"
        watch_and_compare coordinator-restart "$t0"
    else
        report coordinator-restart 0 no
    fi
else
    echo "SKIP scenario coordinator-restart: coordinator has no --data-dir yet"
fi

echo "== summary ($(($(date +%s) - start_epoch)) s)"
printf '%s\n' "${summary[@]}"
if [ "$failed" != 0 ]; then
    log "client stderr:"
    tail -n 30 "$work/client.log" >&2 || true
    exit 1
fi
