"""The in-process API: ``template()`` and ``search()``, no coordinator and no process to start.

Arguments are turned into a search by the CLI's own code (``chirpfarm._native.prepare``): the
same defaults, checks and error messages as ``chirpfarm search``.
"""

from __future__ import annotations

import os
import time
from typing import Any, Iterable, Optional, Sequence, Union

import numpy as np

from . import _native
from ._results import SearchResult

__all__ = ["template", "search", "prepare", "BankLike", "PsdLike"]

#: A bank: ``None`` (the seed's 0.8:1.74:0.01), ``"START:STOP:STEP"`` (built as numpy.arange),
#: a path (a bank file, as ``--bank-file``) or an array of chirp masses (M☉).
BankLike = Union[None, str, "os.PathLike[str]", Sequence[float], np.ndarray]

#: A PSD: ``"welch"``, ``"aligo"``, a path to a two-column file, or an array of one-sided PSD
#: values (1/Hz) on the segment's frequency grid (``segment_samples // 2 + 1`` values).
PsdLike = Union[str, "os.PathLike[str]", np.ndarray]


def template(mc: float, delay: float = 0.0, normalised: bool = False) -> np.ndarray:
    """The seed's Newtonian chirp ``template(Mc)`` in the frequency domain.

    65537 complex128 bins from 0 to 1024 Hz (Δf = 1/64 Hz), zero below 40 Hz: the 2012
    teaching note's ``template(Mc)`` to ~1e-12, computed by chirpfarm's engine.

    Args:
        mc: chirp mass in solar masses (0.1 to 100).
        delay: shift the coalescence time by this many seconds.
        normalised: divide by ``sqrt(normsq(t))`` (the note's ``normtemplate``).

    Example:
        >>> t = chirpfarm.template(1.2)
        >>> t.shape, t.dtype
        ((65537,), dtype('complex128'))
    """
    return _native.template(float(mc), float(delay), bool(normalised))


def _as_f64(a: Any, what: str) -> np.ndarray:
    try:
        arr = np.ascontiguousarray(a, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{what} must be an array of numbers: {e}") from None
    if arr.ndim != 1:
        raise ValueError(f"{what} must be one-dimensional, got shape {arr.shape}")
    return arr


def _signals(signals: Union[None, float, Iterable[float]]) -> list:
    if signals is None:
        return []
    if isinstance(signals, (int, float, np.floating, np.integer)):
        return [float(signals)]
    return _as_f64(signals if isinstance(signals, np.ndarray) else list(signals), "signals").tolist()


def prepare(
    bank: BankLike = None,
    signals: Union[None, float, Iterable[float]] = None,
    *,
    delay: float = 0.0,
    random_signals: Optional[int] = None,
    seed: int = 0,
    convention: str = "seed",
    data: Optional[np.ndarray] = None,
    sample_rate: Optional[float] = None,
    gps_start: float = 0.0,
    psd: PsdLike = "welch",
    remote: bool = False,
    **options: Any,
) -> "_native.Prepared":
    """Validates a search (see :func:`search` for the arguments); raises ``ValueError``."""
    kw: dict = {}
    if bank is None:
        pass
    elif isinstance(bank, str):
        kw["bank_range"] = bank
    elif isinstance(bank, os.PathLike):
        kw["bank_file"] = os.fspath(bank)
    else:
        kw["bank_mc"] = _as_f64(bank, "bank")
    if isinstance(psd, np.ndarray) or (not isinstance(psd, (str, os.PathLike)) and psd is not None):
        kw["psd_values"] = _as_f64(psd, "psd")
        psd_name = "welch"
    else:
        psd_name = os.fspath(psd)
    if data is not None:
        kw["data"] = _as_f64(data, "data")
        if sample_rate is None:
            raise ValueError("a data search needs sample_rate (Hz) with data")
    if sample_rate is not None:
        kw["sample_rate"] = float(sample_rate)
    return _native.prepare(
        signal_mc=_signals(signals),
        signal_delay=float(delay),
        random_signals=random_signals,
        seed=int(seed),
        convention=convention,
        gps_start=float(gps_start),
        psd=psd_name,
        options=options,
        remote=remote,
        **kw,
    )


def search(
    bank: BankLike = None,
    signals: Union[None, float, Iterable[float]] = None,
    *,
    delay: float = 0.0,
    random_signals: Optional[int] = None,
    seed: int = 0,
    convention: str = "seed",
    data: Optional[np.ndarray] = None,
    sample_rate: Optional[float] = None,
    gps_start: float = 0.0,
    psd: PsdLike = "welch",
    threads: Optional[int] = None,
    progress: bool = True,
    **options: Any,
):
    """Runs a template-bank search in this process and returns numpy arrays.

    A **signal search** (``signals=`` and/or ``random_signals=``) filters each noiseless signal
    ``template(Mc)`` with every template of the bank, on this machine's cores, with no
    coordinator, no gRPC and no process started; it returns a :class:`SearchResult` whose
    arrays equal ``chirpfarm search --json``'s numbers bit for bit.

    A **data search** (``data=`` strain, ``sample_rate=``) matched-filters the data with every
    template (as ``chirpfarm search --data``, on an embedded cluster in this process) and
    returns a :class:`DataResult`: triggers as a numpy structured array (``.to_pandas()`` for a
    DataFrame).

    Args:
        bank: ``None`` for the seed's bank ``0.8:1.74:0.01`` (94 templates); ``"START:STOP:STEP"``
            (built exactly as ``numpy.arange``); a ``pathlib.Path`` to a bank file; or an array
            of chirp masses (M☉).
        signals: signal chirp masses (M☉), in the order reported.
        delay: every signal's coalescence time shift, seconds.
        random_signals: add this many signals with chirp masses drawn uniformly in the bank's
            range (ChaCha8 with ``seed``: the same masses as the CLI's ``--random-signals``).
        seed: random seed for ``random_signals``.
        convention: ``"seed"`` (the 2012 note's ``maxsnr``; values ~1e-9, only ratios mean
            anything) or ``"physical"`` (phase-maximised |SNR|, PyCBC's).
        data: strain samples (float64) for a data search.
        sample_rate: the data's sample rate in Hz (a power of two).
        gps_start: GPS time of the first sample, seconds.
        psd: ``"welch"`` (estimated from the data), ``"aligo"``, a PSD file path, or an array
            of one-sided PSD values on the segment's frequency grid.
        threads: compute threads (default: one per core).
        progress: draw a progress bar on stderr (data searches; a signal search is quick).
        **options: the CLI's other search flags by their Python names: ``max_templates``,
            ``mc_range``, ``approximant``, ``f_final``, ``f_low``, ``segment_length``,
            ``segment_pad``, ``snr_threshold``, ``cluster_window``, ``chisq_bins``, ``rank``,
            ``newsnr_threshold``, ``psd_segment_length``, ``psd_segment_stride``,
            ``psd_inverse_length`` (seconds and Hz, as the flags).

    Raises:
        ValueError: bad input (the CLI's message, e.g. a chirp mass out of range, an empty bank).
        KeyboardInterrupt: Ctrl-C; the search stops within one template per thread.

    Examples:
        The seed's search (script 1), SNR against template chirp mass:

        >>> import chirpfarm
        >>> r = chirpfarm.search(signals=[1.2])
        >>> r.bank_mc[r.best_index[0]]
        1.2000000000000004
        >>> r.snr.shape
        (1, 94)

        Ten random signals against a finer bank, physical SNR:

        >>> r = chirpfarm.search("0.8:1.74:0.001", random_signals=10, seed=1,
        ...                      convention="physical")
    """
    p = prepare(
        bank,
        signals,
        delay=delay,
        random_signals=random_signals,
        seed=seed,
        convention=convention,
        data=data,
        sample_rate=sample_rate,
        gps_start=gps_start,
        psd=psd,
        **options,
    )
    if p.is_data:
        from ._farm import Farm

        with Farm.local(workers=1, threads=threads, cache_mb=0) as farm:
            return farm._run(p, progress=progress, cancel_on_interrupt=True)
    t0 = time.perf_counter()
    d = _native.search_local(p, threads)
    wall = time.perf_counter() - t0
    return SearchResult(
        bank_mc=p.bank_mc,
        signal_mc=p.signal_mc,
        signal_delay=p.signal_delay,
        snr=d["snr"],
        lag=d["lag"],
        best_index=d["best_index"],
        convention=p.convention,
        wall_seconds=wall,
        workers=1,
    )
