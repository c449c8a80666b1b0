#!/usr/bin/env bash
# Static checks of the deployment files, no cluster needed:
#   * deploy/check_manifests.py (PyYAML): every YAML file under deploy/ parses; Kubernetes
#     objects have apiVersion/kind/metadata.name, containers an image and a command, the token
#     Secret exists and is mounted by the coordinator and the workers (and --token-file points
#     into it), the StatefulSet has its PVC template mounted at /var/lib/chirpfarm, the Service
#     port is the container port the coordinator listens on, the kustomization lists every file;
#     the compose file's services, secrets, networks, ports (127.0.0.1), healthcheck, init and
#     profiles; the systemd units' required hardening keys; the worker autoscalers under
#     k8s-autoscale/ (deploy/check_autoscaling.py: KEDA ScaledObject, HPA and prometheus-adapter
#     rules target the worker Deployment, and their queries name metrics and label values the
#     coordinator exports);
#   * deploy/check_autoscaling.py --live: a real coordinator on 127.0.0.1 with a backlog of
#     tasks, its /metrics scraped, each scaling query evaluated against it (SKIP without built
#     binaries: cargo build --bins);
#   * deploy/htcondor/test-submit.sh: the HTCondor submit description, parsed and expanded by
#     the HTCondor Python bindings (SKIP where they cannot be installed);
#   * when the tools are installed: `docker-compose config -q`, `systemd-analyze verify` on the
#     units, `kubectl kustomize` of deploy/k8s and each autoscaling overlay,
#     `kubernetes-validate --strict` on the manifests, shellcheck on the scripts.
# Exit 1 on any problem; "SKIP: ..." and exit 0 when PyYAML can be neither imported nor
# installed.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/chirpfarm-manifests.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

passed=0
failed=0
skipped=0
check() { # NAME COMMAND...
    local name="$1"
    shift
    echo "== $name"
    if "$@"; then
        passed=$((passed + 1))
    else
        echo "FAILED: $name"
        failed=$((failed + 1))
    fi
}
skip() { echo "== $1: skipped ($2)"; skipped=$((skipped + 1)); }

command -v python3 >/dev/null 2>&1 || { echo "SKIP: python3 not available"; exit 0; }
python=python3
if ! python3 -c 'import yaml' >/dev/null 2>&1; then
    # A private virtual environment: nothing is installed into the system's Python.
    if python3 -m venv "$tmp/venv" >/dev/null 2>&1 &&
        "$tmp/venv/bin/python" -m pip install --quiet --disable-pip-version-check pyyaml >/dev/null 2>&1; then
        python="$tmp/venv/bin/python"
    elif python3 -m pip install --quiet --user --disable-pip-version-check pyyaml >/dev/null 2>&1 &&
        python3 -c 'import yaml' >/dev/null 2>&1; then
        python=python3
    else
        echo "SKIP: PyYAML is not installed and could not be installed (pip install pyyaml)"
        exit 0
    fi
fi

check "YAML structure (check_manifests.py)" "$python" "$here/check_manifests.py"
check "autoscaling queries against a live coordinator" "$python" "$here/check_autoscaling.py" --live
check "HTCondor submit description (htcondor/test-submit.sh)" bash "$here/htcondor/test-submit.sh"

if command -v kubectl >/dev/null 2>&1; then
    kustomize_all() {
        local d
        for d in "$here/k8s" "$here"/k8s-autoscale/*/; do
            kubectl kustomize "$d" >/dev/null || { echo "kubectl kustomize $d failed"; return 1; }
        done
    }
    check "kubectl kustomize (base and autoscaling overlays)" kustomize_all
else
    skip "kubectl kustomize" "kubectl not installed"
fi

if command -v docker-compose >/dev/null 2>&1; then
    check "docker-compose config" docker-compose -f "$here/docker-compose.yml" config -q
elif docker compose version >/dev/null 2>&1; then
    check "docker compose config" docker compose -f "$here/docker-compose.yml" config -q
else
    skip "docker-compose config" "docker-compose not installed"
fi

if command -v systemd-analyze >/dev/null 2>&1; then
    # verify wants ExecStart's binary to exist: check copies that run /bin/true instead, and an
    # instance of the worker template.
    for unit in "$here"/systemd/*.service; do
        sed 's#/usr/local/bin/chirpfarm-[a-z]*#/bin/true#' "$unit" >"$tmp/$(basename "$unit")"
    done
    cp "$tmp/chirpfarm-worker@.service" "$tmp/chirpfarm-worker@ci.service"
    check "systemd-analyze verify" systemd-analyze verify --man=no \
        "$tmp/chirpfarm-coordinator.service" "$tmp/chirpfarm-worker@ci.service"
else
    skip "systemd-analyze verify" "systemd-analyze not installed"
fi

if command -v kubernetes-validate >/dev/null 2>&1; then
    k8s_files=()
    for f in "$here"/k8s/*.yaml; do
        [ "$(basename "$f")" = kustomization.yaml ] || k8s_files+=("$f")
    done
    k8s_files+=("$here/k8s-autoscale/hpa/worker-hpa.yaml") # the ScaledObject is a CRD: no schema
    check "kubernetes-validate --strict" kubernetes-validate --strict --quiet "${k8s_files[@]}"
else
    skip "kubernetes-validate" "not installed (pip install kubernetes-validate)"
fi

syntax_ok() {
    local f
    for f in "$@"; do bash -n "$f" || return 1; done
}
scripts=("$here"/*.sh "$here"/htcondor/*.sh "$here"/slurm/workers.sbatch)
check "bash -n" syntax_ok "${scripts[@]}"
if command -v shellcheck >/dev/null 2>&1; then
    check "shellcheck" shellcheck --severity=warning "${scripts[@]}"
else
    skip "shellcheck" "not installed"
fi

echo "manifests: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
