#!/usr/bin/env python3
"""chirpfarm benchmark harness (issue 7): every measurement of bench/RESULTS.md in one run.

Called by bench/run.sh (which creates bench/.venv and builds the release binaries); standard
library only, so it runs under any Python 3. The Python implementations it compares against run
in the venv's interpreter (--venv-python), single-threaded BLAS/OpenMP, with OPENBLAS_CORETYPE and
OPENBLAS_L2_SIZE unset for those commands only.

Writes bench/results/<date>.json (<date>-quick.json with --quick): machine, versions, every raw
sample, medians, ratios and targets. bench/report (chirpfarm-bench-report) turns it into plots
and the generated block of bench/RESULTS.md.
"""
import argparse, datetime, hashlib, json, math, os, platform, re, shutil, signal, statistics
import subprocess, sys, tempfile, threading, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILT = os.path.join(ROOT, "target", "release")
BINARIES = ("chirpfarm", "chirpfarm-coordinator", "chirpfarm-worker")
# The binaries are copied here at the start (snapshot_binaries): target/ is shared with whoever
# else builds in this checkout, and a rebuild in the middle of a run must not mix two versions.
BIN = BUILT
PY = os.path.join(ROOT, "bench", "python")
SEED_BANK, BANK_940, BANK_9400, BANK_470 = ("0.8:1.74:0.01", "0.8:1.74:0.001", "0.8:1.74:0.0001",
                                           "0.8:1.74:0.002")
# single-threaded numerics; the two OPENBLAS_* variables some shells here set are removed
PIN = ["OMP_NUM_THREADS=1", "OPENBLAS_NUM_THREADS=1", "MKL_NUM_THREADS=1", "NUMEXPR_NUM_THREADS=1",
       "VECLIB_MAXIMUM_THREADS=1"]
ENV_PREFIX = ["env", "-u", "OPENBLAS_CORETYPE", "-u", "OPENBLAS_L2_SIZE", *PIN]
# glibc malloc tunables: keep freed memory instead of returning it to the system
MALLOC_KEEP = ["MALLOC_MMAP_THRESHOLD_=268435456", "MALLOC_TRIM_THRESHOLD_=268435456"]


def log(msg):
    print("[bench %s] %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)


def median(xs):
    return statistics.median(xs) if xs else None


def run(cmd, timeout=600, check=True):
    """Runs cmd; returns (stdout, wall seconds of the whole process)."""
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    wall = time.perf_counter() - t0
    if check and p.returncode != 0:
        raise RuntimeError("%s exited %d: %s" % (" ".join(cmd), p.returncode, p.stderr[-2000:]))
    return p.stdout, wall


def run_json(cmd, **kw):
    out, wall = run(cmd, **kw)
    try:
        return json.loads(out), wall
    except ValueError:  # something printed before the JSON line
        return json.loads(out.strip().splitlines()[-1]), wall


def info(name, value, display):
    """A row of the targets table that is information, not a target."""
    return {"name": name, "value": value, "display": display if value is not None else
            "skipped", "target": "—", "met": None, "info": True, "margin": "—"}


def cf(*args):
    return [os.path.join(BIN, "chirpfarm"), *args]


def fmt_s(x):
    """Seconds, human-readable."""
    if x is None:
        return "skipped"
    if x < 1e-3:
        return "%.1f µs" % (x * 1e6)
    if x < 1:
        return "%.1f ms" % (x * 1e3)
    return "%.2f s" % x


def fmt_ratio(x):
    if x is None:
        return "skipped"
    return "%.3f×" % x if x < 2 else ("%.2f×" % x if x < 10 else "%.1f×" % x)


def fmt_rate(x):
    return "skipped" if x is None else "{:,.0f}/s".format(x)


def fmt_mb(b):
    return "skipped" if b is None else "%.1f MB" % (b / 1e6)


def target(name, value, op, goal, display=None):
    """A target row: value `op` goal (op '>=' or '<='); met None when the value is missing."""
    if value is None:
        return {"name": name, "value": None, "display": "skipped", "target": "%s %s" % (op, goal),
                "met": None, "margin": "—"}
    met = value >= goal if op == ">=" else value <= goal
    rel = value / goal if goal else float("inf")
    margin = ("%.0f× the target" % rel if rel >= 3 else "%+.0f%% vs target" % ((rel - 1) * 100))
    return {"name": name, "value": value, "display": display or fmt_ratio(value),
            "target": "%s %s" % ("≥" if op == ">=" else "≤", fmt_goal(goal, display)),
            "met": met, "margin": margin}


def fmt_goal(goal, display):
    if display is not None and display.endswith("MB"):
        return "%.0f MB" % (goal / 1e6)
    return ("%g×" % goal)


class Cluster:
    """chirpfarm-coordinator + N chirpfarm-worker processes on loopback."""

    def __init__(self, workers, threads=1, cache_mb=None):
        self.coord = subprocess.Popen([os.path.join(BIN, "chirpfarm-coordinator"), "--listen",
                                       "127.0.0.1:0"], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE, text=True)
        self.addr, deadline = None, time.time() + 30
        while self.addr is None:
            line = self.coord.stderr.readline()
            if not line:
                raise RuntimeError("coordinator exited before listening")
            m = re.search(r"listening on (?:https?://)?(\S+)", line)
            if m:
                self.addr = m.group(1)
            if time.time() > deadline:
                raise RuntimeError("coordinator did not report its address")
        threading.Thread(target=lambda: self.coord.stderr.read(), daemon=True).start()
        self.url = "http://" + self.addr
        self.workers = []
        for i in range(workers):
            cmd = [os.path.join(BIN, "chirpfarm-worker"), "--coordinator", self.url, "--threads",
                   str(threads), "--name", "bench-w%d" % i]
            if cache_mb is not None:
                cmd += ["--template-cache-mb", str(cache_mb)]
            self.workers.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                                                 stderr=subprocess.DEVNULL))
        LIVE.update([self.coord, *self.workers])
        for _ in range(300):
            out, _ = run(cf("workers", "--coordinator", self.url), check=False)
            if len([ln for ln in out.splitlines() if ln.strip()]) >= workers + 1:
                break
            time.sleep(0.05)
        else:
            raise RuntimeError("workers did not register")

    def search(self, *args):
        return run_json(cf("search", "--coordinator", self.url, "--json", "--quiet", *args))

    def vmhwm(self):
        return {"coordinator": vmhwm(self.coord.pid),
                "workers": [vmhwm(w.pid) for w in self.workers]}

    def stop(self):
        LIVE.difference_update([self.coord, *self.workers])
        for p in self.workers + [self.coord]:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.workers + [self.coord]:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def vmhwm(pid):
    """Peak resident set size (VmHWM) of a live process, in bytes."""
    try:
        with open("/proc/%d/status" % pid) as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def snapshot_binaries():
    """Copies the release binaries to a private folder and points BIN at it; returns the folder
    and each binary's sha256 prefix and build time."""
    global BIN
    d = tempfile.mkdtemp(prefix="chirpfarm-bench-bin-")
    info = {}
    for b in BINARIES:
        src = os.path.join(BUILT, b)
        shutil.copy2(src, os.path.join(d, b))
        with open(src, "rb") as fh:
            digest = hashlib.sha256(fh.read()).hexdigest()[:16]
        info[b] = {"sha256_16": digest, "built": datetime.datetime.fromtimestamp(
            os.path.getmtime(src)).astimezone().isoformat(timespec="seconds")}
    BIN = d
    return d, info


def cpu_busy(interval=1.0):
    """Fraction of all CPUs busy over `interval` seconds (from /proc/stat); while the harness
    sleeps here this is everybody else's use of the machine."""
    def read():
        with open("/proc/stat") as fh:
            v = [int(x) for x in fh.readline().split()[1:]]
        return sum(v), v[3] + v[4]
    try:
        t0, i0 = read()
        time.sleep(interval)
        t1, i1 = read()
    except OSError:
        return None
    return 1 - (i1 - i0) / max(1, t1 - t0)


CLK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
LIVE = set()  # coordinator/worker processes of running Clusters (their CPU counts as ours)


def proc_ticks(pid):
    try:
        with open("/proc/%d/stat" % pid) as fh:
            f = fh.read().rsplit(")", 1)[1].split()
        return int(f[11]) + int(f[12])
    except (OSError, IndexError, ValueError):
        return None


def stat_busy():
    with open("/proc/stat") as fh:
        v = [int(x) for x in fh.readline().split()[1:9]]
    return sum(v) - v[3] - v[4]


def our_cpu_seconds():
    import resource
    a, b = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime


class Meter:
    """Everybody else's share of the CPUs while a round runs: the machine's busy time
    (/proc/stat) minus this harness's own (itself, its waited-for children, its live
    coordinator/worker processes)."""

    def __init__(self):
        self.t0, self.busy0, self.ours0 = time.perf_counter(), stat_busy(), our_cpu_seconds()
        self.procs0 = {p.pid: proc_ticks(p.pid) or 0 for p in LIVE}

    def others(self):
        wall = time.perf_counter() - self.t0
        busy = (stat_busy() - self.busy0) / CLK
        ours = our_cpu_seconds() - self.ours0
        for p in LIVE:
            t = proc_ticks(p.pid)
            if t is not None:
                ours += (t - self.procs0.get(p.pid, 0)) / CLK
        return wall, max(0.0, busy - ours) / (wall * (os.cpu_count() or 1))


def machine_info():
    info = {"nproc": os.cpu_count(), "kernel": platform.release(), "arch": platform.machine()}
    try:
        with open("/proc/cpuinfo") as fh:
            models = [ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")]
        info["cpu_model"] = models[0] if models else "unknown"
        with open("/proc/cpuinfo") as fh:
            flags = next((ln.split(":", 1)[1].split() for ln in fh if ln.startswith("flags")), [])
        info["simd"] = [f for f in ("avx2", "fma", "avx512f") if f in flags]
    except OSError:
        info["cpu_model"] = "unknown"
    try:
        with open("/proc/meminfo") as fh:
            kb = next(int(ln.split()[1]) for ln in fh if ln.startswith("MemTotal"))
        info["mem_total_bytes"] = kb * 1024
    except (OSError, StopIteration):
        pass
    return info


def versions(venv_python):
    v = {}
    for name, cmd in (("rustc", ["rustc", "-V"]), ("cargo", ["cargo", "-V"]),
                      ("git_commit", ["git", "-C", ROOT, "describe", "--always", "--dirty",
                                      "--exclude", "*"])):
        try:
            v[name] = subprocess.run(cmd, capture_output=True, text=True).stdout.strip()
        except OSError:
            v[name] = "unknown"
    probe = ("import json,sys,platform\nv={'python':platform.python_version()}\n"
             "for m in ('numpy','pyfftw','dask','distributed','threadpoolctl'):\n"
             "  try:\n    v[m]=__import__(m).__version__\n  except Exception as e:\n"
             "    v[m]=None\nprint(json.dumps(v))")
    try:
        out = subprocess.run([*ENV_PREFIX, venv_python, "-c", probe], capture_output=True,
                             text=True, timeout=120).stdout
        v.update(json.loads(out))
    except Exception as e:  # no usable venv
        log("cannot probe the venv's Python: %s" % e)
        v["python"] = None
    v["harness_python"] = platform.python_version()
    return v


class Bench:
    def __init__(self, args):
        self.args, self.quick = args, args.quick
        self.py = [*ENV_PREFIX, args.venv_python]
        self.sections, self.skipped, self.checks, self.plots = [], [], [], {}
        self.commands = {}
        self.quiet_log, self.round_log, self.waited, self.redos = [], [], 0.0, 0
        self.tp_note = "threadpoolctl not available"

    def quiet(self, section, max_wait=None):
        """Waits until other processes use under 15% of the CPUs, at most `max_wait` seconds
        and never more than what is left of the run's waiting budget (--wait-budget), and
        records what it saw: the machine is shared with other people's compiles."""
        limit = min(self.args.max_wait_quiet if max_wait is None else max_wait,
                    max(0.0, self.args.wait_budget - self.waited))
        t0 = time.time()
        while True:
            busy = cpu_busy()
            waited = time.time() - t0
            if busy is None or busy < 0.15 or waited >= limit:
                break
            if waited < 1.5:
                log("waiting for a quiet machine (others use %.0f%% of the CPUs)" % (busy * 100))
        self.waited += waited
        self.quiet_log.append({"section": section, "other_cpu_busy": busy,
                               "waited_seconds": round(waited, 1)})
        if busy is not None and busy >= 0.15:
            log("NOTE: starting %s while others use %.0f%% of the CPUs" % (section, busy * 100))

    def measured(self, label, fn, attempts=3):
        """Runs one round, fn(), measuring everybody else's CPU use meanwhile; a round during
        which others used more than 10% of the CPUs is thrown away and run again after a wait
        for a quiet machine (at most `attempts` tries, while the waiting budget lasts)."""
        for attempt in range(1, attempts + 1):
            meter = Meter()
            res = fn()
            wall, other = meter.others()
            rec = {"round": label, "attempt": attempt, "seconds": round(wall, 3),
                   "others_cpu_share": round(other, 3), "kept": True}
            self.round_log.append(rec)
            if (other <= 0.10 or wall < 0.5 or attempt == attempts
                    or self.waited >= self.args.wait_budget or self.redos >= 40):
                if other > 0.10 and wall >= 0.5:
                    log("NOTE: round %s kept although others used %.0f%% of the CPUs" % (
                        label, other * 100))
                return res
            rec["kept"] = False
            self.redos += 1
            log("round %s: others used %.0f%% of the CPUs; running it again" % (
                label, other * 100))
            self.quiet(label + " (redo)", max_wait=30)

    def skip(self, item, reason):
        log("SKIPPED %s: %s" % (item, reason))
        self.skipped.append({"item": item, "reason": reason})

    def rounds(self, full, quick):
        return quick if self.quick else full

    # ------------------------------------------------------------------------------ 1
    def per_template(self):
        log("1. one template, one core: chirpfarm bench filter vs numpy vs pyfftw")
        iters, R = 200, self.rounds(9, 3)
        cmds = {"chirpfarm": cf("bench", "filter", "--json", "--iters", str(iters))}
        if self.v.get("numpy"):
            cmds["numpy"] = [*self.py, os.path.join(PY, "per_template.py"), "--impl", "numpy",
                             "--iters", str(iters)]
            # the same, with glibc malloc keeping freed memory (no page faults per call)
            cmds["numpy-nofault"] = ["env", *MALLOC_KEEP, *cmds["numpy"]]
        if self.v.get("pyfftw") and self.v.get("numpy"):
            cmds["pyfftw"] = [*self.py, os.path.join(PY, "per_template.py"), "--impl", "pyfftw",
                              "--iters", str(iters)]
        self.commands["per_template"] = {k: " ".join(c) for k, c in cmds.items()}
        samples, extra = {k: [] for k in cmds}, {}
        def one_round():  # interleaved, so load changes hit every implementation alike
            return {k: run_json(c)[0] for k, c in cmds.items()}

        for r in range(R):
            for k, d in self.measured("per_template/%d" % r, one_round).items():
                samples[k].append(d["per_template_seconds"])
                if k != "chirpfarm":
                    extra[k] = {x: d.get(x) for x in ("plan_seconds", "threadpoolctl", "value",
                                                      "relative_difference_to_numpy",
                                                      "page_faults_per_call", "malloc_env")}
        impls = ("chirpfarm", "numpy", "numpy-nofault", "pyfftw")
        med = {k: median(samples.get(k, [])) for k in impls}
        faults = {k: extra.get(k, {}).get("page_faults_per_call") for k in impls}
        c = med["chirpfarm"]
        rows = []
        for k, label in (("chirpfarm", "chirpfarm `bench filter` (realfft, Rust)"),
                         ("numpy", "numpy: the seed's `maxsnr` (numpy.fft.irfft)"),
                         ("numpy-nofault", "numpy, the same, glibc malloc keeping freed memory "
                                           "(%s)" % " ".join(MALLOC_KEEP)),
                         ("pyfftw", "pyfftw: FFTW c2r plan, FFTW_MEASURE, threads=1")):
            s = samples.get(k, [])
            rows.append([label, fmt_s(med[k]), fmt_s(min(s)) if s else "skipped",
                         fmt_s(max(s)) if s else "skipped", str(len(s)),
                         "—" if k == "chirpfarm" else (
                             "skipped" if faults[k] is None else "%.0f" % faults[k]),
                         fmt_ratio(med[k] / c) if med[k] and c else "skipped"])
        tg = [target("chirpfarm time / pyfftw (FFTW_MEASURE) time", c / med["pyfftw"]
                     if med["pyfftw"] else None, "<=", 1.0),
              info("numpy time / chirpfarm time (speed-up over the seed's numpy)",
                   div(med["numpy"], c), fmt_ratio(div(med["numpy"], c))),
              info("numpy without page faults / chirpfarm time",
                   div(med["numpy-nofault"], c), fmt_ratio(div(med["numpy-nofault"], c)))]
        self.sections.append({
            "id": "per_template",
            "title": "1. One template: multiply + inverse real FFT (n = 2^17) + max, f64, one core",
            "description": "Per-template time, median over %d interleaved processes, each the "
                           "median of %d timed calls (signal template(1.2), normalised "
                           "template(1.25), both precomputed). Python runs pinned to one thread "
                           "(OMP/OPENBLAS/MKL_NUM_THREADS=1, OPENBLAS_CORETYPE and "
                           "OPENBLAS_L2_SIZE unset). The seed's `maxsnr` allocates 4 temporary "
                           "1 MB arrays per call; with glibc's default malloc they are fresh "
                           "pages every time (~1,000 page faults per call), so numpy is also "
                           "timed with malloc told to keep freed memory." % (R, iters),
            "columns": ["implementation", "median", "min", "max", "processes",
                        "page faults per call", "time vs chirpfarm"],
            "rows": rows, "targets": tg,
            "raw": {"samples_seconds": samples, "median_seconds": med, "iters": iters,
                    "details": extra, "commands": self.commands["per_template"]}})
        tp = extra.get("numpy", {}).get("threadpoolctl")
        if isinstance(tp, list):
            self.tp_note = "threadpoolctl in the numpy process: " + ("; ".join(
                "%s %s (%s), %s thread(s)" % (x.get("internal_api"), x.get("version"),
                                              x.get("architecture"), x.get("num_threads"))
                for x in tp) or "no thread pools")
        elif tp:
            self.tp_note = "threadpoolctl: %s" % tp
        self.plots["per_template"] = [
            {"label": {"numpy-nofault": "numpy, no page faults"}.get(k, k),
             "median_seconds": med[k], "samples_seconds": samples.get(k, [])}
            for k in impls]

    # ------------------------------------------------------------------------------ 2 + 3
    def script1(self, bank, R, loop2, loop1=None):
        """Seed script 1 over `bank`: Python map / Pool(2) vs chirpfarm embedded / loopback."""
        n_label = {SEED_BANK: "94", BANK_940: "940"}[bank]
        s = {k: [] for k in ("py_map", "py_map_process", "py_pool_map", "py_pool_start",
                             "py_pool_close", "py_pool_process", "cf_job", "cf_process",
                             "lo2_job", "lo2_process", "lo1_job", "lo1_process")}
        py_ok = bool(self.v.get("numpy"))
        pool_json = cf_json = lo2_json = lo1_json = None
        script = os.path.join(PY, "seed_script1.py")
        sig = ["--signal-mc", "1.2", "--bank", bank]
        def one_round():
            got, docs = {}, {}
            if py_ok:
                if bank == SEED_BANK:  # the 940-bank map is only needed for script 1's map
                    d, w = run_json([*self.py, script, "--mode", "map", "--bank", bank, "--json"])
                    got["py_map"], got["py_map_process"] = d["map_seconds"], w
                d, w = run_json([*self.py, script, "--mode", "pool", "--bank", bank, "--json",
                                 "--snrs"])
                got.update({"py_pool_map": d["pool_map_seconds"],
                            "py_pool_start": d["pool_start_seconds"],
                            "py_pool_close": d["pool_close_seconds"], "py_pool_process": w})
                docs["pool"] = d
            d, w = run_json(cf("search", "--json", "--quiet", *sig))
            got["cf_job"], got["cf_process"], docs["cf"] = d["stats"]["wall_seconds"], w, d
            d, w = loop2.search(*sig)
            got["lo2_job"], got["lo2_process"], docs["lo2"] = d["stats"]["wall_seconds"], w, d
            if loop1 is not None:
                d, w = loop1.search(*sig)
                got["lo1_job"], got["lo1_process"], docs["lo1"] = (d["stats"]["wall_seconds"], w,
                                                                   d)
            return got, docs

        for r in range(R):
            got, docs = self.measured("%s/%d" % (n_label, r), one_round)
            for k, x in got.items():
                s[k].append(x)
            pool_json = docs.get("pool", pool_json)
            cf_json, lo2_json, lo1_json = docs["cf"], docs["lo2"], docs.get("lo1")
        m = {k: median(v) for k, v in s.items()}
        # parity: the Python port's SNRs against chirpfarm's JSON
        check = {"bank": bank, "templates": len(cf_json["bank"]["mc"])}
        cf_snr = cf_json["signals"][0]["snr"]
        check["loopback_identical_to_embedded"] = (
            lo2_json["signals"][0]["snr"] == cf_snr and
            (lo1_json is None or lo1_json["signals"][0]["snr"] == cf_snr))
        if pool_json is not None:
            rel = max(abs(a - b) / abs(b) for a, b in zip(pool_json["snrs"], cf_snr))
            best = cf_json["signals"][0]["best"]
            check.update({"max_relative_snr_difference": rel,
                          "python_best_index": pool_json["best_index"],
                          "chirpfarm_best_index": best["template_index"],
                          "python_best_mc": pool_json["best_mc"], "chirpfarm_best_mc": best["mc"],
                          "ok": rel <= 1e-9 and pool_json["best_index"] == best["template_index"]
                          and len(pool_json["snrs"]) == len(cf_snr)})
            log("CHECK %s-template bank: Python port vs chirpfarm: best template %d vs %d "
                "(Mc %r vs %r), max relative SNR difference %.2e (≤ 1e-9: %s); loopback "
                "results identical to embedded: %s" % (
                    n_label, pool_json["best_index"], best["template_index"],
                    pool_json["best_mc"], best["mc"], rel, "yes" if check["ok"] else "NO",
                    check["loopback_identical_to_embedded"]))
        else:
            check["ok"] = None
        self.checks.append(check)
        return s, m, check

    def seed_script1(self, loop2):
        R = self.rounds(9, 3)
        log("2. seed script 1 (94 templates): map / Pool(2) vs chirpfarm, %d rounds" % R)
        s, m, check = self.script1(SEED_BANK, R, loop2)
        startup_py = (median([p - (a + b + c) for p, a, b, c in zip(
            s["py_pool_process"], s["py_pool_start"], s["py_pool_map"], s["py_pool_close"])])
            if s["py_pool_process"] else None)
        startup_cf = median([p - j for p, j in zip(s["cf_process"], s["cf_job"])])
        rows = [
            ["Python 3 port, built-in `map` (1 core)", fmt_s(m["py_map"]),
             fmt_s(m["py_map_process"]), "—", ratio_str(m["py_map"], m["cf_job"])],
            ["Python 3 port, `Pool(2).map` (the seed's timing)", fmt_s(m["py_pool_map"]),
             fmt_s(m["py_pool_process"]),
             "pool start %s, close %s, interpreter+imports %s" % (
                 fmt_s(median(s["py_pool_start"])), fmt_s(median(s["py_pool_close"])),
                 fmt_s(startup_py)), ratio_str(m["py_pool_map"], m["cf_job"])],
            ["chirpfarm search, embedded (2 threads)", fmt_s(m["cf_job"]), fmt_s(m["cf_process"]),
             "process start-up + cluster start %s" % fmt_s(startup_cf), "1.00×"],
            ["chirpfarm search --coordinator, 2 loopback workers × 1 thread",
             fmt_s(m["lo2_job"]), fmt_s(m["lo2_process"]), "client process start-up %s" %
             fmt_s(median([p - j for p, j in zip(s["lo2_process"], s["lo2_job"])])),
             ratio_str(m["lo2_job"], m["cf_job"])]]
        tg = [target("Pool(2) job / chirpfarm embedded job (stats.wall_seconds)",
                     div(m["py_pool_map"], m["cf_job"]), ">=", 15),
              info("Pool(2) / chirpfarm embedded, whole process incl. start-up",
                   div(m["py_pool_process"], m["cf_process"]),
                   fmt_ratio(div(m["py_pool_process"], m["cf_process"]))),
              target("Pool(2) job / chirpfarm over 2 loopback workers (job)",
                     div(m["py_pool_map"], m["lo2_job"]), ">=", 15)]
        self.sections.append({
            "id": "seed_script1",
            "title": "2. Seed script 1: 94 templates against template(1.2)",
            "description": "Median of %d interleaved rounds. Job = the work after start-up: "
                           "`map`/`pool.map` as the seed timed them; chirpfarm's "
                           "stats.wall_seconds (submit to last result). Process = the whole "
                           "command, interpreter/binary start-up included. Loopback workers run "
                           "with --template-cache-mb 0 so every round computes its templates, "
                           "like the Python versions." % R,
            "columns": ["implementation", "job", "whole process", "start-up", "job time vs "
                        "chirpfarm embedded"],
            "rows": rows, "targets": tg, "check": check,
            "raw": {"samples_seconds": s, "median_seconds": m,
                    "python_startup_seconds": startup_py, "chirpfarm_startup_seconds": startup_cf}})

    def bank940(self, loop2, loop1):
        R = self.rounds(5, 1)
        log("3. 940-template bank: Pool(2) vs chirpfarm embedded, 2 and 1 loopback workers, "
            "%d rounds" % R)
        s, m, check = self.script1(BANK_940, R, loop2, loop1)
        # the first job of a freshly started farm (default 1 GB template cache), for comparison
        fresh = {1: [], 2: []}
        def fresh_round():
            got = {}
            for nw in (1, 2):
                c = Cluster(nw, 1)
                try:
                    got[nw] = c.search("--signal-mc", "1.2", "--bank", BANK_940)[0]
                finally:
                    c.stop()
            return got

        for r in range(R):
            for nw, d in self.measured("fresh940/%d" % r, fresh_round).items():
                fresh[nw].append(d["stats"]["wall_seconds"])
        s["fresh_first_job_1w"], s["fresh_first_job_2w"] = fresh[1], fresh[2]
        m["fresh_first_job_1w"], m["fresh_first_job_2w"] = median(fresh[1]), median(fresh[2])
        rows = [
            ["Python 3 port, `Pool(2).map`", fmt_s(m["py_pool_map"]), fmt_s(m["py_pool_process"]),
             ratio_str(m["py_pool_map"], m["cf_job"])],
            ["chirpfarm search, embedded (2 threads)", fmt_s(m["cf_job"]), fmt_s(m["cf_process"]),
             "1.00×"],
            ["chirpfarm, 2 loopback workers × 1 thread", fmt_s(m["lo2_job"]),
             fmt_s(m["lo2_process"]), ratio_str(m["lo2_job"], m["cf_job"])],
            ["chirpfarm, 1 loopback worker × 1 thread", fmt_s(m["lo1_job"]),
             fmt_s(m["lo1_process"]), ratio_str(m["lo1_job"], m["cf_job"])],
            ["chirpfarm, first job of a fresh farm: 2 workers × 1 thread (default cache)",
             fmt_s(m["fresh_first_job_2w"]), "—", ratio_str(m["fresh_first_job_2w"],
                                                            m["cf_job"])],
            ["chirpfarm, first job of a fresh farm: 1 worker × 1 thread (default cache)",
             fmt_s(m["fresh_first_job_1w"]), "—", ratio_str(m["fresh_first_job_1w"],
                                                            m["cf_job"])]]
        tg = [target("Pool(2) / chirpfarm embedded (job)", div(m["py_pool_map"], m["cf_job"]),
                     ">=", 10),
              target("Pool(2) / chirpfarm over 2 loopback workers (job)",
                     div(m["py_pool_map"], m["lo2_job"]), ">=", 10),
              target("2-worker speed-up: 1 worker × 1 thread / 2 workers × 1 thread",
                     div(m["lo1_job"], m["lo2_job"]), ">=", 1.8),
              info("2-worker speed-up, first job of a fresh farm",
                   div(m["fresh_first_job_1w"], m["fresh_first_job_2w"]),
                   fmt_ratio(div(m["fresh_first_job_1w"], m["fresh_first_job_2w"])))]
        self.sections.append({
            "id": "bank940", "title": "3. A 940-template bank (0.8:1.74:0.001), one signal",
            "description": "Median of %d interleaved rounds; job and process as in table 2; "
                           "the standing loopback farms (started once, used for every round) "
                           "run with --template-cache-mb 0 so every round computes all "
                           "templates; the fresh-farm rows start a new coordinator and workers "
                           "(default settings) for each round and time their first job." % R,
            "columns": ["implementation", "job", "whole process", "job time vs chirpfarm "
                        "embedded"],
            "rows": rows, "targets": tg, "check": check,
            "raw": {"samples_seconds": s, "median_seconds": m}})

    # ------------------------------------------------------------------------------ 4
    def script2(self):
        R = self.rounds(3, 1)
        banks = [SEED_BANK] + ([] if self.quick else [BANK_940])
        log("4. seed script 2 (standing workers, 10 signals): %d rounds" % R)
        py, py_first, py_total, py_json = [], [], [], None
        cache = {b: {"cached": [], "uncached": [], "cached_first": [], "uncached_first": []}
                 for b in banks}
        lo = {"job": [], "process": [], "first_job": []}
        lo_json = []
        def loopback_round(masses):
            c = Cluster(2, 1)
            try:
                return [c.search("--signal-mc", repr(mc)) for mc in masses]
            finally:
                c.stop()

        for r in range(R):
            if self.v.get("numpy"):
                d, w = self.measured("script2-python/%d" % r, lambda: run_json(
                    [*self.py, os.path.join(PY, "seed_script2.py"), "--json", "--seed", "1"]))
                py += d["per_signal_seconds"][1:]
                py_first.append(d["per_signal_seconds"][0])
                py_total.append(w)
                py_json = d
            d, _ = self.measured("script2-bench-cache/%d" % r, lambda: run_json(cf(
                "bench", "cache", "--signals", "10", *sum((["--bank", b] for b in banks), []))))
            for row in d["results"]:
                for mode in ("cached", "uncached"):
                    t = row["modes"][mode]["per_signal_seconds"]
                    cache[row["bank"]][mode] += t[1:]
                    cache[row["bank"]][mode + "_first"].append(t[0])
            # our own submit-per-signal against a running coordinator: 2 workers x 1 thread,
            # default template cache, the Python run's signals, one CLI process per signal
            masses = (py_json["true_mc"] if py_json else
                      [0.8 + 0.094 * i + 0.01 for i in range(10)])
            runs = self.measured("script2-loopback/%d" % r, lambda: loopback_round(masses))
            for i, (d, w) in enumerate(runs):
                if i == 0:
                    lo["first_job"].append(d["stats"]["wall_seconds"])
                else:
                    lo["job"].append(d["stats"]["wall_seconds"])
                    lo["process"].append(w)
            lo_json = [d["signals"][0] for d, _ in runs]
        check = {"signals": len(lo_json)}
        if py_json:
            diffs, same = [], True
            for i, sres in enumerate(lo_json):
                b = sres["best"]
                same &= b["mc"] == py_json["best_mc"][i]
                diffs.append(abs(b["snr"] - py_json["best_snr"][i]) / abs(py_json["best_snr"][i]))
            check.update({"true_mc": py_json["true_mc"], "python_best_mc": py_json["best_mc"],
                          "chirpfarm_best_mc": [x["best"]["mc"] for x in lo_json],
                          "max_relative_best_snr_difference": max(diffs),
                          "ok": same and max(diffs) <= 1e-9})
            log("CHECK script 2: best Mc of all %d signals identical: %s; max relative best-SNR "
                "difference %.2e (≤ 1e-9: %s)" % (len(lo_json), same, max(diffs),
                                                    "yes" if check["ok"] else "NO"))
        else:
            check["ok"] = None
        self.checks.append(check)
        m_py = median(py)
        mc = {b: {k: median(v) for k, v in cache[b].items()} for b in banks}
        m_lo = median(lo["job"])
        rows = [["Python 3 port of script 2 (2 worker processes, cached templates)",
                 fmt_s(m_py), fmt_s(median(py_first)), "—"],
                ["chirpfarm `bench cache`, embedded, template cache on",
                 fmt_s(mc[SEED_BANK]["cached"]), fmt_s(mc[SEED_BANK]["cached_first"]),
                 ratio_str(m_py, mc[SEED_BANK]["cached"], "Python / chirpfarm ")],
                ["chirpfarm `bench cache`, embedded, template cache off",
                 fmt_s(mc[SEED_BANK]["uncached"]), fmt_s(mc[SEED_BANK]["uncached_first"]),
                 ratio_str(m_py, mc[SEED_BANK]["uncached"], "Python / chirpfarm ")],
                ["chirpfarm search per signal, coordinator + 2 loopback workers × 1 thread "
                 "(cache on; job / whole client process)",
                 "%s / %s" % (fmt_s(m_lo), fmt_s(median(lo["process"]))),
                 fmt_s(median(lo["first_job"])), ratio_str(m_py, m_lo, "Python / chirpfarm ")]]
        if BANK_940 in mc:
            rows += [["chirpfarm `bench cache`, 940 templates, cache on",
                      fmt_s(mc[BANK_940]["cached"]), fmt_s(mc[BANK_940]["cached_first"]), "—"],
                     ["chirpfarm `bench cache`, 940 templates, cache off",
                      fmt_s(mc[BANK_940]["uncached"]), fmt_s(mc[BANK_940]["uncached_first"]),
                      "—"]]
        tg = [target("per signal: Python script 2 / chirpfarm cached (embedded, bench cache)",
                     div(m_py, mc[SEED_BANK]["cached"]), ">=", 5),
              target("per signal: Python script 2 / chirpfarm over 2 loopback workers, cached",
                     div(m_py, m_lo), ">=", 5),
              target("cached vs uncached per signal, 94 templates",
                     div(mc[SEED_BANK]["uncached"], mc[SEED_BANK]["cached"]), ">=", 1.8)]
        if BANK_940 in mc:
            tg.append(target("cached vs uncached per signal, 940 templates",
                             div(mc[BANK_940]["uncached"], mc[BANK_940]["cached"]), ">=", 1.8))
        self.sections.append({
            "id": "seed_script2",
            "title": "4. Seed script 2: standing workers with cached templates, 10 signals",
            "description": "Per-signal time (median over signals 2-10 of %d round(s); the first "
                           "signal, which builds the templates, shown apart). Python: the "
                           "seed's script with 2 worker processes, random.seed(1). chirpfarm "
                           "`bench cache`: 10 signals submitted one by one to the embedded "
                           "cluster (2 threads). Loopback: a coordinator and 2 one-thread "
                           "workers, one `chirpfarm search --coordinator` process per signal "
                           "for the Python run's chirp masses." % R,
            "columns": ["implementation", "per signal (median, signals 2-10)", "first signal",
                        "ratio"],
            "rows": rows, "targets": tg, "check": check,
            "raw": {"python_per_signal_seconds": py, "python_first_signal_seconds": py_first,
                    "python_process_seconds": py_total, "bench_cache": cache,
                    "loopback": lo, "medians": {"python": m_py, "bench_cache": mc,
                                                "loopback_job": m_lo}}})

    # ------------------------------------------------------------------------------ 5
    def dispatch(self):
        N, R = self.rounds(2000, 1000), self.rounds(5, 2)
        log("5. dispatch overhead: %d no-op tasks, chirpfarm vs Dask, %d rounds" % (N, R))
        cfs = []
        for r in range(R):
            d, _ = self.measured("dispatch-chirpfarm/%d" % r, lambda: run_json(
                cf("bench", "dispatch", "--tasks", str(N), "--workers", "2")))
            cfs.append(d["tasks_per_second"])
        dk, dk_raw = [], None
        if self.v.get("dask") and self.v.get("distributed"):
            dk_raw, _ = self.measured("dispatch-dask", lambda: run_json(
                [*self.py, os.path.join(PY, "dask_dispatch.py"), "--tasks", str(N), "--repeats",
                 str(R)], timeout=600), attempts=2)
            dk = [x["tasks_per_second"] for x in dk_raw["rounds"]]
        m_cf, m_dk = median(cfs), median(dk)
        rows = [["chirpfarm `bench dispatch` (coordinator + 2 in-process no-op workers, "
                 "loopback gRPC, 16 credits)", fmt_rate(m_cf), "%s – %s" % (
                     fmt_rate(min(cfs)), fmt_rate(max(cfs))), "1.00×"],
                ["Dask distributed: LocalCluster(n_workers=2, threads_per_worker=1, "
                 "processes=True), client.map + gather", fmt_rate(m_dk),
                 ("%s – %s" % (fmt_rate(min(dk)), fmt_rate(max(dk)))) if dk else "skipped",
                 ratio_str(m_dk, m_cf) if m_dk else "skipped"]]
        self.sections.append({
            "id": "dispatch", "title": "5. Dispatch overhead: %d no-op tasks, 2 workers" % N,
            "description": "Tasks per second, median of %d rounds (the Dask cluster's start-up, "
                           "%s, and a 100-task warm-up are not timed)." % (
                               R, fmt_s(dk_raw["cluster_start_seconds"]) if dk_raw else "—"),
            "columns": ["implementation", "tasks/s (median)", "range", "vs chirpfarm"],
            "rows": rows,
            "targets": [target("chirpfarm tasks/s / Dask tasks/s", div(m_cf, m_dk), ">=", 2)],
            "raw": {"tasks": N, "chirpfarm_tasks_per_second": cfs,
                    "dask_tasks_per_second": dk, "dask": dk_raw}})

    # ------------------------------------------------------------------------------ 6
    def scale(self):
        banks = ([(SEED_BANK, 94), (BANK_470, 470), (BANK_940, 940)] if self.quick else
                 [(SEED_BANK, 94), (BANK_940, 940), (BANK_9400, 9400)])
        R = self.rounds(5, 2)
        log("6. scale: embedded search over %s templates, %d rounds" %
            ([n for _, n in banks], R))
        pts = {n: [] for _, n in banks}
        def scale_round():
            return [(n, run_json(cf("search", "--json", "--quiet", "--signal-mc", "1.2",
                                    "--bank", b))[0]) for b, n in banks]

        for r in range(R):
            for n, d in self.measured("scale/%d" % r, scale_round):
                assert d["stats"]["templates"] == n, d["stats"]
                pts[n].append(d["stats"]["wall_seconds"])
        xs = sorted(pts)
        ys = [median(pts[n]) for n in xs]
        fit = linear_fit(xs, ys)
        expo = math.log(ys[-1] / ys[-2]) / math.log(xs[-1] / xs[-2])
        # peak RSS over loopback: fresh coordinator + 2 one-thread workers (default 1 GB cache)
        big_b, big_n = banks[-1]
        log("6. peak RSS: %d templates over a coordinator + 2 loopback workers" % big_n)
        rss, d, client_rss = self.measured("rss", lambda: self.rss_run(big_b), attempts=2)
        rss["client"] = client_rss
        rss["templates"] = big_n
        rss["loopback_job_seconds"] = d["stats"]["wall_seconds"]
        # the 1000-worker simulation
        sim_args = ["--workers", "1000", "--templates", "1000000"]
        sims = []
        for _ in range(self.rounds(3, 1)):
            sd, _ = run_json(cf("bench", "sim", *sim_args))
            sims.append(sd)
        sim8 = None if self.quick else run_json(cf("bench", "sim", *sim_args,
                                                   "--chunk-size", "8"))[0]
        sim_rate = median([x["tasks_per_second"] for x in sims])
        sim_rss = max(x["peak_rss_bytes"] for x in sims)
        rows = [["chirpfarm search, embedded: %d templates" % n, fmt_s(median(pts[n])),
                 fmt_s(fit["intercept"] + fit["slope"] * n), fmt_s(median(pts[n]) / n)]
                for n in xs]
        rows2 = [["coordinator process (VmHWM), %d-template search" % big_n,
                  fmt_mb(rss["coordinator"])]]
        rows2 += [["worker %d process (VmHWM, 1 thread, 1 GB template cache)" % i, fmt_mb(w)]
                  for i, w in enumerate(rss["workers"])]
        rows2 += [["`chirpfarm search --coordinator` client process (/usr/bin/time max RSS)",
                   fmt_mb(rss["client"])],
                  ["job time of that loopback search", fmt_s(rss["loopback_job_seconds"])]]
        rows2 += [["`bench sim` 1000 workers × 10^6 templates: tasks/s (%d tasks, automatic "
                   "chunks)" % sims[0]["tasks"], fmt_rate(sim_rate)],
                  ["`bench sim` peak RSS", fmt_mb(sim_rss)]]
        if sim8:
            rows2 += [["`bench sim --chunk-size 8`: tasks/s (%d tasks)" % sim8["tasks"],
                       fmt_rate(sim8["tasks_per_second"])],
                      ["`bench sim --chunk-size 8` peak RSS", fmt_mb(sim8["peak_rss_bytes"])]]
        tg = [target("linear fit t = a + b·N: R²", fit["r2"], ">=", 0.99,
                     display="%.5f" % fit["r2"]),
              target("`bench sim` 1000 workers × 10^6 templates: peak RSS",
                     sim_rss, "<=", 200e6, display=fmt_mb(sim_rss))]
        tg[0]["target"] = "≥ 0.99"
        tg.insert(1, info("growth exponent between the two largest banks (1 = linear)", expo,
                          "%.3f" % expo))
        if sim8:
            tg.append(target("`bench sim --chunk-size 8`: peak RSS", sim8["peak_rss_bytes"],
                             "<=", 200e6, display=fmt_mb(sim8["peak_rss_bytes"])))
        self.sections.append({
            "id": "scale",
            "title": "6. Scale: bank size %s templates; peak RSS; 1000 simulated workers" %
                     " → ".join("{:,}".format(n) for n in xs),
            "description": "Embedded search (2 threads), one signal, median of %d rounds "
                           "(stats.wall_seconds). Least-squares fit t = a + b·N: a = %s, "
                           "b = %s per template, R² = %.5f; growth exponent between the two "
                           "largest banks: %.3f (1 = linear, below 1 = better than linear); time "
                           "per template %s at %d templates, %s at %d." % (
                               R, fmt_s(fit["intercept"]), fmt_s(fit["slope"]), fit["r2"],
                               expo, fmt_s(ys[0] / xs[0]), xs[0], fmt_s(ys[-1] / xs[-1]),
                               xs[-1]),
            "columns": ["bank", "time (median)", "linear fit", "per template"],
            "rows": rows,
            "extra_tables": [{"columns": ["memory / coordinator scale", "value"],
                              "rows": rows2}],
            "targets": tg,
            "raw": {"samples_seconds": {str(k): v for k, v in pts.items()}, "fit": fit,
                    "exponent_last_two": expo, "rss_bytes": rss, "sim": sims, "sim_chunk8": sim8}})
        self.plots["scale"] = {"points": [{"templates": n, "samples_seconds": pts[n],
                                           "median_seconds": median(pts[n])} for n in xs],
                               "fit": fit}

    def rss_run(self, bank):
        """A search over `bank` on a fresh coordinator + 2 one-thread loopback workers (default
        1 GB template cache); peak RSS (VmHWM) of each process, and of the client."""
        c = Cluster(2, 1)
        client_rss = None
        try:
            cmd = cf("search", "--coordinator", c.url, "--json", "--quiet", "--signal-mc",
                     "1.2", "--bank", bank)
            if os.path.exists("/usr/bin/time"):
                p = subprocess.run(["/usr/bin/time", "-f", "MAXRSS_KB=%M", *cmd],
                                   capture_output=True, text=True, timeout=600)
                if p.returncode != 0:
                    raise RuntimeError("loopback search failed: " + p.stderr[-2000:])
                d = json.loads(p.stdout)
                m = re.search(r"MAXRSS_KB=(\d+)", p.stderr)
                client_rss = int(m.group(1)) * 1024 if m else None
            else:
                d, _ = run_json(cmd)
            rss = c.vmhwm()
        finally:
            c.stop()
        return rss, d, client_rss

    def faults(self):
        log("extra: bench/fault_recovery.py")
        path = os.path.join(self.args.out_dir, ".fault_recovery.json")
        try:
            run([sys.executable, os.path.join(ROOT, "bench", "fault_recovery.py"), "--json",
                 path], timeout=600)
            with open(path) as fh:
                self.fault_results = json.load(fh)
            os.unlink(path)
        except Exception as e:
            self.skip("fault recovery", str(e)[:300])

    def main(self):
        t_start = time.time()
        os.makedirs(self.args.out_dir, exist_ok=True)
        bin_dir, bin_info = snapshot_binaries()
        try:
            self.run_all(t_start, bin_info)
        finally:
            shutil.rmtree(bin_dir, ignore_errors=True)

    def run_all(self, t_start, bin_info):
        self.v = versions(self.args.venv_python)
        self.v["binaries"] = bin_info
        for pkg in self.args.failed_packages:
            self.skip(pkg, "pip install %s failed (see bench/run.sh output); the rows that need "
                           "it are marked skipped" % pkg)
        for pkg in ("numpy", "pyfftw", "dask"):
            if not self.v.get(pkg) and pkg not in self.args.failed_packages:
                self.skip(pkg, "cannot be imported in %s" % self.args.venv_python)
        machine = machine_info()
        machine["load_average_before"] = os.getloadavg()
        self.fault_results = None
        self.quiet('per_template')
        self.per_template()
        loop2, loop1 = Cluster(2, 1, cache_mb=0), Cluster(1, 1, cache_mb=0)
        try:
            self.quiet('seed_script1')
            self.seed_script1(loop2)
            self.quiet('bank940')
            self.bank940(loop2, loop1)
        finally:
            loop2.stop()
            loop1.stop()
        self.quiet('seed_script2')
        self.script2()
        self.quiet('dispatch')
        self.dispatch()
        self.quiet('scale')
        self.scale()
        if self.args.with_faults:
            self.faults()
        machine["load_average_after"] = os.getloadavg()
        machine["other_cpu_use_before_sections"] = self.quiet_log
        date = datetime.date.today().isoformat()
        stem = date + ("-quick" if self.quick else "")
        doc = {"schema": 1, "date": date, "stem": stem,
               "mode": "quick" if self.quick else "full",
               "command": self.args.command, "started_at": iso(t_start), "finished_at":
               iso(time.time()), "elapsed_seconds": time.time() - t_start,
               "machine": machine, "versions": self.v, "skipped": self.skipped,
               "checks": self.checks, "sections": self.sections, "plots": self.plots,
               "fault_recovery": self.fault_results,
               "notes": ["Compare ratios: both sides of every ratio ran in this run on this "
                         "machine, interleaved; absolute times move with the machine's load "
                         "(load averages before/after are recorded).",
                         "Other processes' CPU use just before each section (the harness waits "
                         "up to %.0f s for it to fall under 15%%): %s." % (
                             self.args.max_wait_quiet, ", ".join(
                                 "%s %s%s" % (q["section"], "?" if q["other_cpu_busy"] is None
                                              else "%.0f%%" % (100 * q["other_cpu_busy"]),
                                              " (after %.0f s)" % q["waited_seconds"]
                                              if q["waited_seconds"] >= 2 else "")
                                 for q in self.quiet_log if "(redo)" not in q["section"])),
                         "Rounds: %d measured, %d thrown away and run again because other "
                         "processes used more than 10%% of the CPUs during them, %d kept "
                         "although they did (waiting budget used: %.0f of %.0f s); every "
                         "round's share is in the JSON (\"rounds\")." % (
                             len(self.round_log),
                             sum(1 for x in self.round_log if not x["kept"]),
                             sum(1 for x in self.round_log if x["kept"] and x["seconds"] >= 0.5
                                 and x["others_cpu_share"] > 0.10),
                             self.waited, self.args.wait_budget),
                         "Python runs: %s <venv python> ... ; %s." % (
                             " ".join(ENV_PREFIX), self.tp_note)],
               "rounds": self.round_log}
        path = os.path.join(self.args.out_dir, stem + ".json")
        with open(path, "w") as fh:
            json.dump(doc, fh, indent=1)
            fh.write("\n")
        log("wrote %s (%.0f s)" % (os.path.relpath(path, ROOT), time.time() - t_start))
        for sec in self.sections:
            for t in sec["targets"]:
                log("  %-78s %-10s target %-8s %s" % (
                    t["name"][:78], t["display"], t["target"],
                    "info" if t.get("info") else
                    {True: "met", False: "NOT met", None: "skipped"}[t["met"]]))
        print(path)


def iso(t):
    return datetime.datetime.fromtimestamp(t).astimezone().isoformat(timespec="seconds")


def div(a, b):
    return a / b if a is not None and b else None


def ratio_str(a, b, prefix=""):
    r = div(a, b)
    return "skipped" if r is None else prefix + fmt_ratio(r)


def linear_fit(xs, ys):
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    b = sxy / sxx
    a = my - b * mx
    ss_res = sum((y - (a + b * x)) ** 2 for x, y in zip(xs, ys))
    ss_tot = sum((y - my) ** 2 for y in ys)
    return {"intercept": a, "slope": b, "r2": 1 - ss_res / ss_tot if ss_tot else 1.0}


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--venv-python", default=os.path.join(ROOT, "bench", ".venv", "bin",
                                                          "python"))
    ap.add_argument("--out-dir", default=os.path.join(ROOT, "bench", "results"))
    ap.add_argument("--failed-packages", nargs="*", default=[])
    ap.add_argument("--with-faults", action="store_true")
    ap.add_argument("--wait-budget", type=float, default=None,
                    help="seconds of waiting for a quiet machine in the whole run (default 300, "
                         "30 with --quick)")
    ap.add_argument("--max-wait-quiet", type=float, default=None,
                    help="seconds to wait before each section for other processes to use < 15%% "
                         "of the CPUs (default 45, 10 with --quick)")
    ap.add_argument("--command", default="bench/run.sh")
    a = ap.parse_args()
    if a.max_wait_quiet is None:
        a.max_wait_quiet = 10.0 if a.quick else 45.0
    if a.wait_budget is None:
        a.wait_budget = 30.0 if a.quick else 300.0
    Bench(a).main()
