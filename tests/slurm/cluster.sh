#!/usr/bin/env bash
# A real single-node Slurm for tests: munged, slurmctld and slurmd from Debian's packages
# (slurm-wlm, munge), with config, keys, state and logs in one folder, every daemon on
# 127.0.0.1 and non-default ports (so a system Slurm on 6817/6818 is left alone).
#
#   bash tests/slurm/cluster.sh run DIR CMD...   start, run CMD with SLURM_CONF exported, stop
#                                                 (also when killed); exits with CMD's code
#   bash tests/slurm/cluster.sh start DIR        start and return; prints `export SLURM_CONF=...`
#   bash tests/slurm/cluster.sh stop DIR         stop what `start DIR` started (by PID)
#
# Exit codes: 0 ok, 77 SKIP (Slurm cannot start here: not installed, not root, a daemon that
# will not come up; a `SKIP: why` line says which), anything else a failure.
#
# Why these settings (each seen on Debian 12, Slurm 22.05, without systemd):
# * nothing starts the daemons: they run in the foreground (-D / -F) under setsid, so a test's
#   Ctrl-C does not reach them and `stop` ends exactly the PIDs recorded here;
# * munged wants its socket folder traversable by others (0755) and a key only it can read;
# * cgroups are off (ProctrackType=proctrack/linuxproc, TaskPlugin=task/none): containers and CI
#   machines often have no writable cgroup tree;
# * SchedulerParameters=batch_sched_delay=0 removes a 3 s wait before each batch job starts;
# * NodeName=localhost with the machine's real CPU count, so jobs get real CPUs.
#
# Ports: CHIRPFARM_SLURMCTLD_PORT (default 16817), CHIRPFARM_SLURMD_PORT (default 16818).
set -uo pipefail

SKIP=77
usage() {
    sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}
[ $# -ge 2 ] || usage
cmd=$1
dir=$2
shift 2

skip() {
    echo "SKIP: single-node Slurm: $*"
    exit "$SKIP"
}

ctld_port=${CHIRPFARM_SLURMCTLD_PORT:-16817}
slurmd_port=${CHIRPFARM_SLURMD_PORT:-16818}

# Ends what `start` started: first every job of this private cluster (scancel, up to 20 s for
# the workers to drain), then the daemons recorded in DIR by PID, newest first (TERM, up to
# 10 s, then KILL), then any job process that outlived slurmd (slurmstepd or a process of a job,
# recognised by this cluster's SLURM_CONF and a SLURM_JOB_ID in its environment), by PID.
stop_cluster() {
    local d=$1 name pid
    if [ -f "$d/slurm.conf" ] && [ -f "$d/slurmctld.pid" ]; then
        SLURM_CONF=$d/slurm.conf scancel --full --user="$(id -un)" >/dev/null 2>&1 || true
        for _ in $(seq 1 100); do
            [ -z "$(SLURM_CONF=$d/slurm.conf squeue -h -o %i 2>/dev/null)" ] && break
            sleep 0.2
        done
    fi
    for name in slurmd slurmctld munged; do
        pid=$(cat "$d/$name.pid" 2>/dev/null) || continue
        [ -n "$pid" ] || continue
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
        rm -f "$d/$name.pid"
    done
    [ -f "$d/slurm.conf" ] || return 0
    local env comm
    for env in /proc/[0-9]*/environ; do
        pid=${env#/proc/}
        pid=${pid%/environ}
        [ "$pid" = "$$" ] && continue
        { tr "\\0" "\\n" <"$env"; } 2>/dev/null | grep -qxF "SLURM_CONF=$d/slurm.conf" || continue
        comm=$(cat "/proc/$pid/comm" 2>/dev/null)
        if [ "$comm" = slurmstepd ] || { tr "\\0" "\\n" <"$env"; } 2>/dev/null | grep -q '^SLURM_JOB_ID='; then
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
}

# Starts one daemon in the foreground under setsid, recording its PID in DIR/NAME.pid.
spawn() {
    local name=$1
    shift
    setsid "$@" >"$dir/$name.out" 2>&1 </dev/null &
    echo $! >"$dir/$name.pid"
}

# Waits up to $2 seconds for command $1 (a string) to succeed.
wait_for() {
    local check=$1 secs=$2
    for _ in $(seq 1 $((secs * 5))); do
        eval "$check" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    return 1
}

start_cluster() {
    for c in munged slurmctld slurmd sbatch scontrol; do
        command -v "$c" >/dev/null 2>&1 || skip "$c not installed (apt-get install slurm-wlm munge)"
    done
    [ "$(id -u)" = 0 ] || skip "slurmd must run as root to start jobs (running as $(id -un))"
    mkdir -p "$dir" || exit 1
    dir=$(cd "$dir" && pwd)
    # A folder others can traverse: munged refuses a socket folder they cannot reach.
    chmod 0755 "$dir"
    mkdir -p "$dir/munge" "$dir/state" "$dir/spool" "$dir/jobs"
    chmod 0755 "$dir/munge" "$dir/jobs"
    chmod 0700 "$dir/state" "$dir/spool"

    local key=$dir/munge/munge.key socket=$dir/munge/munge.socket
    if [ ! -s "$key" ]; then
        head -c 1024 /dev/urandom >"$key" || exit 1
    fi
    chmod 0400 "$key"

    local cpus
    cpus=$(nproc)
    cat >"$dir/slurm.conf" <<EOF
# Written by tests/slurm/cluster.sh: a one-node test cluster, everything in $dir.
ClusterName=chirpfarmtest
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$socket
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.daemon.pid
SlurmdPidFile=$dir/slurmd.daemon.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
SlurmdTimeout=30
InactiveLimit=0
KillWait=10
MinJobAge=300
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
    cat >"$dir/cgroup.conf" <<EOF
# Written by tests/slurm/cluster.sh: cgroups are not used (proctrack/linuxproc, task/none).
CgroupPlugin=autodetect
IgnoreSystemd=yes
EOF
    export SLURM_CONF=$dir/slurm.conf

    spawn munged munged -F --force --socket="$socket" --key-file="$key" \
        --pid-file="$dir/munge/munged.pid" --log-file="$dir/munge/munged.log" \
        --seed-file="$dir/munge/munged.seed"
    wait_for "[ -S '$socket' ]" 10 || {
        tail -n 5 "$dir/munged.out" "$dir/munge/munged.log" 2>/dev/null >&2
        stop_cluster "$dir"
        skip "munged did not start (see $dir/munge/munged.log)"
    }
    spawn slurmctld slurmctld -D -i -f "$dir/slurm.conf"
    wait_for "scontrol ping | grep -q UP" 20 || {
        tail -n 5 "$dir/slurmctld.log" "$dir/slurmctld.out" 2>/dev/null >&2
        stop_cluster "$dir"
        skip "slurmctld did not answer on 127.0.0.1:$ctld_port (see $dir/slurmctld.log)"
    }
    spawn slurmd slurmd -D -N localhost -f "$dir/slurm.conf"
    wait_for "sinfo -h -n localhost -o %T | grep -Eq '^idle'" 30 || {
        tail -n 5 "$dir/slurmd.log" "$dir/slurmd.out" 2>/dev/null >&2
        sinfo -N -l >&2 2>/dev/null
        stop_cluster "$dir"
        skip "slurmd did not make localhost idle (see $dir/slurmd.log)"
    }
    echo "slurm: one node (localhost, $cpus CPUs) idle; slurmctld 127.0.0.1:$ctld_port, state in $dir"
}

case $cmd in
start)
    # Killed half-way: stop what was started.
    trap 'stop_cluster "$dir"; exit 143' TERM
    trap 'stop_cluster "$dir"; exit 130' INT
    start_cluster
    echo "export SLURM_CONF=$SLURM_CONF"
    ;;
stop)
    dir=$(cd "$dir" 2>/dev/null && pwd) || exit 0
    stop_cluster "$dir"
    ;;
run)
    [ $# -ge 1 ] || usage
    mkdir -p "$dir" && dir=$(cd "$dir" && pwd)
    trap 'stop_cluster "$dir"' EXIT
    child=""
    # A signal to this script is passed to CMD (which cleans up after itself), then the
    # cluster is stopped.
    trap '[ -n "$child" ] && kill -TERM "$child" 2>/dev/null && wait "$child"; exit 143' TERM
    trap '[ -n "$child" ] && kill -INT "$child" 2>/dev/null && wait "$child"; exit 130' INT
    # A watchdog outliving a SIGKILL of this script: when this shell is gone, end CMD (its PID
    # is in DIR/cmd.pid) and stop the cluster.
    parent=$$
    (
        trap '' INT TERM
        while kill -0 "$parent" 2>/dev/null; do sleep 1; done
        cmd_pid=$(cat "$dir/cmd.pid" 2>/dev/null) && kill -TERM "$cmd_pid" 2>/dev/null
        stop_cluster "$dir"
    ) >/dev/null 2>&1 </dev/null &
    start_cluster
    "$@" &
    child=$!
    echo "$child" >"$dir/cmd.pid"
    wait "$child"
    ;;
*) usage ;;
esac
