#!/usr/bin/env python3
"""PyCBC's power chi^2 per trigger, for bench/chisq.sh (the chirpfarm side is the ignored test
`bench_chisq_per_trigger` in worker/tests/chisq.rs, same sizes).

One 256 s segment at 2048 Hz (n = 2^19), f_low = 20 Hz, the seed's Newtonian chirp (Mc 1.3),
P = 16 bins, POINTS trigger samples spread over the segment. Timed, on one core, median of
REPEATS: `power_chisq_at_points_from_precomputed(corr, snr[idx], norm, bins, idx)` -- the
direct time-shift-and-sum pycbc_inspiral's CPU scheme uses for triggers -- with corr, snr, norm
and bins precomputed outside the timing (as in pycbc_inspiral, where the filter produced them).
Prints one JSON line.
"""
import json
import math
import sys
import time

import numpy as np
import pycbc
import pycbc.filter
import pycbc.noise
import pycbc.psd
from pycbc.types import FrequencySeries, zeros
from pycbc.vetoes import chisq as pchisq

MSUN = 4.9257e-6
FS, N, F_LOW, MC, P = 2048.0, 1 << 19, 20.0, 1.3, 16
POINTS = int(sys.argv[1]) if len(sys.argv) > 1 else 64
REPEATS = 5
DF = FS / N
K_LOW = int(F_LOW / DF)


def newtonian(mc):
    h = np.zeros(N // 2 + 1, dtype=np.complex128)
    k = np.arange(max(K_LOW, 1), N // 2 + 1)
    f = k * DF
    amp = math.sqrt(5 / 24) * math.pi ** (-2 / 3) * (mc * MSUN) ** (5 / 6) * f ** (-7 / 6)
    psi = (3 / 128) * ((math.pi * mc * MSUN) * f) ** (-5 / 3)
    h[k] = amp * np.cos(psi) - 1j * (amp * np.sin(psi))
    return h


def main():
    psd = pycbc.psd.aLIGOZeroDetHighPower(N // 2 + 1, DF, F_LOW)
    data = pycbc.noise.noise_from_psd(N, 1.0 / FS, psd, seed=7).astype(np.float64)
    stilde = pycbc.filter.make_frequency_series(data)
    h = FrequencySeries(newtonian(MC), delta_f=DF)
    corra = zeros(N, dtype=np.complex128)
    q, corr, norm = pycbc.filter.matched_filter_core(h, stilde, psd, F_LOW, None, corr_out=corra)
    bins = pchisq.power_chisq_bins(h, P, psd, F_LOW)
    idx = np.linspace(N // 8, N - N // 8, POINTS).astype(np.uint32)
    snrv = q.numpy()[idx]
    times = []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        chisq = pchisq.power_chisq_at_points_from_precomputed(corr, snrv, norm, bins, idx)
        times.append(time.perf_counter() - t0)
    per = sorted(times)[REPEATS // 2] / POINTS
    t0 = time.perf_counter()
    for _ in range(3):
        pchisq.power_chisq_bins(h, P, psd, F_LOW)
    edges_ms = (time.perf_counter() - t0) / 3 * 1e3
    print(json.dumps({'side': 'pycbc', 'pycbc': pycbc.__version__, 'n': N, 'bins': P,
                      'points': POINTS, 'ms_per_trigger': per * 1e3,
                      'edges_ms_per_template': edges_ms,
                      'mean_reduced_chisq': float(np.mean(chisq) / (2 * P - 2))}))


if __name__ == '__main__':
    main()
