#!/usr/bin/env python3
"""Checks of the worker autoscaling manifests (deploy/k8s-autoscale/): structure, and that the
Prometheus queries they scale on name metrics and label values the coordinator really exports.

Used two ways:

* by check_manifests.py (static): `check(objects, adapters, problem)` checks the KEDA
  ScaledObject, the HorizontalPodAutoscaler and the prometheus-adapter rules, with the metric
  names and `state` values read from coordinator/src/metrics.rs — or, when
  CHIRPFARM_METRICS_FILE names a scrape of /metrics, from that scrape;
* `check_autoscaling.py --live [BIN_DIR]` (run by test-manifests.sh when the binaries are
  built): starts a real coordinator on 127.0.0.1 with no worker, submits a search of a known
  number of tasks, scrapes its /metrics, and checks every scaling query against it: the
  metrics and label values exist, and the query's value is the number of outstanding tasks
  (what the scaler divides by its per-worker target). The coordinator is stopped by PID.

Exit 0 when everything holds, 1 otherwise; the live mode prints "SKIP: ..." and exits 0 when
no binaries are found.
"""

import json
import math
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

DEPLOY = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(DEPLOY)

SELECTOR = re.compile(r"\b(chirpfarm_[a-z0-9_]+)\s*(?:\{([^}]*)\})?")
MATCHER = re.compile(r'\s*([a-zA-Z_]\w*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*,?')
SUM_QUERY = re.compile(r"^\s*sum\s*\(\s*(chirpfarm_[a-z0-9_]+\s*(?:\{[^}]*\})?)\s*\)\s*$")


# ------------------------------------------------------------------------------ metrics known


def parse_exposition(text):
    """Series of a /metrics scrape: [(name, {label: value}, float)]."""
    series = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)", line)
        if m:
            labels = dict(re.findall(r'([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
            series.append((m.group(1), labels, float(m.group(3))))
    return series


def known_from_source():
    """{metric: {label: values}} from coordinator/src/metrics.rs: registered names (prefix
    chirpfarm_) and the `state` values of the job and task gauges."""
    src = open(os.path.join(ROOT, "coordinator", "src", "metrics.rs")).read()
    # Registered directly (`registry.register("name", ...)`) or from a table of
    # `("name", "Help text", &metric)` rows registered in a loop.
    names = re.findall(r'registry\.register\(\s*"(\w+)"', src)
    names += re.findall(r'\(\s*"([a-z][a-z0-9_]*)",\s*"[A-Z]', src)
    known = {f"chirpfarm_{n}": {} for n in names}
    for const, metric in (("TASK_STATES", "chirpfarm_tasks"), ("JOB_STATES", "chirpfarm_jobs")):
        m = re.search(rf"pub const {const}: \[&str; \d+\] = \[([^\]]*)\]", src)
        if m and metric in known:
            known[metric]["state"] = set(re.findall(r'"(\w+)"', m.group(1)))
    return known


def known_from_scrape(series):
    known = {}
    for name, labels, _ in series:
        entry = known.setdefault(name, {})
        for k, v in labels.items():
            entry.setdefault(k, set()).add(v)
    return known


def query_problems(query, known):
    """Why `query` does not select what the coordinator exports (empty if it does)."""
    bad = []
    selectors = SELECTOR.findall(query)
    if not selectors:
        return [f"query {query!r} names no chirpfarm_ metric"]
    for name, body in selectors:
        if name not in known:
            bad.append(f"query {query!r}: the coordinator exports no metric {name}")
            continue
        for label, op, value in MATCHER.findall(body or ""):
            if label not in known[name]:
                bad.append(f"query {query!r}: {name} has no label {label}")
                continue
            values = known[name][label]
            if op == "=" and value not in values:
                bad.append(f"query {query!r}: {name}{{{label}}} is never {value!r} (it is one of {sorted(values)})")
            if op == "=~":
                if re.fullmatch(r"[\w|]+", value):  # a list of alternatives: each must exist
                    for alt in value.split("|"):
                        if alt not in values:
                            bad.append(f"query {query!r}: {name}{{{label}}} is never {alt!r} (it is one of {sorted(values)})")
                elif not any(re.fullmatch(value, v) for v in values):
                    bad.append(f"query {query!r}: {label}=~{value!r} matches none of {sorted(values)}")
    return bad


def evaluate(query, series):
    """The value of a `sum(selector)` query over scraped series."""
    m = SUM_QUERY.match(query)
    if not m:
        raise ValueError(f"query {query!r} is not of the form sum(chirpfarm_...{{...}})")
    name, body = SELECTOR.match(m.group(1)).groups()
    matchers = MATCHER.findall(body or "")

    def matches(labels):
        for label, op, value in matchers:
            v = labels.get(label, "")
            ok = {"=": v == value, "!=": v != value, "=~": re.fullmatch(value, v) is not None,
                  "!~": re.fullmatch(value, v) is None}[op]
            if not ok:
                return False
        return True

    return sum(val for n, labels, val in series if n == name and matches(labels))


# --------------------------------------------------------------------------- manifests, static


def scaling_queries(objects, adapters):
    """[(where, query, target per worker or None)] from ScaledObjects and adapter rules."""
    out = []
    for path, doc in objects:
        if doc.get("kind") == "ScaledObject":
            for t in (doc.get("spec") or {}).get("triggers") or []:
                if t.get("type") == "prometheus":
                    md = t.get("metadata") or {}
                    out.append((path, md.get("query") or "", md.get("threshold")))
    for path, values in adapters:
        for rule in ((values.get("rules") or {}).get("external") or []):
            out.append((path, rule.get("metricsQuery") or "", None))
    return out


def quantity(v):
    """A Kubernetes quantity or KEDA threshold as a float ("4", "500m", 2)."""
    s = str(v).strip()
    return float(s[:-1]) / 1000 if s.endswith("m") else float(s)


def check(objects, adapters, problem, known=None, known_source="coordinator/src/metrics.rs"):
    """Static checks; `objects` are (path, doc) of every Kubernetes object under deploy/."""
    if known is None:
        scrape = os.environ.get("CHIRPFARM_METRICS_FILE")
        if scrape:
            known, known_source = known_from_scrape(parse_exposition(open(scrape).read())), scrape
        else:
            known = known_from_source()
    deployments = {d["metadata"]["name"]: (p, d) for p, d in objects
                   if d.get("kind") == "Deployment" and (d.get("metadata") or {}).get("name")}

    def worker_target(path, what, ref):
        name = (ref or {}).get("name")
        if (ref or {}).get("kind") != "Deployment" or name not in deployments:
            problem(path, f"{what}: scaleTargetRef {ref} is not a Deployment in the manifests")
            return
        spec = (deployments[name][1].get("spec") or {}).get("template", {}).get("spec") or {}
        cmds = [c.get("command") or [] for c in spec.get("containers") or []]
        if not any(c and c[0] == "chirpfarm-worker" for c in cmds):
            problem(path, f"{what}: Deployment {name} does not run chirpfarm-worker")
        if any("--idle-timeout" in str(a) for c in cmds for a in c):
            problem(path, f"{what}: the scaled workers have --idle-timeout (a Deployment restarts pods that exit)")
        if int(spec.get("terminationGracePeriodSeconds", 30)) < 35:
            problem(path, f"{what}: Deployment {name} gives less than 35 s to drain on scale-down (workers take up to 30 s)")

    external_names = set()
    for path, values in adapters:
        for rule in ((values.get("rules") or {}).get("external") or []):
            name = (rule.get("name") or {}).get("as")
            if not name:
                problem(path, "prometheus-adapter external rule without name.as")
            external_names.add(name)
            if not rule.get("seriesQuery") or not rule.get("metricsQuery"):
                problem(path, f"external rule {name}: needs seriesQuery and metricsQuery")
            for p in query_problems(rule.get("seriesQuery") or "", known):
                problem(path, f"seriesQuery: {p}")
    n_scalers = 0
    for path, doc in objects:
        kind, name = doc.get("kind"), (doc.get("metadata") or {}).get("name")
        spec = doc.get("spec") or {}
        if kind == "ScaledObject":
            n_scalers += 1
            if doc.get("apiVersion") != "keda.sh/v1alpha1":
                problem(path, f"ScaledObject {name}: apiVersion {doc.get('apiVersion')}, expected keda.sh/v1alpha1")
            worker_target(path, f"ScaledObject {name}", spec.get("scaleTargetRef"))
            lo, hi = spec.get("minReplicaCount", 0), spec.get("maxReplicaCount", 100)
            if not (isinstance(lo, int) and isinstance(hi, int) and 0 <= lo <= hi and hi >= 1):
                problem(path, f"ScaledObject {name}: replica range {lo}..{hi}")
            triggers = spec.get("triggers") or []
            if not any(t.get("type") == "prometheus" for t in triggers):
                problem(path, f"ScaledObject {name}: no prometheus trigger")
            for t in triggers:
                md = t.get("metadata") or {}
                if t.get("type") == "prometheus":
                    if not re.match(r"https?://[^/\s]+", str(md.get("serverAddress", ""))):
                        problem(path, f"ScaledObject {name}: serverAddress {md.get('serverAddress')!r} is not a URL")
                    try:
                        if quantity(md.get("threshold")) <= 0:
                            raise ValueError
                    except (TypeError, ValueError):
                        problem(path, f"ScaledObject {name}: threshold {md.get('threshold')!r} is not a number > 0")
        elif kind == "HorizontalPodAutoscaler":
            n_scalers += 1
            if doc.get("apiVersion") != "autoscaling/v2":
                problem(path, f"HPA {name}: apiVersion {doc.get('apiVersion')}, expected autoscaling/v2")
            worker_target(path, f"HPA {name}", spec.get("scaleTargetRef"))
            lo, hi = spec.get("minReplicas", 1), spec.get("maxReplicas")
            if not (isinstance(lo, int) and isinstance(hi, int) and 1 <= lo <= hi):
                problem(path, f"HPA {name}: replica range {lo}..{hi}")
            metrics = spec.get("metrics") or []
            if not metrics:
                problem(path, f"HPA {name}: no metrics")
            for m in metrics:
                ext = m.get("external") or {}
                mname = (ext.get("metric") or {}).get("name")
                if m.get("type") != "External" or not mname:
                    problem(path, f"HPA {name}: metric {m} is not an External metric")
                    continue
                if mname not in external_names:
                    problem(path, f"HPA {name}: external metric {mname} is served by no prometheus-adapter rule here")
                target = ext.get("target") or {}
                try:
                    if target.get("type") != "AverageValue" or quantity(target.get("averageValue")) <= 0:
                        raise ValueError
                except (TypeError, ValueError):
                    problem(path, f"HPA {name}: target {target} is not an AverageValue > 0 (tasks per worker)")
    if n_scalers == 0:
        problem(DEPLOY, "no worker autoscaler (ScaledObject or HorizontalPodAutoscaler) found")
    queries = scaling_queries(objects, adapters)
    for path, query, _ in queries:
        if not SUM_QUERY.match(query):
            problem(path, f"query {query!r} is not of the form sum(chirpfarm_...{{...}})")
        for p in query_problems(query, known):
            problem(path, f"{p} (checked against {known_source})")
    return queries


# ---------------------------------------------------------------------------------------- live


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def live(bin_dir):
    """Runs a coordinator, makes a backlog, scrapes it and checks the queries against it."""
    sys.path.insert(0, DEPLOY)
    import check_manifests  # noqa: E402 (PyYAML, loaded only here)

    coord, cli = os.path.join(bin_dir, "chirpfarm-coordinator"), os.path.join(bin_dir, "chirpfarm")
    grpc, http = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen([coord, "--listen", grpc, "--http", http], stdout=subprocess.DEVNULL, stderr=log)
    try:
        deadline = time.time() + 20
        while True:
            try:
                urllib.request.urlopen(f"http://{http}/metrics", timeout=2).read()
                break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    log.seek(0)
                    print(f"FAILED: the coordinator did not serve /metrics on {http}:\n{log.read().decode()}")
                    return 1
                time.sleep(0.1)
        url = f"http://{grpc}"
        # 94 templates in tasks of 10: 10 tasks, and no worker to take them.
        job = subprocess.run([cli, "submit", "--bank", "0.8:1.74:0.01", "--signal-mc", "1.2",
                              "--chunk-size", "10", "--coordinator", url],
                             capture_output=True, text=True, check=True).stdout.strip()
        jobs = json.loads(subprocess.run([cli, "jobs", "--json", "--coordinator", url],
                                         capture_output=True, text=True, check=True).stdout)
        tasks = next(j["tasks_total"] for j in jobs if j["job_id"] == job)
        text = urllib.request.urlopen(f"http://{http}/metrics", timeout=5).read().decode()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    series = parse_exposition(text)
    known = known_from_scrape(series)
    objects, adapters = [], []
    for d, _, files in os.walk(os.path.join(DEPLOY, "k8s-autoscale")):
        for f in sorted(files):
            p = os.path.join(d, f)
            for doc in check_manifests.load_all(p):
                if isinstance(doc, dict) and "rules" in doc:
                    adapters.append((p, doc))
                elif isinstance(doc, dict) and doc.get("kind") and doc.get("kind") != "Kustomization":
                    objects.append((p, doc))
    # The worker Deployment lives in deploy/k8s.
    for f in sorted(os.listdir(os.path.join(DEPLOY, "k8s"))):
        for doc in check_manifests.load_all(os.path.join(DEPLOY, "k8s", f)):
            if isinstance(doc, dict) and doc.get("kind") == "Deployment":
                objects.append((os.path.join(DEPLOY, "k8s", f), doc))
    problems = []
    queries = check(objects, adapters, lambda p, m: problems.append(f"{os.path.relpath(p, DEPLOY)}: {m}"),
                    known, "a live coordinator's /metrics")
    for path, query, threshold in queries:
        try:
            value = evaluate(query, series)
        except ValueError as e:
            problems.append(str(e))
            continue
        where = os.path.relpath(path, DEPLOY)
        if value != tasks:
            problems.append(f"{where}: {query} = {value} with {tasks} tasks waiting, expected {tasks}")
        else:
            per = f", {math.ceil(value / quantity(threshold))} worker(s) at {threshold} per worker" if threshold else ""
            print(f"ok: {where}: {query} = {value:g} with a {tasks}-task job waiting{per}")
    for p in problems:
        print(f"PROBLEM {p}")
    print(f"live autoscaling check: {len(queries)} quer(ies), {len(problems)} problem(s)")
    return 1 if problems else 0


def main():
    if sys.argv[1:2] != ["--live"]:
        print(__doc__.strip().splitlines()[0])
        print("usage: check_autoscaling.py --live [BIN_DIR]   (static checks run from check_manifests.py)")
        return 2
    dirs = sys.argv[2:3] or [os.environ.get("CHIRPFARM_BIN_DIR", "")] + [
        os.path.join(ROOT, "target", p) for p in ("debug", "release")]
    for d in dirs:
        if d and all(os.access(os.path.join(d, b), os.X_OK) for b in ("chirpfarm-coordinator", "chirpfarm")):
            print(f"live autoscaling check with {d}/chirpfarm-coordinator")
            return live(d)
    print("SKIP: live autoscaling check: no chirpfarm-coordinator and chirpfarm binaries "
          "(cargo build --bins, or CHIRPFARM_BIN_DIR)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
