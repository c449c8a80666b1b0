"""The seed's script 2, with chirpfarm: ten signals of random chirp mass against the bank
0.8:1.74:0.01, by standing workers that keep their templates between signals.

The seed's version (worker processes caching their share of the templates, fed signals
through Pipes, answering on a Queue) and chirpfarm's (an embedded cluster of two workers with
template caches, Farm.local) run the same ten signals; the best fits and the times per signal
are printed side by side:

    python python/examples/standing_workers.py [--signals 10] [--json]
"""

import argparse
import json
import multiprocessing as mp
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench" / "python"))
import filtering as F  # noqa: E402  (the seed's own numpy module, bench/python/filtering.py)

import chirpfarm  # noqa: E402

Mcs = np.arange(0.8, 1.74, 0.01)


def worker(Mcs, pipe, results):
    """The seed's worker: caches its templates, then answers (best Mc, best SNR) per signal."""
    templates = [F.normtemplate(Mc) for Mc in Mcs]
    while True:
        signal = pipe.recv()
        if signal is None:
            break
        snrs = [F.maxsnr(signal, t) for t in templates]
        maxt = int(np.argmax(snrs))
        results.put((Mcs[maxt], snrs[maxt]))


def seed_run(true_mcs, cpus):
    pipes = [mp.Pipe() for _ in range(cpus)]
    results = mp.Queue()
    procs = [mp.Process(target=worker, args=(Mcs[i::cpus], pipes[i][1], results))
             for i in range(cpus)]
    for p in procs:
        p.start()
    out = []
    for mc in true_mcs:
        signal = F.template(mc)
        t0 = time.perf_counter()
        for p in pipes:
            p[0].send(signal)
        snrs = np.array([results.get() for _ in range(cpus)])
        out.append((snrs[np.argmax(snrs[:, 1]), 0], snrs[:, 1].max(), time.perf_counter() - t0))
    for p in pipes:
        p[0].send(None)
    for p in procs:
        p.join()
    return out


def chirpfarm_run(true_mcs, workers):
    out = []
    with chirpfarm.Farm.local(workers=workers) as farm:
        for mc in true_mcs:
            t0 = time.perf_counter()
            r = farm.search(signals=[mc], progress=False)
            out.append((r.best_mc[0], r.best_snr[0], time.perf_counter() - t0))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--signals", type=int, default=10)
    ap.add_argument("--workers", type=int, default=2, help="worker processes / daemons (2)")
    ap.add_argument("--seed", type=int, default=1, help="random seed of the chirp masses")
    ap.add_argument("--json", action="store_true", help="print the timings as JSON only")
    args = ap.parse_args()
    random.seed(args.seed)
    true_mcs = [random.uniform(0.8, 1.74) for _ in range(args.signals)]

    t0 = time.perf_counter()
    seed = seed_run(true_mcs, args.workers)
    t_seed = time.perf_counter() - t0
    t0 = time.perf_counter()
    farm = chirpfarm_run(true_mcs, args.workers)
    t_farm = time.perf_counter() - t0

    same = all(a[0] == b[0] and abs(a[1] - b[1]) <= 1e-9 * abs(a[1]) for a, b in zip(seed, farm))
    if args.json:
        print(json.dumps({
            "signals": args.signals, "workers": args.workers,
            "seed_total_seconds": t_seed, "chirpfarm_total_seconds": t_farm,
            "seed_per_signal_seconds": [s[2] for s in seed],
            "chirpfarm_per_signal_seconds": [f[2] for f in farm],
            "same_best_fits": same,
        }))
        return
    print(f"{'true Mc':>8} | {'seed best Mc':>12} {'seed s':>7} | {'chirpfarm best Mc':>18} {'s':>7}")
    for mc, s, f in zip(true_mcs, seed, farm):
        print(f"{mc:8.3f} | {s[0]:12.3f} {s[2]:7.3f} | {f[0]:18.3f} {f[2]:7.4f}")
    print(f"same best fits (Mc equal, SNR within 1e-9): {same}")
    print(f"total (incl. start-up): seed {t_seed:.2f} s, chirpfarm {t_farm:.2f} s")
    print(f"per signal (median): seed {np.median([s[2] for s in seed]):.3f} s, "
          f"chirpfarm {np.median([f[2] for f in farm]):.4f} s")


if __name__ == "__main__":
    main()
