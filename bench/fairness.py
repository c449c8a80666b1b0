#!/usr/bin/env python3
"""Scheduler fairness: how long a small job waits behind a large one (issue 14).

A real coordinator and two real workers on 127.0.0.1 (release binaries from target/release).
The large job (9,400 templates x 20 random signals) is submitted first; once it has reached a
steady state (every credit busy, a few results back) the seed-bank job (94 templates, one
signal) is submitted. Prints one JSON object on stdout:

  small_job_wait_seconds   submit of the small job -> its first task leased (coordinator log)
  small_job_start_seconds  submit -> its first result accepted (the first task ran)
  small_job_total_seconds  submit -> `chirpfarm watch` of the small job returned (all results)
  task_seconds_p50/max     large job's task times, lease -> result, as the coordinator saw them

Task times come from the coordinator's debug log (`lease` and `result` events, JSON format);
the clocks compared are this machine's own wall clock.
"""

import argparse
import datetime
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BIN = os.path.join(ROOT, "target", "release")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def ts(s):
    """RFC 3339 timestamp of a tracing JSON line -> seconds since the epoch."""
    s = s.rstrip("Z")
    m = re.match(r"(.*T\d\d:\d\d:\d\d)(\.\d+)?", s)
    base = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S")
    base = base.replace(tzinfo=datetime.timezone.utc)
    return base.timestamp() + float(m.group(2) or 0)


def events(log_path):
    """(time, message, fields) of every lease/result line of the coordinator's log."""
    out = []
    with open(log_path, encoding="utf-8", errors="replace") as f:
        for line in f:
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            fields = rec.get("fields", {})
            msg = fields.get("message")
            if msg in ("lease", "result"):
                out.append((ts(rec["timestamp"]), msg, fields))
    return out


def pct(xs, q):
    xs = sorted(xs)
    if not xs:
        return None
    return xs[min(len(xs) - 1, int(q * len(xs)))]


CLI = os.environ.get("CHIRPFARM_BENCH_CLI") or os.path.join(BIN, "chirpfarm")


def cli(url, *args, timeout=60):
    try:
        r = subprocess.run([CLI, *args, "--coordinator", url],
                           capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        sys.exit(f"fairness: chirpfarm {' '.join(args)} did not finish within {timeout} s")
    if r.returncode != 0:
        sys.exit(f"fairness: chirpfarm {' '.join(args)} failed: {r.stderr.strip()}")
    return r.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--label", default="", help="a label copied into the JSON (e.g. before/after)")
    ap.add_argument("--warm-results", type=int, default=4,
                    help="results of the large job to wait for before submitting the small one")
    a = ap.parse_args()

    for path in (os.path.join(BIN, "chirpfarm-coordinator"), os.path.join(BIN, "chirpfarm-worker"), CLI):
        if not os.access(path, os.X_OK):
            sys.exit(f"fairness: {path} is missing: run "
                     "cargo build --release -p chirpfarm -p chirpfarm-worker -p chirpfarm-coordinator")
    procs = []
    tmp = tempfile.mkdtemp(prefix="chirpfarm-fair-")
    log_path = os.path.join(tmp, "coordinator.log")
    try:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        env = dict(os.environ, RUST_LOG="info,chirpfarm_coordinator=debug")
        with open(log_path, "w") as log:
            procs.append(subprocess.Popen(
                [os.path.join(BIN, "chirpfarm-coordinator"), "--listen", f"127.0.0.1:{port}",
                 "--log-format", "json"],
                stdout=subprocess.DEVNULL, stderr=log, env=env))
        for i in range(2):
            procs.append(subprocess.Popen(
                [os.path.join(BIN, "chirpfarm-worker"), "--coordinator", url, "--name", f"w{i}"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        deadline = time.time() + 30
        while True:
            try:
                listed = len(cli(url, "workers").strip().splitlines()) - 1
            except SystemExit:
                listed = 0
            if listed >= 2:
                break
            if time.time() > deadline:
                sys.exit("fairness: the two workers did not register within 30 s")
            time.sleep(0.1)

        big = cli(url, "submit", "--bank", "0.8:1.74:0.0001", "--random-signals", "20").strip()
        deadline = time.time() + 120
        while sum(1 for _, m, f in events(log_path)
                  if m == "result" and f.get("job") == big) < a.warm_results:
            if time.time() > deadline:
                sys.exit("fairness: the large job returned no results within 120 s")
            time.sleep(0.05)

        t_submit = time.time()
        small = cli(url, "submit", "--signal-mc", "1.2").strip()
        cli(url, "watch", small, "--quiet", "--json", timeout=300)
        t_done = time.time()
        time.sleep(0.2)  # let the last log lines land
        cli(url, "cancel", big)

        ev = events(log_path)
        leased = {}
        big_task_s = []
        small_task_s = []
        small_first_lease = None
        small_first_result = None
        for t, m, f in ev:
            key = (f.get("job"), f.get("task"), f.get("attempt"))
            if m == "lease":
                leased[key] = t
                if f.get("job") == small and small_first_lease is None:
                    small_first_lease = t
            elif key in leased:
                d = t - leased[key]
                (big_task_s if f.get("job") == big else small_task_s).append(d)
                if f.get("job") == small and small_first_result is None:
                    small_first_result = t
        r3 = lambda x: None if x is None else round(x, 3)
        print(json.dumps({
            "label": a.label,
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "cores": os.cpu_count(),
            "small_job_wait_seconds": r3(small_first_lease - t_submit),
            "small_job_start_seconds": r3(small_first_result - t_submit),
            "small_job_total_seconds": r3(t_done - t_submit),
            "small_job_tasks": len(small_task_s),
            "task_seconds_p50": r3(pct(big_task_s, 0.5)),
            "task_seconds_max": r3(max(big_task_s)),
            "large_job_tasks_measured": len(big_task_s),
        }))
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        try:
            os.remove(log_path)
            os.rmdir(tmp)
        except OSError:
            pass


if __name__ == "__main__":
    main()
