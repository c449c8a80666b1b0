#!/usr/bin/env python3
"""A third-party chirpfarm client in Python: the seed search over gRPC, without the CLI.

It generates its gRPC stubs from proto/proto/chirpfarm.proto at run time (grpcio-tools, into a
temporary directory: nothing generated is kept), submits a bank search (by default the seed's:
bank 0.8:1.74:0.01, one signal of chirp mass 1.2), watches it to the end and prints the result
as JSON in the shape of `chirpfarm search --json` (schema version 1).

    pip install grpcio grpcio-tools
    python3 chirpfarm_client.py --coordinator 127.0.0.1:50051 [--token-file FILE]

See docs/protocol.md for what each call means. Exit codes as the CLI's: 0 success, 1 the job
failed, 2 bad input, 3 the coordinator cannot be reached.
"""

import argparse
import importlib
import json
import math
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_PROTO = os.path.normpath(os.path.join(HERE, "..", "..", "..", "proto", "proto", "chirpfarm.proto"))

# Watch errors worth reconnecting on (the coordinator restarted, the connection dropped): the
# same set the CLI retries.
TRANSIENT = {"UNAVAILABLE", "UNKNOWN", "CANCELLED", "ABORTED"}
RECONNECT_FOR_SECONDS = 120.0


def fail(code, message):
    print(f"error: {message}", file=sys.stderr)
    sys.exit(code)


def load_stubs(proto_path, out_dir):
    """Compiles the .proto with grpcio-tools into out_dir and imports the generated modules."""
    from grpc_tools import protoc

    try:
        import importlib.resources as resources

        include = str(resources.files("grpc_tools") / "_proto")
    except (ImportError, AttributeError):  # Python < 3.9
        import pkg_resources

        include = pkg_resources.resource_filename("grpc_tools", "_proto")
    proto_dir, proto_file = os.path.split(os.path.abspath(proto_path))
    rc = protoc.main(
        [
            "grpc_tools.protoc",
            f"-I{proto_dir}",
            f"-I{include}",
            f"--python_out={out_dir}",
            f"--grpc_python_out={out_dir}",
            proto_file,
        ]
    )
    if rc != 0:
        fail(2, f"cannot compile {proto_path} (grpc_tools.protoc exited {rc})")
    sys.path.insert(0, out_dir)
    stem = os.path.splitext(proto_file)[0]
    return importlib.import_module(f"{stem}_pb2"), importlib.import_module(f"{stem}_pb2_grpc")


def parse_bank(text):
    """START:STOP:STEP, as the CLI's --bank."""
    parts = text.split(":")
    try:
        start, stop, step = (float(p) for p in parts)
    except ValueError:
        fail(2, f"--bank must be START:STOP:STEP (three numbers), got {text!r}")
    if not (math.isfinite(start) and math.isfinite(stop) and math.isfinite(step) and step > 0):
        fail(2, f"--bank needs finite bounds and a positive step, got {text!r}")
    return start, stop, step


def bank_masses(start, stop, step):
    """numpy.arange(start, stop, step), exactly as the coordinator and workers compute it."""
    n = max(0, math.ceil((stop - start) / step))
    delta = (start + step) - start
    return [start + i * delta for i in range(n)]


def token(args):
    if args.token_file:
        try:
            with open(args.token_file, encoding="utf-8") as f:
                text = f.readline().strip()  # the first line, as the CLI reads it
        except OSError as e:
            fail(2, f"cannot read the token file {args.token_file}: {e.strerror}")
        if not text:
            fail(2, f"the token file {args.token_file} is empty")
        return text
    return os.environ.get("CHIRPFARM_TOKEN") or None


def target_of(url):
    """A grpcio target from the CLI's URL forms (http://host:port or host:port)."""
    if url.startswith("https://"):
        fail(2, "this example speaks plaintext only; for TLS use grpc.secure_channel with the CA")
    return url[len("http://"):] if url.startswith("http://") else url


def best_template(snrs):
    """The first template of highest SNR (as chirpfarm_core::best_template)."""
    best = None
    for i, s in enumerate(snrs):
        if best is None or s > snrs[best]:
            best = i
    return best


def run(args, pb, rpc):
    import grpc

    start, stop, step = parse_bank(args.bank)
    masses = bank_masses(start, stop, step)
    if not masses:
        fail(2, f"the bank {args.bank} has no template")
    tok = token(args)
    metadata = [("authorization", f"Bearer {tok}")] if tok else []
    channel = grpc.insecure_channel(target_of(args.coordinator))
    try:
        grpc.channel_ready_future(channel).result(timeout=args.connect_timeout)
    except grpc.FutureTimeoutError:
        fail(3, f"cannot reach the coordinator at {args.coordinator}")
    client = rpc.ClientStub(channel)

    spec = pb.SearchSpec(
        bank=pb.Bank(range=pb.RangeBank(start=start, stop=stop, step=step)),
        signals=[pb.Signal(mc=mc, delay_seconds=0.0) for mc in args.signal_mc],
        convention=pb.SNR_CONVENTION_SEED,
    )
    try:
        sub = client.Submit(
            pb.SubmitRequest(spec=spec, chunk_size=0, wait_for_workers=True),
            metadata=metadata,
            timeout=30,
        )
    except grpc.RpcError as e:
        code = e.code().name
        fail(3 if code == "UNAVAILABLE" else 2 if code in ("INVALID_ARGUMENT", "RESOURCE_EXHAUSTED", "UNAUTHENTICATED", "PERMISSION_DENIED", "FAILED_PRECONDITION") else 1, e.details())

    n = len(masses)
    snr = [[None] * n for _ in spec.signals]
    lag = [[None] * n for _ in spec.signals]
    cursor, workers, finished = 0, 0, None
    lost_since = None
    while finished is None:
        before = cursor
        try:
            for ev in client.Watch(pb.WatchRequest(job_id=sub.job_id, cursor=cursor), metadata=metadata):
                kind = ev.WhichOneof("event")
                if kind == "progress":
                    workers = ev.progress.workers
                elif kind == "block":
                    b = ev.block
                    # Blocks arrive in bank order from the cursor: each starts where we are.
                    if b.start != cursor or len(b.signals) != len(spec.signals):
                        fail(1, f"protocol error: block at {b.start} (+{b.count}) while at {cursor}")
                    for si, sb in enumerate(b.signals):
                        if len(sb.snr) != b.count or len(sb.lag_seconds) != b.count:
                            fail(1, "protocol error: a block with the wrong number of values")
                        snr[si][b.start:b.start + b.count] = list(sb.snr)
                        lag[si][b.start:b.start + b.count] = list(sb.lag_seconds)
                    cursor += b.count
                elif kind == "finished":
                    finished = ev.finished
                    break
            else:
                raise ConnectionError("the watch stream ended before the job did")
        except (grpc.RpcError, ConnectionError) as e:
            code = e.code().name if isinstance(e, grpc.RpcError) else "UNAVAILABLE"
            why = e.details() if isinstance(e, grpc.RpcError) else str(e)
            if code not in TRANSIENT:
                fail(2 if code in ("NOT_FOUND", "INVALID_ARGUMENT") else 1, why)
            if cursor > before:
                lost_since = None
            lost_since = lost_since or time.monotonic()
            if time.monotonic() - lost_since > RECONNECT_FOR_SECONDS:
                fail(3, f"lost the coordinator ({why}); the job may still be running: watch {sub.job_id} later")
            time.sleep(0.5)

    state = pb.JobState.Name(finished.state)
    if state != "JOB_STATE_SUCCEEDED":
        why = f": {finished.error}" if finished.error else ""
        fail(1, f"{sub.job_id} ended {state.replace('JOB_STATE_', '').lower()}{why}")
    if cursor != n:
        fail(1, f"{sub.job_id} was reported complete but only {cursor} of {n} results arrived")

    signals = []
    for s, snrs, lags in zip(spec.signals, snr, lag):
        b = best_template(snrs)
        signals.append(
            {
                "mc": s.mc,
                "delay_seconds": s.delay_seconds,
                "best": {"template_index": b, "mc": masses[b], "snr": snrs[b], "lag_seconds": lags[b]},
                "snr": snrs,
                "lag_seconds": lags,
            }
        )
    doc = {
        "version": 1,
        "snr_convention": "seed",
        "bank": {"mc": masses},
        "signals": signals,
        "stats": {
            "templates": n,
            "signals": len(signals),
            "wall_seconds": finished.wall_seconds,
            "workers": workers,
            "job_id": sub.job_id,
        },
    }
    print(json.dumps(doc))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--coordinator", default=os.environ.get("CHIRPFARM_COORDINATOR", "127.0.0.1:50051"),
                   help="host:port or http://host:port (default: $CHIRPFARM_COORDINATOR or 127.0.0.1:50051)")
    p.add_argument("--token-file", help="client token file (default: $CHIRPFARM_TOKEN, or none)")
    p.add_argument("--bank", default="0.8:1.74:0.01", help="START:STOP:STEP chirp masses (default: the seed's)")
    p.add_argument("--signal-mc", type=float, action="append",
                   help="chirp mass of a signal, repeatable (default: 1.2)")
    p.add_argument("--proto", default=DEFAULT_PROTO, help="path of chirpfarm.proto (default: this repository's)")
    p.add_argument("--connect-timeout", type=float, default=5.0, help="seconds to wait for the connection")
    args = p.parse_args()
    args.signal_mc = args.signal_mc or [1.2]
    if not os.path.isfile(args.proto):
        fail(2, f"no proto file at {args.proto} (pass --proto)")
    with tempfile.TemporaryDirectory(prefix="chirpfarm-stubs-") as tmp:
        pb, rpc = load_stubs(args.proto, tmp)
        run(args, pb, rpc)


if __name__ == "__main__":
    main()
