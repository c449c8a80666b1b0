"""The seed's script 1, with chirpfarm: the SNR of the signal template(1.2) after filtering by
every normalised template of the bank 0.8:1.74:0.01, plotted against the template's chirp mass.

Runs the seed's numpy code (map, then multiprocessing.Pool(2)) and chirpfarm.search side by
side and prints both numbers and times:

    python python/examples/seed_bank_search.py [--plot seed-search.png] [--json]

(--json prints only the timings, as one JSON object: bench/run.sh reads it.)
"""

import argparse
import json
import multiprocessing as mp
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench" / "python"))
import filtering as F  # noqa: E402  (the seed's own numpy module, bench/python/filtering.py)

import chirpfarm  # noqa: E402

signal = F.template(1.2)
Mcs = np.arange(0.8, 1.74, 0.01)


def getsnr(Mc):
    """The seed's getsnr: SNR of the fiducial signal after filtering by template(Mc)."""
    return F.maxsnr(signal, F.normtemplate(Mc))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--plot", metavar="FILE.png", help="save the SNR vs Mc plot here")
    ap.add_argument("--json", action="store_true", help="print the timings as JSON only")
    ap.add_argument("--processes", type=int, default=2, help="the seed's Pool size (default 2)")
    args = ap.parse_args()

    t0 = time.perf_counter()
    mono = np.array(list(map(getsnr, Mcs)))
    t_mono = time.perf_counter() - t0

    t0 = time.perf_counter()
    pool = mp.Pool(processes=args.processes)
    t1 = time.perf_counter()
    pooled = np.array(pool.map(getsnr, Mcs))
    t_map = time.perf_counter() - t1
    pool.close()
    pool.join()
    t_pool = time.perf_counter() - t0

    t0 = time.perf_counter()
    r = chirpfarm.search(signals=[1.2])
    t_cf = time.perf_counter() - t0

    rel = float(np.max(np.abs(r.snr[0] - pooled)) / np.max(np.abs(pooled)))
    if args.json:
        print(json.dumps({
            "templates": len(Mcs), "seed_map_seconds": t_mono, "seed_pool_seconds": t_pool,
            "seed_pool_map_seconds": t_map, "pool_processes": args.processes,
            "chirpfarm_seconds": t_cf, "max_relative_difference": rel,
        }))
        return
    print(f"{'Mc':>6} {'seed numpy SNR':>24} {'chirpfarm SNR':>24}")
    for i in range(0, len(Mcs), 10):
        print(f"{Mcs[i]:6.2f} {float(pooled[i])!r:>24} {float(r.snr[0, i])!r:>24}")
    b = int(np.argmax(pooled))
    print(f"best: seed Mc {float(Mcs[b])!r} SNR {float(pooled[b])!r}; "
          f"chirpfarm Mc {float(r.best_mc[0])!r} SNR {float(r.best_snr[0])!r}")
    print(f"largest relative difference: {rel:.2e}")
    print(f"seed map: {t_mono:.3f} s; seed Pool({args.processes}): {t_pool:.3f} s "
          f"(map alone {t_map:.3f} s); chirpfarm.search: {t_cf:.4f} s "
          f"({t_pool / t_cf:.0f}x the Pool)")
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as P

        P.plot(Mcs, pooled, "o", mfc="none", label="seed numpy (Pool.map)")
        P.plot(r.bank_mc, r.snr[0], "-", label="chirpfarm.search")
        P.xlabel("template chirp mass [M☉]")
        P.ylabel("SNR (seed convention)")
        P.title("template(1.2) against the seed bank")
        P.legend()
        P.savefig(args.plot, dpi=100)
        print(f"plot: {args.plot}")


if __name__ == "__main__":
    main()
