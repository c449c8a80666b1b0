"""Result types: what a search returns, as numpy arrays in bank order.

Kept apart from the calls that produce them so that the in-process search and a farm's job
return the very same types (and a notebook can ``repr`` them without running anything).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Dict, Optional

import numpy as np

__all__ = ["SearchResult", "DataResult", "PartialResult", "TRIGGER_DTYPE", "PEAK_DTYPE"]


@dataclass(frozen=True)
class SearchResult:
    """A bank × signals search: one SNR and lag per (signal, template), in bank order.

    The numbers are the ones ``chirpfarm search --json`` prints, bit for bit.

    Attributes:
        bank_mc: the templates' chirp masses (M☉), shape ``(templates,)``.
        signal_mc: the signals' chirp masses (M☉), shape ``(signals,)``, in the order given.
        signal_delay: the signals' delays (s), shape ``(signals,)``.
        snr: SNR per signal × template, shape ``(signals, templates)``, in ``convention``.
        lag: the signal's coalescence time relative to the template's at the maximum (s),
            shape ``(signals, templates)``.
        best_index: per signal, the bank index of the loudest template (the first on ties,
            -1 if no template has a number), shape ``(signals,)``.
        convention: ``"seed"`` (the 2012 note's ``maxsnr``) or ``"physical"``.
        wall_seconds: time from start (or submission) to the last result.
        workers: workers that served the search (1 in-process).
        job_id: the job's id on a coordinator, ``None`` in-process.

    Example:
        >>> r = chirpfarm.search(signals=[1.2])
        >>> r.best_mc[0], r.best_snr[0]
        (1.2000000000000004, 1.3435479310614531e-09)
    """

    bank_mc: np.ndarray
    signal_mc: np.ndarray
    signal_delay: np.ndarray
    snr: np.ndarray
    lag: np.ndarray
    best_index: np.ndarray
    convention: str
    wall_seconds: float
    workers: int
    job_id: Optional[str] = None

    @property
    def best_mc(self) -> np.ndarray:
        """Per signal, the chirp mass of the loudest template (NaN where there is none)."""
        return _pick(self.bank_mc[np.newaxis, :].repeat(len(self.signal_mc), 0), self.best_index)

    @property
    def best_snr(self) -> np.ndarray:
        """Per signal, the loudest template's SNR."""
        return _pick(self.snr, self.best_index)

    @property
    def best_lag(self) -> np.ndarray:
        """Per signal, the loudest template's lag (s)."""
        return _pick(self.lag, self.best_index)

    def to_dict(self) -> Dict[str, Any]:
        """The result as the CLI's ``--json`` document (schema version 1), as Python objects."""
        signals = []
        for i in range(len(self.signal_mc)):
            s: Dict[str, Any] = {
                "mc": float(self.signal_mc[i]),
                "delay_seconds": float(self.signal_delay[i]),
                "snr": self.snr[i].tolist(),
                "lag_seconds": self.lag[i].tolist(),
            }
            b = int(self.best_index[i])
            if b >= 0:
                s["best"] = {
                    "template_index": b,
                    "mc": float(self.bank_mc[b]),
                    "snr": float(self.snr[i, b]),
                    "lag_seconds": float(self.lag[i, b]),
                }
            signals.append(s)
        stats: Dict[str, Any] = {
            "templates": len(self.bank_mc),
            "signals": len(self.signal_mc),
            "workers": self.workers,
            "wall_seconds": self.wall_seconds,
        }
        if self.job_id is not None:
            stats["job_id"] = self.job_id
        return {
            "version": 1,
            "snr_convention": self.convention,
            "bank": {"mc": self.bank_mc.tolist()},
            "signals": signals,
            "stats": stats,
        }

    def __repr__(self) -> str:
        lines = [
            f"SearchResult({len(self.bank_mc)} templates × {len(self.signal_mc)} signal(s), "
            f"convention {self.convention!r}, {self.wall_seconds:.3f} s on {self.workers} worker(s))"
        ]
        for i in range(min(len(self.signal_mc), 10)):
            lines.append(
                f"  signal {i}: Mc {self.signal_mc[i]!r} -> best Mc {self.best_mc[i]!r}, "
                f"SNR {self.best_snr[i]!r}, lag {self.best_lag[i]!r} s"
            )
        if len(self.signal_mc) > 10:
            lines.append(f"  ... {len(self.signal_mc) - 10} more")
        return "\n".join(lines)


def _pick(rows: np.ndarray, index: np.ndarray) -> np.ndarray:
    out = np.full(len(index), np.nan)
    ok = index >= 0
    out[ok] = rows[np.nonzero(ok)[0], index[ok]]
    return out


@dataclass(frozen=True)
class PartialResult:
    """Results of templates ``start:stop`` of the bank, as they arrive while a job runs.

    ``snr`` and ``lag`` have shape ``(signals, stop - start)``; ``bank_mc`` are those templates'
    chirp masses.
    """

    start: int
    stop: int
    bank_mc: np.ndarray
    snr: np.ndarray
    lag: np.ndarray


#: A data search's triggers (one row each, in (segment, template, time) order).
TRIGGER_DTYPE = np.dtype(
    [
        ("template_index", np.int64),
        ("mc", np.float64),
        ("segment", np.int64),
        ("time", np.float64),
        ("snr", np.float64),
        ("phase", np.float64),
        ("sigmasq", np.float64),
        ("chisq", np.float64),
        ("chisq_dof", np.int64),
        ("reduced_chisq", np.float64),
        ("newsnr", np.float64),
    ]
)

#: Per template of a data search, its loudest sample.
PEAK_DTYPE = np.dtype(
    [
        ("mc", np.float64),
        ("max_snr", np.float64),
        ("max_time", np.float64),
        ("chisq", np.float64),
        ("newsnr", np.float64),
    ]
)


def _structured(columns: Dict[str, np.ndarray], dtype: np.dtype) -> np.ndarray:
    n = len(columns[dtype.names[0]])
    out = np.empty(n, dtype=dtype)
    for name in dtype.names:
        out[name] = columns[name]
    return out


@dataclass(frozen=True)
class DataResult:
    """A search of strain data: triggers above the threshold and each template's peak.

    Attributes:
        triggers: a numpy structured array (:data:`TRIGGER_DTYPE`), one row per trigger, in
            (segment, template, time) order; times are GPS seconds.
        templates: a structured array (:data:`PEAK_DTYPE`), per template in bank order, its
            loudest analysed sample.
        segments: analysis segments in the data.
        with_chisq: whether the χ² columns were computed (else χ² 0, newSNR = SNR).
        wall_seconds, workers, job_id: as in :class:`SearchResult`.

    Example:
        >>> r = chirpfarm.search(data=strain, sample_rate=4096, psd="aligo", bank="1.1:1.3:0.01")
        >>> r.triggers[r.triggers["snr"] > 8]["time"]
    """

    triggers: np.ndarray
    templates: np.ndarray
    segments: int
    with_chisq: bool
    wall_seconds: float
    workers: int
    job_id: Optional[str] = None
    _json: str = field(default="", repr=False)

    @classmethod
    def _from_native(cls, d: Dict[str, Any], job_id: Optional[str]) -> "DataResult":
        return cls(
            triggers=_structured(d["triggers"], TRIGGER_DTYPE),
            templates=_structured(d["templates"], PEAK_DTYPE),
            segments=int(d["segments"]),
            with_chisq=bool(d["with_chisq"]),
            wall_seconds=float(d["wall_seconds"]),
            workers=int(d["workers"]),
            job_id=job_id,
            _json=d["json"],
        )

    def to_dict(self) -> Dict[str, Any]:
        """The result as the CLI's ``--json`` document (schema version 2)."""
        return json.loads(self._json)

    def to_pandas(self) -> Any:
        """The triggers as a ``pandas.DataFrame`` (needs pandas: ``pip install pandas``)."""
        try:
            import pandas as pd
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError("DataResult.to_pandas() needs pandas: pip install pandas") from e
        return pd.DataFrame(self.triggers)

    def __repr__(self) -> str:
        best = ""
        if len(self.templates):
            i = int(np.argmax(self.templates["max_snr"]))
            t = self.templates[i]
            best = f", loudest: template {i} (Mc {t['mc']!r}) SNR {t['max_snr']:.2f} at {t['max_time']:.4f}"
        return (
            f"DataResult({len(self.triggers)} triggers, {len(self.templates)} templates, "
            f"{self.segments} segments{best})"
        )
