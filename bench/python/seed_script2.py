"""The seed's script 2 (compu-salon ep. 8), ported to Python 3.

Standing worker processes each cache a subset of the normalised templates of the bank
arange(0.8, 1.74, 0.01), receive signals on a Pipe and return their best (Mc, SNR) on a Queue;
the master sends `nsignals` signals with random chirp masses, one at a time, and times each.
Changes from the seed, all for benchmarking:

* print() calls; the lines the seed's text lost (`break`, `results.put(...)`, `pool`-less
  start/stop calls) restored as the comments describe;
* 2 worker processes by default (this machine has 2 cores; the seed used 4), from the 'fork'
  context as the seed assumed;
* a fixed RNG seed (random.seed(--seed), default 1) so every run draws the same chirp masses;
* time.perf_counter() instead of time.time(); the best SNR is returned with the best Mc;
* options: --bank START:STOP:STEP, --signals N, --processes N, --json (one JSON line);
* the matplotlib import is dropped (unused).

Note, as in the seed: workers build their templates right after they start, while the master
already sends the first signal, so the first iteration includes (part of) that work.

Run from any directory: python3 bench/python/seed_script2.py
"""
import argparse, json, os, sys, time, multiprocessing as mp, random

import numpy as N

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import filtering as F   # our own module with data-analysis definitions

# this time we're going to evaluate the SNR of multiple fiducial signals
# against the same bank of templates,
nsignals = 10
Mcs = N.arange(0.8,1.74,0.01)

# to speed up the computation, we're going to cache subsets
# of pre-computed templates within each worker process

def worker(Mcs,pipe,results):
    """Worker function for parallel processes: takes as input
    a list 'Mcs' of chirp masses, a Pipe to receive fiducial
    signals from the master, and a Queue 'results' to return
    maximum SNRs and the corresponding chirp mass."""

    # make a list of cached templates
    templates = [F.normtemplate(Mc) for Mc in Mcs]

    # loop forever!
    while True:
        # receive a signal from the master process
        signal = pipe.recv()
        # exit if it is a poison pill
        if signal is None:
            break
        # evaluate all the SNRs
        snrs = [F.maxsnr(signal,t) for t in templates]
        # put into queue the location and value of the max SNR
        maxt = N.argmax(snrs)
        results.put((Mcs[maxt],snrs[maxt]))


def main():
    global nsignals, Mcs
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bank", default="0.8:1.74:0.01", help="START:STOP:STEP (numpy.arange)")
    ap.add_argument("--signals", type=int, default=nsignals)
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    start, stop, step = (float(x) for x in args.bank.split(":"))
    Mcs = N.arange(start, stop, step)
    nsignals = args.signals
    random.seed(args.seed)
    ctx = mp.get_context("fork")
    t_start = time.perf_counter()

    # we will run 2 worker processes (the seed: 4)
    cpus = args.processes

    # we create shared, synchronized objects to send signals
    # and to receive results
    pipes   = [ctx.Pipe() for i in range(cpus)]  # a Pipe for every worker
    results = ctx.Queue()                        # a single Queue for all
                                                 # (that's almost poetry)

    # we will not use the multiprocessing.Pool abstraction,
    # but instead create a list of processes and have each execute
    # the function 'worker' with arguments given by a subset of chirp masses,
    # the worker "end" of the appropriate Pipe, and the Queue
    procs = [ctx.Process(name = 'worker-%s' % i,
                         target = worker,
                         args = (Mcs[i::cpus],pipes[i][1],results)
                         ) for i in range(cpus)]

    # start all the processes
    for p in procs:
        p.start()

    out = {"templates": len(Mcs), "bank": args.bank, "processes": cpus, "seed": args.seed,
           "per_signal_seconds": [], "true_mc": [], "best_mc": [], "best_snr": []}
    # repeat 'nsignals' times
    for j in range(nsignals):
        # create a signal with random chirp mass
        trueMc = random.uniform(0.8,1.74)
        signal = F.template(trueMc)

        # get maximum SNRs from workers
        t0 = time.perf_counter()    # start timing
        for p in pipes:             # send signal to all workers...
            p[0].send(signal)       # ...using the master "end" of the Pipe
        snrs = N.array([results.get() for i in range(cpus)])
                                    # collect 'cpus' results from the Queue,
                                    # place them into an array
        dt = time.perf_counter() - t0
        best = N.argmax(snrs[:,1])
        out["per_signal_seconds"].append(dt)
        out["true_mc"].append(trueMc)
        out["best_mc"].append(float(snrs[best,0]))
        out["best_snr"].append(float(snrs[best,1]))
        if not args.json:
            print("This iteration:", dt)
            # compare the Mc with the maximum SNRs with the correct one
            print("True: %.3f Msun -> best fit: %.3f Msun" % (trueMc,snrs[best,0]))

    # send poison pills to all workers
    for p in pipes:
        p[0].send(None)

    # wait for worker processes to terminate
    for p in procs:
        p.join()
    out["total_seconds"] = time.perf_counter() - t_start
    if args.json:
        print(json.dumps(out))


if __name__ == "__main__":
    main()
