"""The lake table wired into the archive: what it costs a run to append, and what history and
baselines cost read from the table vs from the run documents, on the same archive in the
same run (ratios, not absolute times, are the result: the machine is shared).

    python bench/bench_lake_archive.py [--runs 100] [--models 50] [--s3]

Two archives get the same `--runs` summaries through the API, one with `table: true` and one
without: the mean time of an archived run (gate + commit + views, + the table append) is
compared. Then, on the table-on archive, `history MODEL`, `history SYMBOL` and the baseline
look-up of a whole summary are timed through the table and through the documents path (the
same archive opened without `table:`). With --s3 a moto server is started and both archives
live on it (needs the `remote` extra and moto).
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

from pytest_model_gate.api import TrainingArchiveManager
from pytest_model_gate.core.config import parse_config

SYMBOLS = ["AAPL", "MSFT", "BTCUSD", "ETHUSD", "SPY", "QQQ", "EURUSD"]


def summary(i: int, models: int) -> dict[str, Any]:
    rng = random.Random(i)
    out: dict[str, Any] = {"timestamp": f"run-{i}", "models": {}}
    for m in range(models):
        sym = SYMBOLS[m % len(SYMBOLS)]
        out["models"][f"{sym}_{m}H"] = {"symbol": sym, "metrics": {
            "fitness_score": [round(rng.uniform(0.4, 0.95), 4) for _ in range(4)],
            "profit_factor": round(rng.uniform(1.0, 2.5), 4),
            "consistency": round(rng.uniform(0.5, 0.95), 4),
            "max_drawdown": round(rng.uniform(0.02, 0.2), 4)}}
    return out


def best(fn: Callable[[], object], rounds: int = 5) -> float:
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def bench(root: str, runs: int, models: int) -> None:
    baseline = {"baseline": {"against": "last_approved", "window": 3}}
    on = TrainingArchiveManager(f"{root}/on", config=parse_config({**baseline, "table": True}))
    off = TrainingArchiveManager(f"{root}/off", config=parse_config(baseline))
    cost: dict[str, list[float]] = {"on": [], "off": []}
    for i in range(runs):
        data = summary(i, models)
        for name, archive in (("off", off), ("on", on)):
            t = time.perf_counter()
            archive.archive_training_run(data)
            cost[name].append(time.perf_counter() - t)
    docs = TrainingArchiveManager(f"{root}/on", config=parse_config(baseline))
    print(f"{runs} runs x {models} models at {root}")
    for name in ("off", "on"):
        c = cost[name]
        print(f"  archive a run, table {name:3}: mean {statistics.mean(c) * 1e3:7.1f} ms, "
              f"last 10 {statistics.mean(c[-10:]) * 1e3:7.1f} ms")
    print(f"  append overhead: x{statistics.mean(cost['on']) / statistics.mean(cost['off']):.2f}")
    model, symbol = f"{SYMBOLS[0]}_0H", SYMBOLS[1]
    ids = list(summary(0, models)["models"])
    checks: list[tuple[str, Callable[[TrainingArchiveManager], object]]] = [
        (f"history {model}", lambda a: a.get_model_history(model)),
        (f"history {symbol}", lambda a: a.get_symbol_history(symbol)),
        (f"baselines of {models} models", lambda a: a.baseline_values(
            ids, against="last_approved", window=3, metrics=["fitness", "profit_factor"])),
    ]
    assert on.table is not None
    for state in ("as appended", "after compact"):
        if state == "after compact":
            on.table.compact()
        files, size = on.table.file_stats()
        print(f"  table {state}: {files} data files, {size} bytes ({size / runs:.0f} B per run)")
        for label, fn in checks:
            if label.startswith("history"):  # (baselines may hold NaN: compared in the tests)
                assert fn(on) == fn(docs)
            t_table = best(lambda f=fn: f(on))  # type: ignore[misc]
            t_docs = best(lambda f=fn: f(docs))  # type: ignore[misc]
            print(f"    {label:28}: table {t_table * 1e3:7.1f} ms, documents "
                  f"{t_docs * 1e3:7.1f} ms (table/documents x{t_table / t_docs:.2f})")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--models", type=int, default=50)
    ap.add_argument("--s3", action="store_true")
    a = ap.parse_args()
    if a.s3:
        import logging
        import os
        import socket

        import boto3
        from moto.server import ThreadedMotoServer
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            free = int(sock.getsockname()[1])
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request else
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=free, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        os.environ.update({"AWS_ENDPOINT_URL": f"http://{host}:{port}",
                           "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x",
                           "AWS_DEFAULT_REGION": "us-east-1"})
        boto3.client("s3").create_bucket(Bucket="bench")
        try:
            bench("s3://bench/lake", a.runs, a.models)
        finally:
            server.stop()
        return
    with tempfile.TemporaryDirectory() as d:
        bench(d, a.runs, a.models)


if __name__ == "__main__":
    main()
