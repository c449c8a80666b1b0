"""Shared fixtures: the workspace's binaries and a real coordinator with worker processes on
127.0.0.1, each process ended by its PID when the test is done."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import List, Optional

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))
# The seed's numpy module, ported to Python 3 once for the whole repository (bench/python).
sys.path.insert(0, str(ROOT / "bench" / "python"))


def binary(name: str) -> Path:
    """A workspace binary: $CHIRPFARM_BIN_DIR/NAME, else the newest of target/{release,debug}/NAME
    (cargo build first), else skip with the command to run."""
    candidates = []
    env = os.environ.get("CHIRPFARM_BIN_DIR")
    if env:
        candidates.append(Path(env) / name)
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    candidates += [target / "release" / name, target / "debug" / name]
    found = [p for p in candidates if p.is_file() and os.access(p, os.X_OK)]
    if env and found and found[0].parent == Path(env):
        return found[0]
    if not found:
        pytest.skip(f"{name} is not built: run `cargo build --bins` (or set CHIRPFARM_BIN_DIR)")
    return max(found, key=lambda p: p.stat().st_mtime)


class Proc:
    """A child process, killed by its PID at teardown."""

    def __init__(self, args: List[str], **kw) -> None:
        self.popen = subprocess.Popen(args, **kw)
        self.pid = self.popen.pid

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.popen.poll() is None:
            os.kill(self.pid, sig)
            self.popen.wait(timeout=10)


class Cluster:
    """A coordinator on a free loopback port and its worker processes."""

    def __init__(self, coordinator_args: List[str]) -> None:
        self.procs: List[Proc] = []
        self.workers: List[Proc] = []
        coord = Proc(
            [str(binary("chirpfarm-coordinator")), "--listen", "127.0.0.1:0", *coordinator_args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "RUST_LOG": "info"},
        )
        self.procs.append(coord)
        self.coordinator = coord
        found = threading.Event()
        self.url: Optional[str] = None

        def read() -> None:
            for line in coord.popen.stderr:  # type: ignore[union-attr]
                m = re.search(r"listening on (https?://\S+)", line)
                if m and not found.is_set():
                    self.url = m.group(1).rstrip(",")
                    found.set()

        threading.Thread(target=read, daemon=True).start()
        if not found.wait(20):
            self.close()
            raise RuntimeError("the coordinator did not print its address")

    def add_worker(self, name: str, threads: int = 1, extra: Optional[List[str]] = None) -> Proc:
        w = Proc(
            [str(binary("chirpfarm-worker")), "--coordinator", self.url, "--name", name,
             "--threads", str(threads), *(extra or [])],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.procs.append(w)
        self.workers.append(w)
        return w

    def close(self) -> None:
        for p in reversed(self.procs):
            p.kill()


@pytest.fixture
def cluster_factory():
    made: List[Cluster] = []

    def make(*coordinator_args: str) -> Cluster:
        c = Cluster(list(coordinator_args))
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


def wait_for(cond, timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def cli():
    """Runs the `chirpfarm` CLI; returns the completed process."""
    exe = str(binary("chirpfarm"))

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CHIRPFARM_")}
        r = subprocess.run([exe, *args], capture_output=True, text=True, env=env, timeout=300)
        if check and r.returncode != 0:
            raise AssertionError(f"chirpfarm {' '.join(args)} failed ({r.returncode}): {r.stderr}")
        return r

    return run
