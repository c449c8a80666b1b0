"""The seed's script 1 (compu-salon ep. 8), ported to Python 3.

The SNR of a fiducial signal template(1.2) after filtering by every normalised template of the
bank arange(0.8, 1.74, 0.01), first with the built-in map on one CPU, then with a
multiprocessing Pool. Changes from the seed, all for benchmarking:

* print() calls; `map` wrapped in list() (Python 3's map is lazy);
* Pool(processes=2) by default (this machine has 2 cores; the seed used 4), from the 'fork'
  context as the seed assumed (Python >= 3.14 defaults to forkserver);
* time.perf_counter() instead of time.time(); the pool's start-up and close/join are timed too
  (the seed timed only pool.map);
* options: --bank START:STOP:STEP (numpy.arange; default the seed's bank), --mode map|pool|both,
  --processes N, --json (one JSON line: the times, and with --snrs the SNRs in bank order);
* the matplotlib plot at the end is dropped (matplotlib is not needed to benchmark).

Run from any directory: python3 bench/python/seed_script1.py [--mode both]
"""
import argparse, json, os, sys, time, multiprocessing as mp

import numpy as N

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import filtering as F   # our own module with data-analysis definitions

# we're going to evaluate SNRs against this fiducial signal...
signal = F.template(1.2)

# ...for normalized templates in this range of chirp masses
Mcs = N.arange(0.8,1.74,0.01)

def getsnr(Mc):
    """Evaluate SNR of fiducial signal after filtering by a normalized
    template with chirp mass Mc."""
    return F.maxsnr(signal,F.normtemplate(Mc))


def main():
    global Mcs
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bank", default="0.8:1.74:0.01", help="START:STOP:STEP (numpy.arange)")
    ap.add_argument("--mode", choices=["map", "pool", "both"], default="both")
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--json", action="store_true", help="print one JSON line instead of text")
    ap.add_argument("--snrs", action="store_true", help="include the SNRs in the JSON")
    args = ap.parse_args()
    start, stop, step = (float(x) for x in args.bank.split(":"))
    Mcs = N.arange(start, stop, step)
    out = {"templates": len(Mcs), "bank": args.bank, "processes": args.processes}
    snrs = None

    if args.mode in ("map", "both"):
        # we first do it (and time it) on a single CPU
        t0 = time.perf_counter()
        snrs = list(map(getsnr,Mcs))      # equivalent to [getsnr(Mc) for Mc in Mcs]
        out["map_seconds"] = time.perf_counter() - t0
        if not args.json:
            print("Monoprocessing:", out["map_seconds"])

    if args.mode in ("pool", "both"):
        # next, we create a multiprocessing _pool_ of processes
        # each is _forked_ with a copy of all variables and functions defined so far
        t0 = time.perf_counter()
        pool = mp.get_context("fork").Pool(processes=args.processes)
        out["pool_start_seconds"] = time.perf_counter() - t0

        # and now we ask the pool to evaluate getsnr() on all elements of Mcs,
        # by distributing them among the workers using
        t0 = time.perf_counter()
        snrs = pool.map(getsnr,Mcs)
        out["pool_map_seconds"] = time.perf_counter() - t0
        if not args.json:
            print("Multiprocessing:", out["pool_map_seconds"])

        # gracefully close all worker processes
        t0 = time.perf_counter()
        pool.close()
        pool.join()
        out["pool_close_seconds"] = time.perf_counter() - t0

    best = int(N.argmax(snrs))
    out["best_index"], out["best_mc"], out["best_snr"] = best, float(Mcs[best]), float(snrs[best])
    if args.snrs:
        out["snrs"] = [float(s) for s in snrs]
    if args.json:
        print(json.dumps(out))
    else:
        print("Best template: Mc = %r, SNR = %r" % (out["best_mc"], out["best_snr"]))


if __name__ == "__main__":
    main()
