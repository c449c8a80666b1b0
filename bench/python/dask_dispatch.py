"""Dispatch overhead of Dask distributed: N no-op tasks on a local 2-process cluster.

LocalCluster(n_workers=2, threads_per_worker=1, processes=True); the cluster's start-up is timed
separately, then one untimed warm-up round of 100 tasks, then --repeats rounds of: submit --tasks
no-op tasks with client.map (distinct keys every round, so nothing is reused) and gather them.
The counterpart of `chirpfarm bench dispatch --tasks N --workers 2` (no-op tasks, one template
each, through the real coordinator over loopback gRPC). Prints one JSON line.
"""
import argparse, json, logging, time


def noop(i):
    return i


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    import dask
    import distributed
    from dask.distributed import Client, LocalCluster

    logging.getLogger("distributed").setLevel(logging.ERROR)
    t0 = time.perf_counter()
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           dashboard_address=None, silence_logs=logging.ERROR)
    client = Client(cluster)
    client.wait_for_workers(2)
    start_seconds = time.perf_counter() - t0
    client.gather(client.map(noop, range(-100, 0)))
    rounds = []
    for r in range(args.repeats):
        base = r * args.tasks
        t0 = time.perf_counter()
        futures = client.map(noop, range(base, base + args.tasks))
        res = client.gather(futures)
        secs = time.perf_counter() - t0
        assert res[-1] == base + args.tasks - 1
        del futures
        rounds.append({"seconds": secs, "tasks_per_second": args.tasks / secs})
    client.close()
    cluster.close()
    print(json.dumps({"benchmark": "dask-dispatch", "tasks": args.tasks, "workers": 2,
                      "threads_per_worker": 1, "processes": True,
                      "cluster_start_seconds": start_seconds, "rounds": rounds,
                      "dask": dask.__version__, "distributed": distributed.__version__}))


if __name__ == "__main__":
    main()
