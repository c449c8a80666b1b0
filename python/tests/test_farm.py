"""A real coordinator and two worker processes on 127.0.0.1: farm.search, submit, iteration,
jobs, workers, cancel; and a worker killed (SIGKILL, by PID) mid-search changes nothing."""

import numpy as np

import chirpfarm
from conftest import wait_for


def test_farm_search_equals_the_in_process_search(cluster_factory):
    c = cluster_factory()
    c.add_worker("w1")
    c.add_worker("w2")
    with chirpfarm.Farm(c.url) as farm:
        wait_for(lambda: len(farm.workers()) == 2, what="two workers")
        names = sorted(w["name"] for w in farm.workers())
        assert names == ["w1", "w2"]
        r = farm.search("0.8:1.74:0.005", [1.2, 1.45], chunk_size=16, progress=False)
        ref = chirpfarm.search("0.8:1.74:0.005", [1.2, 1.45])
        assert np.array_equal(r.snr, ref.snr) and np.array_equal(r.lag, ref.lag)
        assert np.array_equal(r.best_index, ref.best_index)
        assert r.job_id is not None and r.job_id.startswith("job-")
        assert r.workers == 2

        job = farm.submit("0.8:1.74:0.002", [1.3], chunk_size=20, name="iter")
        parts = list(job)
        assert parts[0].start == 0
        assert all(a.stop == b.start for a, b in zip(parts, parts[1:]))
        assert parts[-1].stop == 470
        snr = np.concatenate([p.snr for p in parts], axis=1)
        assert np.array_equal(snr, job.results().snr)
        assert np.array_equal(snr, chirpfarm.search("0.8:1.74:0.002", [1.3]).snr)

        listed = {j["job_id"]: j for j in farm.jobs()}
        assert listed[job.id]["state"] == "succeeded"
        assert listed[job.id]["name"] == "iter"
        assert farm.cancel(job.id) == "succeeded"  # already ended: left as it was


def test_a_killed_worker_gives_identical_arrays(cluster_factory):
    c = cluster_factory("--heartbeat-timeout", "1")
    w1 = c.add_worker("w1")
    c.add_worker("w2")
    bank, signals = "0.8:1.74:0.001", [1.2, 1.3, 1.5, 1.65]
    with chirpfarm.Farm(c.url) as farm:
        wait_for(lambda: len(farm.workers()) == 2, what="two workers")
        job = farm.submit(bank, signals, chunk_size=20)
        wait_for(lambda: job.progress()[0] > 0, what="first results")
        done, total = job.progress()
        assert done < total, "the job ended before the worker could be killed"
        w1.kill()  # SIGKILL, by PID
        r = job.results()
    ref = chirpfarm.search(bank, signals)
    assert np.array_equal(r.snr, ref.snr)
    assert np.array_equal(r.lag, ref.lag)


def test_local_farm_runs_the_embedded_cluster():
    with chirpfarm.Farm.local(workers=2, threads=1) as farm:
        assert farm.is_local and farm.url == "http://in-process"
        wait_for(lambda: len(farm.workers()) == 2, what="two embedded workers")
        r = farm.search(random_signals=3, seed=4, progress=False)
        assert r.job_id is None  # an embedded job's id means nothing outside this process
    ref = chirpfarm.search(random_signals=3, seed=4)
    assert np.array_equal(r.snr, ref.snr) and np.array_equal(r.signal_mc, ref.signal_mc)


def test_a_cancelled_job_raises_runtime_error(cluster_factory):
    c = cluster_factory()  # no workers: the job waits
    with chirpfarm.Farm(c.url) as farm:
        job = farm.submit(signals=[1.2])
        assert not job.wait(timeout=0.2)
        assert job.cancel() == "cancelled"
        try:
            job.results()
        except RuntimeError as e:
            assert job.id in str(e) and "cancelled" in str(e)
        else:
            raise AssertionError("a cancelled job returned results")
