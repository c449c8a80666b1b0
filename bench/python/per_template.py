"""One template, one core: multiply + inverse real FFT (n = 2^17) + max, f64.

The same measurement as `chirpfarm bench filter`: signal = template(1.2), normalised template
normtemplate(1.25), both precomputed; each call is timed on its own and the median over --iters
calls is reported (after 5 untimed warm-up calls).

  --impl numpy   the seed's maxsnr(signal, temp) exactly (bench/python/filtering.py):
                 max((4/df) * real(numpy.fft.irfft(conj(signal) * temp)))
  --impl pyfftw  the same pipeline on FFTW: a pyfftw.FFTW complex-to-real plan made with
                 FFTW_MEASURE, threads=1, over preallocated SIMD-aligned arrays; per call
                 numpy.multiply(conj(signal), temp, out=aligned_input), plan.execute()
                 (unnormalised), max(out) * (4/df)/n. conj(signal) is computed once, as the
                 signal is fixed for a job (chirpfarm does the same).

Prints one JSON line, with the minor page faults per call: numpy's temporaries (4 arrays of
1 MB per call) are fresh pages on every call while glibc malloc returns freed memory to the
system; with MALLOC_MMAP_THRESHOLD_ and MALLOC_TRIM_THRESHOLD_ raised in the environment they
are not (bench/harness.py measures both). Run it single-threaded: OMP_NUM_THREADS=1 etc.
"""
import argparse, json, os, resource, sys, time

import numpy as N

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import filtering as F


def time_calls(fn, iters):
    for _ in range(5):
        fn()
    times = []
    pc = time.perf_counter
    faults0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(iters):
        t0 = pc()
        fn()
        times.append(pc() - t0)
    faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults0) / iters
    times.sort()
    return times[len(times) // 2], faults


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--impl", choices=["numpy", "pyfftw"], required=True)
    ap.add_argument("--iters", type=int, default=200)
    args = ap.parse_args()
    signal = F.template(1.2)
    temp = F.normtemplate(1.25)
    n = 2 * (len(F.f) - 1)
    out = {"impl": args.impl, "n": n, "precision": "f64", "threads": 1, "iters": args.iters,
           "numpy": N.__version__}
    if args.impl == "numpy":
        fn = lambda: F.maxsnr(signal, temp)
        value = float(fn())
    else:
        import pyfftw
        out["pyfftw"] = pyfftw.__version__
        inp = pyfftw.empty_aligned(n // 2 + 1, dtype="complex128")
        res = pyfftw.empty_aligned(n, dtype="float64")
        t0 = time.perf_counter()
        plan = pyfftw.FFTW(inp, res, direction="FFTW_BACKWARD", flags=("FFTW_MEASURE",),
                           threads=1)
        out["plan_seconds"] = time.perf_counter() - t0
        sconj = N.conj(signal)
        scale = (4 / F.df) / n
        mul, execute, amax = N.multiply, plan.execute, N.max

        def fn():
            mul(sconj, temp, out=inp)
            execute()
            return amax(res) * scale

        value = float(fn())
        ref = float(F.maxsnr(signal, temp))
        out["relative_difference_to_numpy"] = abs(value - ref) / abs(ref)
    out["value"] = value
    med, faults = time_calls(fn, args.iters)
    out["per_template_seconds"] = med
    out["page_faults_per_call"] = faults
    out["malloc_env"] = {k: v for k, v in os.environ.items() if k.startswith("MALLOC_")}
    try:
        from threadpoolctl import threadpool_info
        out["threadpoolctl"] = threadpool_info()
    except Exception as e:  # threadpoolctl is optional
        out["threadpoolctl"] = "unavailable: %s" % e
    print(json.dumps(out))


if __name__ == "__main__":
    main()
