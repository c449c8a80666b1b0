"""Ctrl-C (SIGINT) during a wait returns control within 1 s: a real Python process running a
script, interrupted by PID and timed."""

import os
import signal
import subprocess
import sys
import time
import textwrap

import chirpfarm

WAIT_ON_FARM = """
import sys, chirpfarm
farm = chirpfarm.Farm(sys.argv[1])
print("waiting", flush=True)
try:
    farm.search(signals=[1.2], progress=False, cancel_on_interrupt=sys.argv[2] == "cancel")
except KeyboardInterrupt as e:
    print("KeyboardInterrupt:", e, flush=True)
    sys.exit(130)
"""

IN_PROCESS = """
import chirpfarm
print("waiting", flush=True)
try:
    chirpfarm.search("0.8:1.74:0.00005", [1.2], threads=1)
except KeyboardInterrupt as e:
    print("KeyboardInterrupt:", e, flush=True)
    raise SystemExit(130)
"""


def interrupt(script, *args):
    p = subprocess.Popen([sys.executable, "-c", textwrap.dedent(script), *args],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "waiting"
        time.sleep(0.5)  # well inside the wait
        t0 = time.monotonic()
        os.kill(p.pid, signal.SIGINT)
        out, err = p.communicate(timeout=10)
        return time.monotonic() - t0, p.returncode, out, err
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_sigint_leaves_the_job_running_and_names_it(cluster_factory):
    c = cluster_factory()  # no workers: the search waits for one
    secs, code, out, err = interrupt(WAIT_ON_FARM, c.url, "keep")
    assert code == 130, err
    assert secs < 1.0, f"took {secs:.2f} s"
    with chirpfarm.Farm(c.url) as farm:
        jobs = farm.jobs()
        assert len(jobs) == 1 and jobs[0]["state"] == "queued"
        assert jobs[0]["job_id"] in out and "keeps running" in out


def test_sigint_with_cancel_on_interrupt_cancels(cluster_factory):
    c = cluster_factory()
    secs, code, out, err = interrupt(WAIT_ON_FARM, c.url, "cancel")
    assert code == 130, err
    assert secs < 1.0, f"took {secs:.2f} s"
    with chirpfarm.Farm(c.url) as farm:
        jobs = farm.jobs()
        assert [j["state"] for j in jobs] == ["cancelled"]
        assert jobs[0]["job_id"] in out and "cancelled" in out


def test_sigint_stops_the_in_process_search():
    secs, code, out, err = interrupt(IN_PROCESS)
    assert code == 130, err
    assert secs < 1.0, f"took {secs:.2f} s"
    assert "in-process search stopped" in out
