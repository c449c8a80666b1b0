#!/usr/bin/env python3
"""Static checks of every YAML file under deploy/ (Kubernetes manifests, kustomizations,
the worker autoscalers and prometheus-adapter rules, docker-compose) and of the systemd units.
Run by deploy/test-manifests.sh; needs PyYAML. The autoscaling checks live in
check_autoscaling.py.

Prints one line per problem and exits 1 if there is any.
"""

import os
import re
import sys

import yaml

import check_autoscaling

DEPLOY = os.path.dirname(os.path.abspath(__file__))
problems = []
checked = []

WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet"}


def problem(where, msg):
    problems.append(f"{os.path.relpath(where, DEPLOY)}: {msg}")


def interpolate(value):
    """Compose-style ${VAR:-default} / ${VAR-default} / ${VAR} with the defaults (not the env)."""
    if not isinstance(value, str):
        return value

    def sub(m):
        op, rest = m.group(2), m.group(3)
        return rest if op in (":-", "-") else ""

    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}", sub, value)


def load_all(path):
    try:
        with open(path) as f:
            return [d for d in yaml.safe_load_all(f) if d is not None]
    except yaml.YAMLError as e:
        problem(path, f"not valid YAML: {e}")
        return []


def flag_value(args, flag):
    """The value of --flag=V or --flag V in an argument list."""
    for i, a in enumerate(args):
        a = str(a)
        if a.startswith(flag + "="):
            return a.split("=", 1)[1]
        if a == flag and i + 1 < len(args):
            return str(args[i + 1])
    return None


# ---------------------------------------------------------------------------------- Kubernetes


def check_k8s(docs_by_file):
    objects = []  # (path, doc)
    for path, docs in docs_by_file.items():
        for doc in docs:
            if not isinstance(doc, dict):
                problem(path, "a document is not a mapping")
                continue
            for key in ("apiVersion", "kind"):
                if not doc.get(key):
                    problem(path, f"missing {key}")
            name = (doc.get("metadata") or {}).get("name")
            if doc.get("kind") != "Kustomization" and not name:
                problem(path, f"{doc.get('kind')}: missing metadata.name")
            objects.append((path, doc))

    def named(kind):
        return {d["metadata"]["name"]: (p, d) for p, d in objects if d.get("kind") == kind and (d.get("metadata") or {}).get("name")}

    secrets, services = named("Secret"), named("Service")
    workloads = [(p, d) for p, d in objects if d.get("kind") in WORKLOAD_KINDS]
    if not workloads:
        problem(os.path.join(DEPLOY, "k8s"), "no workload (Deployment/StatefulSet) found")
    secret_refs = {}  # workload name -> set of secret names
    pods = []  # (workload path, name, labels, containers)

    for path, w in workloads:
        wname, kind = w["metadata"]["name"], w["kind"]
        spec = w.get("spec") or {}
        tmpl = spec.get("template") or {}
        labels = (tmpl.get("metadata") or {}).get("labels") or {}
        match = (spec.get("selector") or {}).get("matchLabels") or {}
        if not match:
            problem(path, f"{kind} {wname}: no spec.selector.matchLabels")
        for k, v in match.items():
            if labels.get(k) != v:
                problem(path, f"{kind} {wname}: selector {k}={v} does not match the pod template labels")
        pspec = tmpl.get("spec") or {}
        containers = pspec.get("containers") or []
        if not containers:
            problem(path, f"{kind} {wname}: no containers")
        volumes = {v.get("name"): v for v in pspec.get("volumes") or []}
        claim_names = set()
        if kind == "StatefulSet":
            if spec.get("replicas", 1) != 1:
                problem(path, f"StatefulSet {wname}: the coordinator must have exactly 1 replica")
            sname = spec.get("serviceName")
            if not sname or sname not in services:
                problem(path, f"StatefulSet {wname}: serviceName {sname!r} is not a Service in the manifests")
            vcts = spec.get("volumeClaimTemplates") or []
            if not vcts:
                problem(path, f"StatefulSet {wname}: no volumeClaimTemplates (the data dir needs a PVC)")
            for vct in vcts:
                cname = (vct.get("metadata") or {}).get("name")
                claim_names.add(cname)
                vspec = vct.get("spec") or {}
                if not vspec.get("accessModes"):
                    problem(path, f"StatefulSet {wname}: claim {cname} has no accessModes")
                if not ((vspec.get("resources") or {}).get("requests") or {}).get("storage"):
                    problem(path, f"StatefulSet {wname}: claim {cname} requests no storage")
        refs = set()
        for vname, v in volumes.items():
            sec = v.get("secret")
            if sec is not None:
                sname = sec.get("secretName")
                refs.add(sname)
                if sname not in secrets:
                    problem(path, f"{kind} {wname}: volume {vname} uses Secret {sname!r}, not in the manifests")
        mounted = set()
        for c in containers:
            cname = c.get("name")
            where = f"{kind} {wname} container {cname}"
            if not cname:
                problem(path, f"{kind} {wname}: a container has no name")
            if not c.get("image"):
                problem(path, f"{where}: no image")
            cmd = c.get("command")
            if not cmd or not isinstance(cmd, list):
                problem(path, f"{where}: no command (the image has no entrypoint)")
                cmd = []
            elif not str(cmd[0]).startswith("chirpfarm"):
                problem(path, f"{where}: command {cmd[0]!r} is not a chirpfarm binary")
            for env in c.get("env") or []:
                ref = ((env.get("valueFrom") or {}).get("secretKeyRef") or {}).get("name")
                if ref:
                    refs.add(ref)
                    if ref not in secrets:
                        problem(path, f"{where}: env {env.get('name')} uses Secret {ref!r}, not in the manifests")
            mounts = {}
            for m in c.get("volumeMounts") or []:
                mname = m.get("name")
                mounted.add(mname)
                mounts[m.get("mountPath")] = mname
                if mname not in volumes and mname not in claim_names:
                    problem(path, f"{where}: volumeMount {mname} has no volume or claim template")
            # --token-file must point into a mounted Secret.
            token = flag_value(cmd + (c.get("args") or []), "--token-file")
            if token is None:
                problem(path, f"{where}: no --token-file (the coordinator's token)")
            else:
                mount = next((mp for mp in mounts if token.startswith(mp.rstrip("/") + "/")), None)
                vol = volumes.get(mounts.get(mount)) if mount else None
                if not vol or "secret" not in vol:
                    problem(path, f"{where}: --token-file {token} is not inside a mounted Secret")
                else:
                    key = token[len(mount.rstrip("/")) + 1:]
                    sdef = secrets.get(vol["secret"].get("secretName"))
                    if sdef:
                        keys = set((sdef[1].get("stringData") or {}).keys()) | set((sdef[1].get("data") or {}).keys())
                        if key not in keys:
                            problem(path, f"{where}: --token-file {token}: Secret has no key {key!r}")
            for probe_name in ("readinessProbe", "livenessProbe"):
                probe = c.get(probe_name)
                if probe and "exec" in probe:
                    pcmd = probe["exec"].get("command") or []
                    if not pcmd or not str(pcmd[0]).startswith("chirpfarm"):
                        problem(path, f"{where}: {probe_name} does not exec a chirpfarm binary")
            data_dir = flag_value(cmd, "--data-dir")
            if data_dir and not any(data_dir == mp or data_dir.startswith(mp.rstrip("/") + "/") for mp in mounts):
                problem(path, f"{where}: --data-dir {data_dir} is not on a mounted volume")
            if kind == "StatefulSet":
                for cname_ in claim_names:
                    if cname_ not in mounts.values():
                        problem(path, f"{where}: claim template {cname_} is not mounted")
                if "/var/lib/chirpfarm" not in mounts:
                    problem(path, f"{where}: nothing mounted at /var/lib/chirpfarm (the data dir)")
                if not c.get("readinessProbe") or not c.get("livenessProbe"):
                    problem(path, f"{where}: needs readinessProbe and livenessProbe")
        for vname in volumes:
            if vname not in mounted:
                problem(path, f"{kind} {wname}: volume {vname} is never mounted")
        secret_refs[wname] = refs
        pods.append((path, wname, labels, containers))

    # The token Secret is shared by every workload.
    if secret_refs:
        common = set.intersection(*secret_refs.values())
        if not common:
            problem(os.path.join(DEPLOY, "k8s"), f"no Secret is referenced by every workload: {secret_refs}")

    # Services select a workload and their ports land on container ports.
    for sname, (path, svc) in services.items():
        spec = svc.get("spec") or {}
        sel = spec.get("selector") or {}
        if not sel:
            problem(path, f"Service {sname}: no selector")
        targets = [p for p in pods if all(p[2].get(k) == v for k, v in sel.items())]
        if not targets:
            problem(path, f"Service {sname}: selector {sel} matches no pod template")
        if spec.get("type", "ClusterIP") != "ClusterIP":
            problem(path, f"Service {sname}: type {spec.get('type')}, expected ClusterIP")
        for port in spec.get("ports") or []:
            tp = port.get("targetPort", port.get("port"))
            for _, wname, _, containers in targets:
                cports = [cp for c in containers for cp in c.get("ports") or []]
                hit = [cp for cp in cports if cp.get("containerPort") == tp or (isinstance(tp, str) and cp.get("name") == tp)]
                if not hit:
                    problem(path, f"Service {sname}: targetPort {tp!r} is no container port of {wname}")
                for cp in hit:
                    if cp.get("containerPort") != port.get("port"):
                        problem(path, f"Service {sname}: port {port.get('port')} != container port {cp.get('containerPort')} of {wname}")
                    # The coordinator must listen on that port.
                    for c in containers:
                        listen = flag_value(c.get("command") or [], "--listen")
                        if listen and not listen.endswith(f":{cp.get('containerPort')}"):
                            problem(path, f"Service {sname}: {wname} listens on {listen}, not port {cp.get('containerPort')}")
    # Workers point at a Service, on one of its ports.
    for path, wname, labels, containers in pods:
        for c in containers:
            url = flag_value(c.get("command") or [], "--coordinator")
            if url and str(c.get("command", [""])[0]) == "chirpfarm-worker":
                m = re.match(r"https?://([^:/]+)(?::(\d+))?", url)
                host, port = (m.group(1), int(m.group(2) or 80)) if m else (None, None)
                svc = services.get(host.split(".")[0]) if host else None
                if not svc:
                    problem(path, f"{wname}: --coordinator {url} does not name a Service in the manifests")
                elif port not in [p.get("port") for p in (svc[1].get("spec") or {}).get("ports") or []]:
                    problem(path, f"{wname}: --coordinator {url}: Service {host} has no port {port}")


def check_kustomization(path, doc, k8s_files):
    for key in ("apiVersion", "kind"):
        if not doc.get(key):
            problem(path, f"missing {key}")
    listed = doc.get("resources") or []
    base = os.path.dirname(path)
    for r in listed:
        if not os.path.exists(os.path.join(base, r)):
            problem(path, f"resource {r} does not exist")
    for f in k8s_files:
        if os.path.dirname(f) == base and os.path.basename(f) not in listed:
            problem(path, f"{os.path.basename(f)} is not listed in resources")


# -------------------------------------------------------------------------------------- compose


def check_compose(path, doc):
    services = doc.get("services") or {}
    for name in ("coordinator", "worker", "client"):
        if name not in services:
            problem(path, f"no service {name}")
    secrets = doc.get("secrets") or {}
    networks = doc.get("networks") or {}
    volumes = doc.get("volumes") or {}
    for name, svc in services.items():
        where = f"service {name}"
        if not svc.get("image"):
            problem(path, f"{where}: no image")
        if not svc.get("command") and not svc.get("entrypoint"):
            problem(path, f"{where}: no command or entrypoint (the image has no entrypoint)")
        if svc.get("init") is not True:
            problem(path, f"{where}: init: true is missing (SIGTERM handling)")
        for s in svc.get("secrets") or []:
            sname = s if isinstance(s, str) else s.get("source")
            if sname not in secrets:
                problem(path, f"{where}: secret {sname} is not defined")
        for n in svc.get("networks") or []:
            if n not in networks:
                problem(path, f"{where}: network {n} is not defined")
        for v in svc.get("volumes") or []:
            src = v.split(":", 1)[0] if isinstance(v, str) else v.get("source")
            if src and not src.startswith((".", "/", "$")) and src not in volumes:
                problem(path, f"{where}: volume {src} is not defined")
        args = [interpolate(a) for a in (svc.get("command") or [])] if isinstance(svc.get("command"), list) else []
        token = flag_value(args, "--token-file") or (svc.get("environment") or {}).get("CHIRPFARM_TOKEN_FILE")
        if not token:
            problem(path, f"{where}: no token file (--token-file or CHIRPFARM_TOKEN_FILE)")
        elif not any(token == f"/run/secrets/{s if isinstance(s, str) else s.get('target', s.get('source'))}" for s in svc.get("secrets") or []):
            problem(path, f"{where}: token file {token} is not one of its secrets")
    coord = services.get("coordinator") or {}
    cargs = [interpolate(a) for a in coord.get("command") or []]
    listen = flag_value(cargs, "--listen") or ""
    if not listen.startswith("0.0.0.0:"):
        problem(path, f"coordinator: --listen {listen!r} is not reachable from the other containers")
    cport = listen.rsplit(":", 1)[-1]
    for p in coord.get("ports") or []:
        spec = interpolate(p if isinstance(p, str) else f"{p.get('host_ip', '')}:{p.get('published', '')}:{p.get('target')}")
        if not spec.startswith("127.0.0.1:"):
            problem(path, f"coordinator: port {p!r} is not bound to 127.0.0.1 by default")
        if spec.split("/")[0].rsplit(":", 1)[-1] != cport:
            problem(path, f"coordinator: published port {p!r} does not target the listen port {cport}")
    hc = (coord.get("healthcheck") or {}).get("test") or []
    if not (isinstance(hc, list) and hc[:1] == ["CMD"] and len(hc) > 1 and str(hc[1]).startswith("chirpfarm")):
        problem(path, "coordinator: healthcheck must exec the image's own chirpfarm binary (CMD form)")
    if not any(":/var/lib/chirpfarm" in str(v) for v in coord.get("volumes") or []):
        problem(path, "coordinator: no volume at /var/lib/chirpfarm")
    data_dir = flag_value(cargs, "--data-dir")
    if data_dir and not any(f":{data_dir}" in str(v) for v in coord.get("volumes") or []):
        problem(path, f"coordinator: --data-dir {data_dir} is not a mounted volume")
    worker = services.get("worker") or {}
    if "container_name" in worker:
        problem(path, "worker: container_name prevents --scale")
    if (worker.get("restart") or "") != "unless-stopped":
        problem(path, "worker: restart should be unless-stopped")
    url = flag_value([interpolate(a) for a in worker.get("command") or []], "--coordinator") or ""
    m = re.match(r"https?://([^:/]+):(\d+)", url)
    if not m or m.group(1) not in services or m.group(2) != cport:
        problem(path, f"worker: --coordinator {url!r} is not the coordinator service's port {cport}")
    client = services.get("client") or {}
    if not client.get("profiles") and client.get("scale") != 0:
        problem(path, "client: needs a profile (or scale: 0) so that `up` does not start it")
    if not client.get("entrypoint"):
        problem(path, "client: needs entrypoint [chirpfarm] so `run --rm client search ...` works")
    if not any((n or {}).get("internal") for n in networks.values()):
        problem(path, "no internal network")
    for sname, s in secrets.items():
        f = interpolate((s or {}).get("file", ""))
        if not f:
            problem(path, f"secret {sname}: no file")
        elif not os.path.isabs(f) and not os.path.exists(os.path.join(os.path.dirname(path), f)):
            problem(path, f"secret {sname}: default file {f} does not exist")


# -------------------------------------------------------------------------------------- systemd


def check_systemd():
    sysd = os.path.join(DEPLOY, "systemd")
    required = {
        "Restart": "on-failure",
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "EnvironmentFile": "/etc/chirpfarm/chirpfarm.env",
    }
    units = sorted(f for f in os.listdir(sysd) if f.endswith(".service"))
    if set(units) != {"chirpfarm-coordinator.service", "chirpfarm-worker@.service"}:
        problem(sysd, f"unexpected units {units}")
    for u in units:
        path = os.path.join(sysd, u)
        keys = {}
        for line in open(path):
            line = line.strip()
            if line and not line.startswith(("#", ";", "[")) and "=" in line:
                k, v = line.split("=", 1)
                keys.setdefault(k.strip(), []).append(v.strip())
        for k, v in required.items():
            if v not in keys.get(k, []):
                problem(path, f"{k}={v} missing")
        if not keys.get("User") or keys["User"] == ["root"]:
            if keys.get("DynamicUser") != ["yes"]:
                problem(path, "no unprivileged User= (or DynamicUser=yes)")
        exec_start = (keys.get("ExecStart") or [""])[0]
        if "chirpfarm-" not in exec_start:
            problem(path, f"ExecStart {exec_start!r} does not run a chirpfarm binary")
        if u.startswith("chirpfarm-coordinator") and "chirpfarm" not in keys.get("StateDirectory", []):
            problem(path, "StateDirectory=chirpfarm missing (the writable /var/lib/chirpfarm)")
    env_example = os.path.join(sysd, "chirpfarm.env.example")
    text = open(env_example).read() if os.path.exists(env_example) else ""
    for var in ("CHIRPFARM_COORDINATOR", "CHIRPFARM_TOKEN_FILE"):
        if not re.search(rf"^{var}=", text, re.M):
            problem(env_example, f"{var} is not set")
    checked.append("systemd units (keys)")


def main():
    yaml_files = []
    for d, _, files in os.walk(DEPLOY):
        for f in files:
            if f.endswith((".yml", ".yaml")):
                yaml_files.append(os.path.join(d, f))
    yaml_files.sort()
    k8s_docs, kustomizations, composes, adapters = {}, [], [], []
    for path in yaml_files:
        docs = load_all(path)
        if not docs:
            problem(path, "empty")
            continue
        first = docs[0]
        if isinstance(first, dict) and first.get("kind") == "Kustomization":
            kustomizations.append((path, first))
        elif isinstance(first, dict) and "services" in first:
            composes.append((path, first))
        elif isinstance(first, dict) and "rules" in first and "prometheus" in first:
            adapters.append((path, first))  # prometheus-adapter Helm values
        elif isinstance(first, dict) and "apiVersion" in first:
            k8s_docs[path] = docs
        else:
            problem(path, "neither a Kubernetes manifest, a kustomization nor a compose file")
        checked.append(os.path.relpath(path, DEPLOY))
    check_k8s(k8s_docs)
    objects = [(p, d) for p, docs in k8s_docs.items() for d in docs if isinstance(d, dict)]
    check_autoscaling.check(objects, adapters, problem)
    for path, doc in kustomizations:
        check_kustomization(path, doc, list(k8s_docs))
    if not kustomizations:
        problem(DEPLOY, "no kustomization.yaml")
    for path, doc in composes:
        check_compose(path, doc)
    if not composes:
        problem(DEPLOY, "no docker-compose file")
    check_systemd()
    print(f"checked: {', '.join(checked)}")
    for p in problems:
        print(f"PROBLEM {p}")
    print(f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
