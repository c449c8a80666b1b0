#!/usr/bin/env python3
"""Checks deploy/htcondor/workers.sub with the HTCondor Python bindings, without any daemon.

    check_submit.py [SUBMIT_FILE]      # default: workers.sub next to this script

The bindings parse the submit description as condor_submit does (settings given on the
command line first, then the file: if/endif, error statements, macros with defaults) and
expand every command; the policy expressions are evaluated as ClassAds against made-up job
states. The checks: the settings that must be given are refused when missing; the static
binary is the executable and travels with the job; only the token file is transferred and its
name reaches the worker in the environment (the token itself never appears in the job's ad);
the worker's flags and environment variables exist (`chirpfarm-worker --help`, when a binary is
found: CHIRPFARM_WORKER_BIN, target/debug, target/release); the slot request; exit code 0 is
success, 2 and 3 are not retried, crashes are; held jobs are released (except condor_hold);
SIGTERM with time to drain; the queue count follows `workers`; +SingularityImage only with
`image`.

Then it checks itself: each of a set of deliberately broken copies of the file must be
reported, or the check could not fail. Exit 0 when the file passes and every broken copy is
caught, 1 otherwise.
"""

import os
import re
import subprocess
import sys
import time

try:  # HTCondor >= 25 ships only the version-2 bindings
    import classad2 as classad
    import htcondor2 as htcondor
except ImportError:  # older wheels
    import classad
    import htcondor

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SETTINGS = {
    "coordinator": "https://coord.example.org:50051",
    "token_file": "/home/alice/.config/chirpfarm/worker-token",
}


def parse(text, settings):
    """A Submit object as condor_submit builds it for `condor_submit FILE name=value...`
    (command-line settings are read as if they came first in the file)."""
    head = "".join(f"{k}={v}\n" for k, v in settings.items())
    return htcondor.Submit(head + text)


def words(value):
    """HTCondor's "new syntax" for arguments and environment: the whole value in double
    quotes, words split on white space, single quotes group ('' is a quote)."""
    value = value.strip()
    if not (value.startswith('"') and value.endswith('"')):
        raise ValueError(f"not in double quotes (new syntax): {value}")
    value = value[1:-1].replace('""', '"')
    out, cur, quoted, i, have = [], "", False, 0, False
    while i < len(value):
        c = value[i]
        if quoted:
            if c == "'" and value[i + 1 : i + 2] == "'":
                cur += "'"
                i += 1
            elif c == "'":
                quoted = False
            else:
                cur += c
        elif c == "'":
            quoted, have = True, True
        elif c.isspace():
            if have or cur:
                out.append(cur)
            cur, have = "", False
        else:
            cur += c
        i += 1
    if quoted:
        raise ValueError("unbalanced single quote")
    if have or cur:
        out.append(cur)
    return out


def size_bytes(text):
    """request_memory / request_disk quantities: a number with an optional K/M/G/T unit."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)B?\s*", text, re.I)
    if not m:
        raise ValueError(f"not a quantity: {text!r}")
    return float(m.group(1)) * 1024 ** "KMGT".find(m.group(2).upper()) * (1024 if m.group(2) else 1)


def evaluate(expr, **attrs):
    """Evaluates a ClassAd expression against a job ad holding `attrs`."""
    ad = classad.ClassAd()
    for k, v in attrs.items():
        ad[k] = v
    ad["ChirpfarmCheck"] = classad.ExprTree(expr)
    return ad.eval("ChirpfarmCheck")


def worker_help():
    """The worker's flags and environment variables, from `chirpfarm-worker --help`."""
    candidates = [os.environ.get("CHIRPFARM_WORKER_BIN", "")] + [
        os.path.join(ROOT, "target", p, "chirpfarm-worker") for p in ("debug", "release")
    ]
    for path in candidates:
        if path and os.access(path, os.X_OK):
            text = subprocess.run([path, "--help"], capture_output=True, text=True, check=True).stdout
            flags = set(re.findall(r"(--[a-z][a-z0-9-]*)", text))
            env = set(re.findall(r"\[env:\s+([A-Z_]+)=", text))
            return path, flags, env
    return None, None, None


def problems_of(text, help_info):
    """Every problem found in submit description `text` (empty when it is right)."""
    bad = []
    try:
        sub = parse(text, SETTINGS)
    except Exception as e:  # the bindings raise ValueError/RuntimeError/TypeError alike
        return [f"does not parse with coordinator= and token_file= given: {e}"]
    for missing in SETTINGS:
        rest = {k: v for k, v in SETTINGS.items() if k != missing}
        try:
            parse(text, rest)
            bad.append(f"parses without {missing}= (it must refuse, naming the setting)")
        except Exception:
            pass

    def get(key):
        try:
            return sub.expand(key) if key in sub else None
        except Exception as e:
            bad.append(f"{key} does not expand: {e}")
            return None

    def need(key):
        v = get(key)
        if v is None or v == "":
            bad.append(f"{key} is not set")
            return ""
        return v

    if need("universe").lower() != "vanilla":
        bad.append(f"universe is {get('universe')!r}, expected vanilla")
    exe = need("executable")
    if os.path.basename(exe) != "chirpfarm-worker":
        bad.append(f"executable {exe!r} is not the chirpfarm-worker binary")
    if need("transfer_executable").lower() != "true":
        bad.append("transfer_executable must be True (the static binary travels with the job)")
    if need("should_transfer_files").upper() != "YES":
        bad.append("should_transfer_files must be YES (no shared file system is assumed)")
    inputs = [f.strip() for f in need("transfer_input_files").split(",") if f.strip()]
    if inputs != [SETTINGS["token_file"]]:
        bad.append(f"transfer_input_files is {inputs}, expected only the token file")

    env = {}
    try:
        env = dict(w.split("=", 1) for w in words(need("environment")))
    except ValueError as e:
        bad.append(f"environment: {e}")
    if env.get("CHIRPFARM_COORDINATOR") != SETTINGS["coordinator"]:
        bad.append(f"environment: CHIRPFARM_COORDINATOR is {env.get('CHIRPFARM_COORDINATOR')!r}")
    if env.get("CHIRPFARM_TOKEN_FILE") != os.path.basename(SETTINGS["token_file"]):
        bad.append(
            f"environment: CHIRPFARM_TOKEN_FILE is {env.get('CHIRPFARM_TOKEN_FILE')!r}, expected the "
            "transferred file's name in the job's scratch directory"
        )
    if "CHIRPFARM_TOKEN" in env:
        bad.append("environment: CHIRPFARM_TOKEN puts the secret in the job ad (condor_q -l shows it)")
    try:
        if not float(env.get("CHIRPFARM_IDLE_TIMEOUT", "nan")) > 0:
            raise ValueError
    except ValueError:
        bad.append(f"environment: CHIRPFARM_IDLE_TIMEOUT {env.get('CHIRPFARM_IDLE_TIMEOUT')!r} is not seconds > 0")

    args = []
    try:
        args = words(need("arguments"))
    except ValueError as e:
        bad.append(f"arguments: {e}")
    cpus = need("request_cpus")
    if not cpus.isdigit() or int(cpus) < 1:
        bad.append(f"request_cpus {cpus!r} is not a whole number >= 1")
    threads = args[args.index("--threads") + 1] if "--threads" in args[:-1] else None
    if threads != cpus:
        bad.append(f"--threads {threads} does not follow request_cpus {cpus}")
    for key, least in (("request_memory", 1 << 30), ("request_disk", 100 << 20)):
        try:
            if size_bytes(need(key)) < least:
                bad.append(f"{key} {get(key)} is less than {least >> 20} MiB")
        except ValueError as e:
            bad.append(f"{key}: {e}")
    path, flags, env_names = help_info
    if flags is not None:
        for a in args:
            if a.startswith("--") and a.split("=", 1)[0] not in flags:
                bad.append(f"arguments: {a} is not a flag of {path}")
        for name in env:
            if name not in env_names:
                bad.append(f"environment: {name} is not read by {path}")

    # Exit codes and retries.
    if need("success_exit_code") != "0":
        bad.append(f"success_exit_code is {get('success_exit_code')!r}, expected 0")
    retries = need("max_retries")
    if not retries.isdigit() or int(retries) < 1:
        bad.append(f"max_retries {retries!r}: crashes should be retried")
    try:
        until = need("retry_until")
        stops = {code: evaluate(until, ExitCode=code) is True for code in range(5)}
        if stops != {0: False, 1: False, 2: True, 3: True, 4: False}:
            bad.append(f"retry_until {until!r} stops retries for {[c for c, s in stops.items() if s]}, expected [2, 3]")
    except Exception as e:
        bad.append(f"retry_until is not a ClassAd expression: {e}")
    try:
        rel = need("periodic_release")
        now = int(time.time())
        cases = [
            ({"HoldReasonCode": 13, "NumHolds": 1, "EnteredCurrentStatus": now - 600}, True),
            ({"HoldReasonCode": 13, "NumHolds": 1, "EnteredCurrentStatus": now - 10}, False),
            ({"HoldReasonCode": 13, "NumHolds": 10, "EnteredCurrentStatus": now - 600}, False),
            ({"HoldReasonCode": 1, "NumHolds": 1, "EnteredCurrentStatus": now - 600}, False),
        ]
        for attrs, want in cases:
            if (evaluate(rel, **attrs) is True) != want:
                bad.append(f"periodic_release {'does not release' if want else 'releases'} a job held with {attrs}")
    except Exception as e:
        bad.append(f"periodic_release is not a ClassAd expression: {e}")
    if need("kill_sig").upper() not in ("SIGTERM", "TERM", "15"):
        bad.append(f"kill_sig {get('kill_sig')!r}: workers drain on SIGTERM")
    vacate = need("job_max_vacate_time")
    if not vacate.isdigit() or int(vacate) < 35:
        bad.append(f"job_max_vacate_time {vacate!r} leaves less than the worker's 30 s to drain")

    # The queue statement: `workers` jobs.
    for settings, want in ((SETTINGS, 4), (dict(SETTINGS, workers="16"), 16)):
        try:
            s = parse(text, settings)
            if not s.getQArgs().strip():
                bad.append("no queue statement with a count (queue $(workers))")
                break
            s["chirpfarm_check_queue"] = s.getQArgs()
            n = s.expand("chirpfarm_check_queue")
            if n != str(want):
                bad.append(f"queue {s.getQArgs()!r} gives {n!r} jobs with workers={settings.get('workers')}, expected {want}")
        except Exception as e:
            bad.append(f"queue: {e}")

    # Optional settings.
    if "MY.SingularityImage" in sub:
        bad.append("+SingularityImage is set without image=")
    image = "/cvmfs/singularity.opensciencegrid.org/htc/rocky:9"
    try:
        s = parse(text, dict(SETTINGS, image=image, ca_file="/home/alice/ca.pem"))
        got = s.expand("MY.SingularityImage") if "MY.SingularityImage" in s else None
        if got != f'"{image}"':
            bad.append(f"image= sets +SingularityImage to {got!r}, expected the image in quotes")
        tls_inputs = [f.strip() for f in s.expand("transfer_input_files").split(",")]
        tls_env = dict(w.split("=", 1) for w in words(s.expand("environment")))
        if tls_inputs != [SETTINGS["token_file"], "/home/alice/ca.pem"] or tls_env.get("CHIRPFARM_CA_FILE") != "ca.pem":
            bad.append(f"ca_file= does not send the CA file: inputs {tls_inputs}, environment {tls_env}")
    except Exception as e:
        bad.append(f"with image= and ca_file=: {e}")
    return bad


# Deliberately broken copies: each must be reported.
BREAKAGES = [
    ("no queue statement", lambda t: re.sub(r"^queue .*$", "", t, flags=re.M)),
    ("a command without '='", lambda t: t.replace("request_cpus   = $(cpus)", "request_cpus $(cpus)")),
    ("an unbalanced periodic_release", lambda t: t.replace("> 300)", "> 300")),
    ("success is exit code 1", lambda t: t.replace("success_exit_code = 0", "success_exit_code = 1")),
    ("retries on a wrong token", lambda t: t.replace("(ExitCode == 2) || ", "")),
    ("the token file name not passed", lambda t: t.replace("CHIRPFARM_TOKEN_FILE=$Fnx(token_file) ", "")),
    ("the binary not transferred", lambda t: t.replace("transfer_executable = True", "transfer_executable = False")),
    ("no default for a required setting's check", lambda t: t.replace("if !defined coordinator", "if false")),
    ("queue count not from workers", lambda t: t.replace("queue $(workers)", "queue 4")),
]
FLAG_BREAKAGE = ("a flag the worker does not have", lambda t: t.replace("--template-cache-mb", "--template-cache"))


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "workers.sub")
    text = open(path).read()
    help_info = worker_help()
    print(f"HTCondor bindings {htcondor.version().strip()}")
    if help_info[0]:
        print(f"worker flags from {help_info[0]} --help")
    else:
        print("note: no chirpfarm-worker binary found (CHIRPFARM_WORKER_BIN, target/debug, target/release): flags not checked")
    bad = problems_of(text, help_info)
    for p in bad:
        print(f"PROBLEM {os.path.relpath(path)}: {p}")
    if bad:
        print(f"{len(bad)} problem(s) in {os.path.relpath(path)}")
        return 1
    print(f"ok: {os.path.relpath(path)} parses, expands and passes every check")
    if len(sys.argv) > 1:
        return 0
    missed = 0
    breakages = BREAKAGES + ([FLAG_BREAKAGE] if help_info[0] else [])
    for name, breakage in breakages:
        broken = breakage(text)
        assert broken != text, f"breakage {name!r} changed nothing: update it to the file"
        found = problems_of(broken, help_info)
        if found:
            print(f"ok: broken copy ({name}) caught: {found[0]}")
        else:
            print(f"PROBLEM the check missed a broken copy: {name}")
            missed += 1
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
