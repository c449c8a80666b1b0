#!/usr/bin/env python3
"""TaylorF2 template generation: chirpfarm's engine vs LALSuite, on the data benchmark's grid.

Run from the repository root with a Python that has lalsuite (bench/run.sh uses bench/.venv):

    bench/.venv/bin/python bench/python/taylorf2_gen.py [--templates 40] [--rounds 3]

1. builds and runs `cargo run --release -p chirpfarm-worker --example taylorf2_gen`: one thread,
   grid n = 2^19 at 2048 Hz (256 s, Δf = 1/256 Hz), f_low 30 Hz, band [30 Hz, 1024 Hz):
   per-template median of the engine's tabulated TaylorF2 (coefficients + per-grid tables + one
   vectorised sincos per bin), the direct per-bin reference, the Newtonian chirp, the first call
   (incl. the grid's table build), and one template x one segment through the filter with the
   template cached -> generation / filtering ratio (target <= 0.2);
2. times lalsimulation.SimInspiralChooseFDWaveform(TaylorF2) for the same (mass1, mass2, spin1z,
   spin2z) on the same grid (deltaF 1/256, f_min 30, f_max 1024, 1 Mpc, default dict), one
   thread (OMP_NUM_THREADS=1), per-template median; rounds are interleaved.
Prints one JSON line and writes bench/results/<date>-taylorf2.json.
"""
import argparse
import datetime
import json
import os
import subprocess
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def bank(n):
    """The example's bank (same formula as worker/examples/taylorf2_gen.rs)."""
    return [(1.2 + 0.8 * i / n, 1.1 + 0.3 * ((i * 7) % n) / n, 0.05 * ((i % 5) - 2.0),
             -0.03 * ((i % 3) - 1.0)) for i in range(n)]


def lal_times(n):
    import lal
    import lalsimulation as ls
    times = []
    for m1, m2, s1, s2 in bank(n):
        t0 = time.perf_counter()
        hp, _ = ls.SimInspiralChooseFDWaveform(
            m1 * lal.MSUN_SI, m2 * lal.MSUN_SI, 0, 0, s1, 0, 0, s2, 1e6 * lal.PC_SI, 0, 0, 0, 0, 0,
            1 / 256, 30.0, 1024.0, 0, None, ls.TaylorF2)
        times.append(time.perf_counter() - t0)
        assert len(hp.data.data) == 1024 * 256 + 1
    times.sort()
    return times[len(times) // 2], lal.__version__


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--templates", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--command", default="bench/python/taylorf2_gen.py")
    a = ap.parse_args()
    subprocess.run(["cargo", "build", "-q", "--release", "-p", "chirpfarm-worker", "--example",
                    "taylorf2_gen"], cwd=ROOT, check=True)
    exe = os.path.join(ROOT, "target", "release", "examples", "taylorf2_gen")
    start = datetime.datetime.now(datetime.timezone.utc)
    ours, lal_ms, lal_version = [], [], None
    for _ in range(a.rounds):
        out = subprocess.run([exe, "--templates", str(a.templates)], check=True,
                             capture_output=True, text=True).stdout.strip().splitlines()[-1]
        ours.append(json.loads(out))
        t, lal_version = lal_times(a.templates)
        lal_ms.append(t * 1e3)

    def med(xs):
        xs = sorted(xs)
        return xs[len(xs) // 2]

    keys = ["taylorf2_ms", "taylorf2_direct_ms", "newtonian_ms", "first_call_ms",
            "filter_template_segment_ms", "generation_over_filter"]
    res = {k: med([o[k] for o in ours]) for k in keys}
    res.update({
        "lal_choosefd_ms": med(lal_ms),
        "lal_over_ours": med(lal_ms) / res["taylorf2_ms"],
        "grid": ours[0]["grid"], "templates": a.templates, "rounds": a.rounds,
        "lalsuite": lal_version, "command": a.command,
        "start": start.isoformat(timespec="seconds"),
        "end": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "nproc": os.cpu_count(), "loadavg": os.getloadavg(), "raw": ours, "raw_lal_ms": lal_ms,
    })
    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    path = os.path.join(ROOT, "bench", "results", f"{start.date()}-taylorf2.json")
    with open(path, "w") as f:
        json.dump(res, f, indent=1)
        f.write("\n")
    print(f"TaylorF2 per template: chirpfarm {res['taylorf2_ms']:.2f} ms (direct "
          f"{res['taylorf2_direct_ms']:.1f} ms), LAL {res['lal_choosefd_ms']:.1f} ms "
          f"({res['lal_over_ours']:.1f}x); filter 1 template x 1 segment "
          f"{res['filter_template_segment_ms']:.1f} ms -> generation/filter "
          f"{res['generation_over_filter']:.3f}", file=sys.stderr)
    print(path)


if __name__ == "__main__":
    main()
