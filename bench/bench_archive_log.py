"""Archive cost at 10, 100 and 1,000 runs, locally and on S3 (moto's server on loopback).

    python bench/bench_archive_log.py [--sizes 10,100,1000] [--models 10] [--rounds 5]
                                      [--backends local,s3]

For each backend and size, an archive of that many runs is built through the real write path
(`archive_training_run`: commit record, commit log with its checkpoints, views), then each
operation is timed (median of --rounds) and its storage reads counted (objects read:
`read` = 1, `read_many` = one per key, `listdir` = 1 per call):

- append: `archive_training_run` of a new summary;
- latest: `latest_run()`; approved: `get_approved_models()`;
- history: `get_model_history(model, last=10)` (`history X --last 10`: the newest 10 runs);
- baselines: `baseline_values(every model of a summary, against="last", window=1)`;
- history all: `get_model_history(model)`, every run (one entry per run: its output grows
  with the runs, so it has no <= 2x goal; its cost per entry is printed instead).

Prints a table per backend with the ratio of each figure at the largest size to the smallest.
Goal (DESIGN "Scale"): append, latest, approved, history (--last 10) and baselines each at
1,000 runs <= 2x its cost at 10.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from archive_writer import make_summary

from pytest_model_gate.api import TrainingArchiveManager
from pytest_model_gate.archive.storage import FsspecStorage, LocalStorage

READS = {"n": 0}
ENTRIES: dict[str, int] = {}  # archive url -> entries of the full history measured


def _count(cls: type, name: str, per_key: bool) -> None:
    orig = getattr(cls, name)

    def wrapped(self: Any, *args: Any, **kw: Any) -> Any:
        if per_key:
            keys = list(args[0])
            READS["n"] += len(keys)
            return orig(self, keys, *args[1:], **kw)
        READS["n"] += 1
        return orig(self, *args, **kw)

    setattr(cls, name, wrapped)


for _cls in (LocalStorage, FsspecStorage):
    _count(_cls, "read", False)
    _count(_cls, "listdir", False)
    _count(_cls, "read_many", True)


@contextmanager
def moto() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    os.environ.update({"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
                       "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                       "AWS_DEFAULT_REGION": "us-east-1"})
    import boto3

    boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"]).create_bucket(
        Bucket="bench-archive")
    try:
        yield "s3://bench-archive"
    finally:
        server.stop()


@contextmanager
def _nothing() -> Iterator[str]:
    yield ""


def measure(fn: Callable[[], Any], rounds: int) -> tuple[float, int]:
    times, reads = [], []
    for _ in range(rounds):
        READS["n"] = 0
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
        reads.append(READS["n"])
    return statistics.median(times), int(statistics.median(reads))


def bench(url: str, size: int, models: int, rounds: int) -> dict[str, tuple[float, int]]:
    manager = TrainingArchiveManager(url)
    for i in range(size):
        manager.archive_training_run(make_summary(size, i, models=models))
    fresh = TrainingArchiveManager(url)
    counter = iter(range(10_000, 20_000))
    wanted = list(make_summary(0, 0, models=models)["models"])
    return {
        "append": measure(lambda: fresh.archive_training_run(
            make_summary(size, next(counter), models=models)), rounds),
        "latest": measure(fresh.latest_run, rounds),
        "approved": measure(fresh.get_approved_models, rounds),
        "history": measure(lambda: fresh.get_model_history("AAPL_0H", last=10), rounds),
        "baselines": measure(lambda: fresh.baseline_values(
            wanted, against="last", window=1, metrics=["fitness"]), rounds),
        "history all": measure(lambda: ENTRIES.__setitem__(
            url, len(fresh.get_model_history("AAPL_0H"))), rounds),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10,100,1000")
    parser.add_argument("--models", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--backends", default="local,s3")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    for backend in args.backends.split(","):
        results: dict[int, dict[str, tuple[float, int]]] = {}
        with tempfile.TemporaryDirectory() as tmp, \
                (moto() if backend == "s3" else _nothing()) as bucket:
            entries: dict[int, int] = {}
            for size in sizes:
                url = (os.path.join(tmp, f"a{size}") if backend == "local"
                       else f"{bucket}/a{uuid.uuid4().hex[:8]}")
                results[size] = bench(url, size, args.models, args.rounds)
                entries[size] = ENTRIES[url]
                print(f"{backend}: built and measured {size} runs", file=sys.stderr)
        ops = list(results[sizes[0]])
        print(f"\n{backend} ({args.models} models per run): median ms / objects read")
        print("op".ljust(12) + "".join(f"{s:>18}" for s in sizes) + "   ratio ms, reads")
        for op in ops:
            cells = "".join(f"{results[s][op][0] * 1000:>11.1f} / {results[s][op][1]:<4}"
                            for s in sizes)
            lo, hi = results[sizes[0]][op], results[sizes[-1]][op]
            print(op.ljust(12) + cells + f"   {hi[0] / lo[0]:.2f}x, "
                  f"{hi[1] / max(lo[1], 1):.2f}x")
        # the full history has one entry per run: its cost per entry
        per_entry = "".join(f"{results[s]['history all'][0] * 1e6 / entries[s]:>10.1f} us"
                            f" / {entries[s]:<4}" for s in sizes)
        print("per entry".ljust(12) + per_entry + "   (us per entry / entries)")


if __name__ == "__main__":
    main()
