#!/usr/bin/env python3
"""Measures what each fault costs a running job, with the release binaries on loopback.

For every scenario a fresh coordinator and 3 one-thread workers run the same search (a
940-template bank x 10 signals); the fault is injected 1 s into the job. The script prints, per
scenario, the job's wall time, the extra time against the fault-free run measured in the same
invocation, and whether the results are bit-identical to the fault-free run.

Usage: cargo build --release --bins && python3 bench/fault_recovery.py [--rounds N] [--json FILE]
(medians of N interleaved rounds, default 3)
"""
import json, os, signal, socket, subprocess, sys, tempfile, threading, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release")
SEARCH = ["--bank", "0.8:1.74:0.001", "--random-signals", "10", "--seed", "11", "--chunk-size", "40"]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def cli(*args):
    return subprocess.run([os.path.join(BIN, "chirpfarm"), *args], capture_output=True, text=True)


class Proxy:
    """A TCP proxy that can cut its connections (a partition between one worker and the coordinator)."""

    def __init__(self, target_port):
        self.port, self.target, self.cut_flag, self.conns = free_port(), target_port, False, []
        self.srv = socket.socket()
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.srv.bind(("127.0.0.1", self.port))
        self.srv.listen(16)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            if self.cut_flag:
                c.close()
                continue
            s = socket.create_connection(("127.0.0.1", self.target))
            self.conns += [c, s]
            for a, b in ((c, s), (s, c)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(a, b):
        try:
            while (d := a.recv(65536)):
                b.sendall(d)
        except OSError:
            pass
        try:
            b.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def cut(self):
        self.cut_flag = True
        for c in self.conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.conns = []

    def restore(self):
        self.cut_flag = False


def cluster(port, data_dir, extra):
    coord = subprocess.Popen([os.path.join(BIN, "chirpfarm-coordinator"), "--listen", f"127.0.0.1:{port}",
                              "--data-dir", data_dir, *extra],
                             stderr=subprocess.DEVNULL)
    return coord


def worker(url, name):
    return subprocess.Popen([os.path.join(BIN, "chirpfarm-worker"), "--coordinator", url, "--name", name,
                             "--threads", "1"], stderr=subprocess.DEVNULL)


def wait_workers(url, n):
    deadline = time.time() + 30
    while time.time() < deadline:
        out = cli("workers", "--coordinator", url).stdout.strip().splitlines()
        if len(out) - 1 >= n:
            return
        time.sleep(0.1)
    raise RuntimeError("workers did not register")


def run(scenario, reference):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    data = tempfile.mkdtemp(prefix="chirpfarm-bench-")
    # A 2 s heartbeat timeout everywhere, except where speculation alone must save the job.
    extra = ["--heartbeat-timeout", "60" if scenario == "sigstop-worker-speculation" else "2"]
    if scenario == "sigstop-worker-heartbeat":
        extra.append("--no-speculation")
    coord = cluster(port, data, extra)
    proxy = Proxy(port) if scenario == "network-cut-worker" else None
    workers = [worker(url, "w1"), worker(url, "w2"),
               worker(f"http://127.0.0.1:{proxy.port}" if proxy else url, "w3")]
    procs = [coord] + workers
    try:
        wait_workers(url, 3)
        t0 = time.time()
        job = cli("submit", *SEARCH, "--coordinator", url).stdout.strip()
        result = {}
        watcher = threading.Thread(target=lambda: result.update(
            out=cli("watch", job, "--json", "--quiet", "--coordinator", url)))
        watcher.start()
        time.sleep(1.0)
        if scenario == "sigkill-worker":
            workers[2].kill()
        elif scenario.startswith("sigstop-worker"):
            workers[2].send_signal(signal.SIGSTOP)
        elif scenario == "network-cut-worker":
            proxy.cut()
            threading.Timer(3.0, proxy.restore).start()
        elif scenario == "sigkill-coordinator":
            coord.kill()
            coord.wait()
            time.sleep(0.2)
            coord = cluster(port, data, extra)
            procs.append(coord)
        elif scenario == "sigterm-coordinator":
            coord.send_signal(signal.SIGTERM)
            coord.wait()
            coord = cluster(port, data, extra)
            procs.append(coord)
        watcher.join(timeout=300)
        wall = time.time() - t0
        if scenario.startswith("sigstop-worker"):
            workers[2].send_signal(signal.SIGCONT)
        out = result.get("out")
        if out is None or out.returncode != 0:
            return {"scenario": scenario, "wall_seconds": wall, "identical": False,
                    "error": out.stderr if out else "timeout"}
        signals = json.loads(out.stdout)["signals"]
        return {"scenario": scenario, "wall_seconds": wall,
                "identical": reference is None or signals == reference, "signals": signals}
    finally:
        for p in procs:
            try:
                p.send_signal(signal.SIGCONT)
                p.kill()
                p.wait()
            except OSError:
                pass
        subprocess.run(["rm", "-rf", data])


def main():
    scenarios = ["sigkill-worker", "sigstop-worker-heartbeat", "sigstop-worker-speculation",
                 "network-cut-worker", "sigkill-coordinator", "sigterm-coordinator"]
    rounds = int(sys.argv[sys.argv.index("--rounds") + 1]) if "--rounds" in sys.argv else 3
    reference = run("baseline", None)["signals"]
    samples = {s: [] for s in ["baseline"] + scenarios}
    identical = {s: True for s in samples}
    # Interleaved rounds: every scenario once per round, so load changes hit all alike.
    for _ in range(rounds):
        for s in samples:
            r = run(s, reference)
            samples[s].append(r["wall_seconds"])
            identical[s] = identical[s] and r["identical"]
    median = lambda xs: sorted(xs)[len(xs) // 2]
    base = median(samples["baseline"])
    rows = [{"scenario": s, "wall_seconds": median(v), "samples": v, "identical": identical[s],
             "extra_seconds": median(v) - base} for s, v in samples.items()]
    for r in rows:
        print(f"scenario={r['scenario']:<28} wall_seconds={r['wall_seconds']:6.2f} "
              f"extra_seconds={r['extra_seconds']:+6.2f} identical={'yes' if r['identical'] else 'no'}")
    if "--json" in sys.argv:
        with open(sys.argv[sys.argv.index("--json") + 1], "w") as f:
            json.dump({"date": time.strftime("%Y-%m-%d"), "rounds": rounds, "rows": rows}, f, indent=1)
    sys.exit(0 if all(r["identical"] for r in rows) else 1)


if __name__ == "__main__":
    main()
