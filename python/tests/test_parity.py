"""In-process results against the seed's numpy module (≤ 1e-9 relative) and against the CLI's
--json (bit for bit)."""

import json

import numpy as np
import pytest

import chirpfarm
import filtering as F  # the seed's numpy module (bench/python/filtering.py)

SEED_MCS = np.arange(0.8, 1.74, 0.01)


def rel(a, b):
    return np.max(np.abs(np.asarray(a) - np.asarray(b))) / np.max(np.abs(np.asarray(b)))


def test_template_is_the_seeds():
    for mc in (0.8, 1.2, 1.7399):
        t = chirpfarm.template(mc)
        assert t.shape == (65537,) and t.dtype == np.complex128
        assert rel(t, F.template(mc)) <= 1e-9
        assert rel(chirpfarm.template(mc, normalised=True), F.normtemplate(mc)) <= 1e-9


def test_seed_search_equals_the_seed_numpy_code():
    r = chirpfarm.search(signals=[1.2])
    # The bank is numpy.arange itself, element for element.
    assert np.array_equal(r.bank_mc, SEED_MCS)
    signal = F.template(1.2)
    want = np.array([F.maxsnr(signal, F.normtemplate(mc)) for mc in SEED_MCS])
    assert r.snr.shape == (1, 94) and r.lag.shape == (1, 94)
    assert rel(r.snr[0], want) <= 1e-9
    assert r.best_index[0] == np.argmax(want) == 40
    assert r.best_mc[0] == SEED_MCS[40]
    assert r.lag[0, 40] == 0.0


def test_an_array_bank_and_several_signals_match_numpy():
    bank = np.array([1.0, 1.3, 1.31, 1.6])
    r = chirpfarm.search(bank, [1.3, 1.55])
    assert np.array_equal(r.bank_mc, bank)
    for i, mc in enumerate((1.3, 1.55)):
        s = F.template(mc)
        want = [F.maxsnr(s, F.normtemplate(m)) for m in bank]
        assert rel(r.snr[i], want) <= 1e-9


def cli_arrays(doc):
    snr = np.array([s["snr"] for s in doc["signals"]])
    lag = np.array([s["lag_seconds"] for s in doc["signals"]])
    best = np.array([s["best"]["template_index"] for s in doc["signals"]])
    return np.array(doc["bank"]["mc"]), snr, lag, best


@pytest.mark.parametrize("convention", ["seed", "physical"])
def test_equal_to_the_cli_json_bit_for_bit(cli, convention):
    out = cli("search", "--bank", "0.8:1.74:0.005", "--signal-mc", "1.2,1.35,0.95",
              "--signal-delay", "1.5", "--snr-convention", convention, "--json", "--quiet")
    bank, snr, lag, best = cli_arrays(json.loads(out.stdout))
    r = chirpfarm.search("0.8:1.74:0.005", [1.2, 1.35, 0.95], delay=1.5, convention=convention)
    assert np.array_equal(r.bank_mc, bank)
    assert np.array_equal(r.snr, snr), np.max(np.abs(r.snr - snr))
    assert np.array_equal(r.lag, lag)
    assert np.array_equal(r.best_index, best)
    # The Python document is the CLI's, but for the wall time.
    doc = r.to_dict()
    cli_doc = json.loads(out.stdout)
    for d in (doc, cli_doc):
        d["stats"].pop("wall_seconds", None)
        d["stats"].pop("job_id", None)
    assert doc == cli_doc


def test_random_signals_are_the_clis(cli):
    out = cli("search", "--random-signals", "10", "--seed", "1", "--json", "--quiet")
    doc = json.loads(out.stdout)
    r = chirpfarm.search(random_signals=10, seed=1)
    assert np.array_equal(r.signal_mc, [s["mc"] for s in doc["signals"]])
    assert np.array_equal(r.snr, cli_arrays(doc)[1])


def test_threads_do_not_change_the_numbers():
    a = chirpfarm.search("0.8:1.74:0.01", [1.2, 1.4], threads=1)
    b = chirpfarm.search("0.8:1.74:0.01", [1.2, 1.4], threads=2)
    assert np.array_equal(a.snr, b.snr) and np.array_equal(a.lag, b.lag)


def _child_search(q):
    # In a forked child: the parent's compute threads do not exist here.
    r = chirpfarm.search(signals=[1.2, 1.0], threads=2)
    q.put((r.snr.tolist(), r.lag.tolist()))


def test_a_forked_child_searches_with_threads_of_its_own():
    # The in-process search keeps its compute threads for the process (made at import); a child
    # forked after a search (multiprocessing's default on Linux) must make its own, not wait
    # forever for its parent's.
    import multiprocessing as mp

    parent = chirpfarm.search(signals=[1.2, 1.0], threads=2)
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_child_search, args=(q,))
    p.start()
    try:
        snr, lag = q.get(timeout=60)
    finally:
        p.join(timeout=10)
        if p.is_alive():
            p.kill()
    assert p.exitcode == 0
    assert np.array_equal(np.array(snr), parent.snr)
    assert np.array_equal(np.array(lag), parent.lag)
    # And the parent's context still works after the fork.
    again = chirpfarm.search(signals=[1.2, 1.0], threads=2)
    assert np.array_equal(again.snr, parent.snr)


def test_a_fork_does_not_make_the_next_search_fault_its_buffers_in_again():
    # After a fork every page of the parent is copy-on-write until written again; the engine's
    # template slots and filter buffers are left out of children, so the first search after a
    # multiprocessing.Pool had run does not fault ~1,500 pages (~6 MB) back in.
    import os
    import resource

    def faults_of_a_search():
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        chirpfarm.search(signals=[1.2], threads=2)
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

    faults_of_a_search()
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    after_fork = faults_of_a_search()
    # ~250 measured (Python's own pages and the threads' stacks), ~1,500 with the buffers.
    assert after_fork < 700, after_fork


def test_the_first_search_of_a_process_finds_its_memory_mapped_already():
    # `import chirpfarm` makes the compute threads, maps their filter buffers and a template
    # slot each, so the first search does not take ~780 page faults for them (~18 measured:
    # Python's own allocations).
    import subprocess
    import sys

    code = (
        "import resource, chirpfarm\n"
        "f = resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
        "chirpfarm.search(signals=[1.2], threads=2)\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) < 250, out.stdout
