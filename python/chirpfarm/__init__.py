"""chirpfarm: ``multiprocessing.Pool`` for networked clusters, for template-bank searches.

The matched filter of the 2012 compu-salon note (``template(Mc)``, ``normtemplate``,
``maxsnr``) over a bank of chirp masses, from Python: numpy arrays in and out, the same numbers
as the seed's numpy module (≤ 1e-9 relative) and as the ``chirpfarm`` CLI's ``--json`` (bit for
bit), computed by chirpfarm's Rust engine — in this process, or on a farm of workers.

In-process::

    import chirpfarm
    r = chirpfarm.search(signals=[1.2])           # the seed's bank 0.8:1.74:0.01
    r.snr, r.lag, r.best_index                    # numpy arrays, bank order
    t = chirpfarm.template(1.2)                   # the seed's template(Mc), 65537 bins

Strain data (triggers as a structured array; ``r.to_pandas()`` with pandas)::

    r = chirpfarm.search(bank="1.1:1.4:0.01", data=strain, sample_rate=4096, psd="aligo")

On a farm (a coordinator and its workers, or an embedded one)::

    with chirpfarm.Farm("http://lab1:50051", token_file="token") as farm:
        r = farm.search(signals=[1.2, 1.35])      # progress bar; Ctrl-C leaves it running
        job = farm.submit(random_signals=100, seed=1)
        for part in job: ...                      # partial results in bank order
    with chirpfarm.Farm.local(workers=2) as farm: ...

Errors: ``ValueError`` (bad input), ``PermissionError`` (token refused), ``ConnectionError``
(coordinator unreachable), ``RuntimeError`` (the job failed), with the CLI's messages.
"""

from ._farm import Farm, Job
from ._results import PEAK_DTYPE, TRIGGER_DTYPE, DataResult, PartialResult, SearchResult
from ._search import prepare, search, template

#: The seed's bank, as ``START:STOP:STEP`` (``numpy.arange(0.8, 1.74, 0.01)``, 94 templates).
SEED_BANK = "0.8:1.74:0.01"

__version__ = "0.1.0"

__all__ = [
    "search",
    "template",
    "prepare",
    "Farm",
    "Job",
    "SearchResult",
    "DataResult",
    "PartialResult",
    "TRIGGER_DTYPE",
    "PEAK_DTYPE",
    "SEED_BANK",
]
