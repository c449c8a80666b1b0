"""``Farm`` and ``Job``: ``multiprocessing.Pool`` pointed at a chirpfarm coordinator.

A ``Farm`` is a connection to a coordinator (``Farm("http://host:50051")``) or an embedded
cluster in this process (``Farm.local(workers=2)``, as the CLI's default). Waiting happens in
short slices with the GIL released; Ctrl-C raises ``KeyboardInterrupt`` at once and asks
nothing: the job is left running (the message names it) unless ``cancel_on_interrupt=True``.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, Iterator, List, Optional, Union

import numpy as np

from . import _native
from ._progress import Bar
from ._results import DataResult, PartialResult, SearchResult
from ._search import prepare

__all__ = ["Farm", "Job"]

Result = Union[SearchResult, DataResult]


class Job:
    """A search submitted to a farm. Iterate over it for partial results in bank order.

    Example:
        >>> job = farm.submit(signals=[1.2, 1.35], bank="0.8:1.74:0.001")
        >>> for part in job:                      # PartialResult, templates start:stop
        ...     print(part.start, part.stop, part.snr.max())
        >>> r = job.results()                     # SearchResult
    """

    def __init__(self, native: "_native.Job", farm: "Farm") -> None:
        self._native = native
        self._farm = farm

    @property
    def id(self) -> str:
        """The job's id on the coordinator (``chirpfarm watch ID`` follows it too)."""
        return self._native.job_id

    def __repr__(self) -> str:
        done, total = self._native.counts()
        return f"Job({self.id!r}, {done}/{total} templates)"

    def progress(self) -> "tuple[int, int]":
        """``(templates done, templates in total)`` as the coordinator last reported."""
        return self._native.counts()

    def done(self) -> bool:
        """Whether the job has ended."""
        return self._native.wait(0.0)

    def cancel(self) -> str:
        """Cancels the job on the coordinator; returns its state (``"cancelled"``, or how it
        had already ended). Idempotent."""
        return self._native.cancel()

    def _interrupted(self, cancel: bool) -> KeyboardInterrupt:
        if cancel:
            try:
                state = self.cancel()
            except Exception as e:  # report the interrupt, not the failed cancel
                return KeyboardInterrupt(f"interrupted; cancelling {self.id} failed: {e}")
            return KeyboardInterrupt(f"interrupted: {self.id} {state}")
        url = self._farm.url
        return KeyboardInterrupt(
            f"interrupted: job {self.id} keeps running; `farm.job({self.id!r}).results()` "
            f"(or `chirpfarm watch {self.id} --coordinator {url}`) gets its results, "
            f"`farm.cancel({self.id!r})` stops it"
        )

    def wait(self, timeout: Optional[float] = None, progress: bool = False,
             cancel_on_interrupt: bool = False) -> bool:
        """Waits up to ``timeout`` seconds (forever if None) for the end; whether it ended.

        Ctrl-C raises ``KeyboardInterrupt`` within a fraction of a second, leaving the job
        running (the message says how to follow or stop it), or cancelling it when
        ``cancel_on_interrupt``.
        """
        bar = Bar(self.id, enabled=progress)
        try:
            if timeout is not None:
                return self._native.wait(timeout)
            while not self._native.wait(0.1):
                bar.update(*self._native.counts())
            bar.update(*self._native.counts(), force=True)
            return True
        except KeyboardInterrupt:
            raise self._interrupted(cancel_on_interrupt) from None
        finally:
            bar.close()

    def results(self, progress: bool = False, cancel_on_interrupt: bool = False) -> Result:
        """Waits for the end and returns the results (a :class:`SearchResult` or a
        :class:`DataResult`).

        Raises:
            RuntimeError: the job failed or was cancelled (the CLI's message).
            ConnectionError: the coordinator was lost and did not come back in 120 s.
            KeyboardInterrupt: Ctrl-C (see :meth:`wait`).
        """
        self.wait(progress=progress, cancel_on_interrupt=cancel_on_interrupt)
        d = self._native.result()
        job_id = None if self._farm.is_local else self.id
        if self._native.is_data:
            return DataResult._from_native(d, job_id)
        mc, delay = self._native.signals
        return SearchResult(
            bank_mc=self._native.bank_mc,
            signal_mc=np.asarray(mc, dtype=np.float64),
            signal_delay=np.asarray(delay, dtype=np.float64),
            snr=d["snr"],
            lag=d["lag"],
            best_index=d["best_index"],
            convention=self._native.convention,
            wall_seconds=float(d["wall_seconds"]),
            workers=int(d["workers"]),
            job_id=job_id,
        )

    def __iter__(self) -> Iterator[PartialResult]:
        """Yields the results as they arrive, in bank order: each a :class:`PartialResult`
        for the templates received since the previous one (signal searches; a data search
        yields nothing until its end). Ends when the job ends; raises as :meth:`results`."""
        bank = self._native.bank_mc
        start = 0
        try:
            while True:
                ended = self._native.wait(0.1)
                stop = self._native.received()
                if stop > start:
                    d = self._native.partial(start)
                    n = d["snr"].shape[1]
                    yield PartialResult(start, start + n, bank[start:start + n], d["snr"], d["lag"])
                    start += n
                if ended and self._native.received() <= start:
                    break
        except KeyboardInterrupt:
            raise self._interrupted(False) from None
        # A failed job raises here, as results() would.
        if self._native.is_data:
            return
        self._native.result()


class Farm:
    """A chirpfarm cluster: a coordinator and its workers, or an embedded one in-process.

    Use it as a context manager (an embedded cluster stops at the end of the block; jobs on a
    coordinator keep running there).

    Args:
        url: the coordinator, ``http://host:port`` (or ``https://`` with ``ca_file``).
        token_file: the file holding the coordinator's shared secret (else ``$CHIRPFARM_TOKEN``).
        ca_file: CA certificate (PEM) of an ``https://`` coordinator.

    Raises:
        ValueError: a bad URL (e.g. no scheme: the message says the fix), an unreadable token.
        PermissionError: the coordinator refused the token.
        ConnectionError: nothing answers at ``url``, or not a chirpfarm coordinator.

    Example:
        >>> with chirpfarm.Farm("http://lab1:50051", token_file="~/.chirpfarm-token") as farm:
        ...     r = farm.search(signals=[1.2])           # progress bar, then a SearchResult
        ...     print(farm.workers())
        >>> with chirpfarm.Farm.local(workers=2) as farm:  # the embedded cluster
        ...     r = farm.search(random_signals=10, seed=1)
    """

    def __init__(self, url: str, token_file: Union[None, str, "os.PathLike[str]"] = None,
                 ca_file: Union[None, str, "os.PathLike[str]"] = None, *,
                 _native_farm: Optional["_native.Farm"] = None) -> None:
        if _native_farm is not None:
            self._native = _native_farm
            return
        expand = lambda p: None if p is None else os.path.expanduser(os.fspath(p))  # noqa: E731
        self._native = _native.Farm(url, expand(token_file), expand(ca_file))

    @classmethod
    def local(cls, workers: int = 2, threads: Optional[int] = None, cache_mb: int = 1024) -> "Farm":
        """An embedded cluster in this process: a coordinator and
        ``workers`` worker daemons of ``threads`` compute threads each (default: the cores
        shared between them), each with ``cache_mb`` MB of template cache."""
        return cls("", _native_farm=_native.Farm.local(workers, threads, cache_mb))

    @property
    def url(self) -> str:
        """The coordinator's URL (``http://in-process`` for an embedded cluster, whose coordinator
        and workers talk over in-memory pipes: no port is opened)."""
        return self._native.url

    @property
    def is_local(self) -> bool:
        """Whether this is an embedded cluster."""
        return self._native.is_local

    def __repr__(self) -> str:
        kind = "local" if self.is_local else "remote"
        return f"Farm({self.url!r}, {kind})"

    def __enter__(self) -> "Farm":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        """Stops an embedded cluster (its jobs end); a remote farm's jobs keep running."""
        self._native.close()

    def submit(self, bank: Any = None, signals: Any = None, *, name: Optional[str] = None,
               chunk_size: Optional[int] = None, wait_for_workers: bool = True,
               **search_args: Any) -> Job:
        """Submits a search (arguments as :func:`chirpfarm.search`) and returns its
        :class:`Job` at once. ``name`` labels it in ``farm.jobs()``; ``chunk_size`` fixes the
        templates per task; ``wait_for_workers=False`` refuses it when no worker is
        registered."""
        p = prepare(bank, signals, remote=not self.is_local, **search_args)
        return self._submit(p, name=name, chunk_size=chunk_size, wait_for_workers=wait_for_workers)

    def _submit(self, p: "_native.Prepared", **kw: Any) -> Job:
        return Job(self._native.submit(p, kw.get("name"), kw.get("chunk_size"),
                                       kw.get("wait_for_workers", True)), self)

    def _run(self, p: "_native.Prepared", progress: bool, cancel_on_interrupt: bool) -> Result:
        job = self._submit(p)
        return job.results(progress=progress, cancel_on_interrupt=cancel_on_interrupt)

    def search(self, bank: Any = None, signals: Any = None, *, progress: bool = True,
               cancel_on_interrupt: bool = False, name: Optional[str] = None,
               chunk_size: Optional[int] = None, **search_args: Any) -> Result:
        """Runs a search on the farm and waits for it, with a progress bar on stderr
        (``progress=False`` for none); returns what :func:`chirpfarm.search` returns.

        Ctrl-C raises ``KeyboardInterrupt`` and leaves the job running on the coordinator (the
        message names it: ``farm.job(id).results()`` picks it up) unless
        ``cancel_on_interrupt=True``.

        Example:
            >>> r = farm.search("0.8:1.74:0.001", signals=[1.2, 1.35])
            >>> r.best_mc
            array([1.2  , 1.35 ])
        """
        p = prepare(bank, signals, remote=not self.is_local, **search_args)
        job = self._submit(p, name=name, chunk_size=chunk_size)
        return job.results(progress=progress, cancel_on_interrupt=cancel_on_interrupt)

    def job(self, job_id: str) -> Job:
        """A job already on the coordinator, by id (to wait for, iterate or cancel)."""
        return Job(self._native.job(job_id), self)

    def cancel(self, job_id: str) -> str:
        """Cancels a job by id; its state afterwards."""
        return self._native.cancel(job_id)

    def jobs(self) -> List[Dict[str, Any]]:
        """The coordinator's jobs, as ``chirpfarm jobs --json`` lists them (dicts)."""
        return json.loads(self._native.jobs_json())

    def workers(self) -> List[Dict[str, Any]]:
        """The registered workers, as ``chirpfarm workers --json`` lists them (dicts)."""
        return json.loads(self._native.workers_json())
