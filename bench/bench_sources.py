"""Source readers at scale (issue 12): not part of the test command.

    .venv/bin/python bench/bench_sources.py            # both, ~1 minute
    .venv/bin/python bench/bench_sources.py --only mlflow --repeat 5

mlflow: an MLflow sqlite store (the committed fixture's real schema) with 1,000 runs x 4
metrics x 100 steps = 400,000 metric rows; `read_source("mlflow:sqlite:///...")` against a
raw `SELECT ... FROM metrics` of the same rows with sqlite3 (goal: under 2 s).
tensorboard: a log folder of 50 runs, each one event file with 2 scalar tags x 10,000 steps
(1,000,000 events, one scalar per event as torch / tensorboardX write them);
`read_source("tensorboard:...")` against reading the same files' bytes (goal: under 5 s).
Each measurement is in-process, interleaved with its baseline, after one warm-up round;
the table shows the median and the minimum of `--repeat` rounds.
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import statistics
import struct
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pytest_model_gate.sources import read_source  # noqa: E402
from pytest_model_gate.sources.tfevents import masked_crc  # noqa: E402

FIXTURE_DB = ROOT / "tests" / "sources" / "fixtures" / "mlflow" / "mlflow.db"


def make_mlflow(path: Path, runs: int = 1000, metrics: int = 4, steps: int = 100) -> int:
    shutil.copy(FIXTURE_DB, path)
    conn = sqlite3.connect(path)
    for table in ("metrics", "latest_metrics", "tags", "params", "runs"):
        conn.execute(f"DELETE FROM {table}")
    conn.execute("DELETE FROM experiments WHERE experiment_id != 0")
    conn.execute("INSERT INTO experiments (experiment_id, name, artifact_location, "
                 "lifecycle_stage) VALUES (7, 'bench', 'mlruns/7', 'active')")
    cols = [r[1] for r in conn.execute("PRAGMA table_info(runs)")]
    rows = 0
    for r in range(runs):
        run_id = f"{r:032x}"
        values = {"run_uuid": run_id, "name": f"run-{r}", "experiment_id": 7,
                  "lifecycle_stage": "active", "status": "FINISHED", "start_time": 1000 + r,
                  "source_type": "LOCAL", "source_name": "", "entry_point_name": "",
                  "user_id": "bench", "source_version": "", "artifact_uri": ""}
        names = [c for c in cols if c in values]
        conn.execute(f"INSERT INTO runs ({', '.join(names)}) VALUES "
                     f"({', '.join('?' * len(names))})", [values[c] for c in names])
        batch = [(f"m{k}", 0.5 + 0.004 * s + 0.0001 * r, 1700000000000 + s, run_id, s, 0)
                 for k in range(metrics) for s in range(steps)]
        conn.executemany("INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) "
                         "VALUES (?, ?, ?, ?, ?, ?)", batch)
        rows += len(batch)
    conn.commit()
    conn.close()
    return rows


def raw_select(path: Path) -> int:
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    rows = conn.execute("SELECT run_uuid, key, step, timestamp, value, is_nan "
                        "FROM metrics").fetchall()
    conn.close()
    return len(rows)


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _event(step: int, tag: str, value: float) -> bytes:
    t = tag.encode()
    val = b"\x0a" + _varint(len(t)) + t + b"\x15" + struct.pack("<f", value)
    summary = b"\x0a" + _varint(len(val)) + val
    return (b"\x09" + struct.pack("<d", 1.7e9 + step) + b"\x10" + _varint(step)
            + b"\x2a" + _varint(len(summary)) + summary)


def _record(data: bytes) -> bytes:
    head = struct.pack("<Q", len(data))
    return (head + struct.pack("<I", masked_crc(head)) + data
            + struct.pack("<I", masked_crc(data)))


def make_tensorboard(root: Path, runs: int = 50, points: int = 10_000) -> int:
    events = 0
    for r in range(runs):
        folder = root / f"run-{r:02d}"
        folder.mkdir(parents=True)
        out = bytearray(_record(b"\x09" + struct.pack("<d", 1.7e9) + b"\x1a\x0dbrain.Event:2"))
        for s in range(1, points + 1):
            out += _record(_event(s, "val/acc", 0.5 + 0.00004 * s))
            out += _record(_event(s, "val/loss", 1.0 - 0.00004 * s))
            events += 2
        (folder / f"events.out.tfevents.1700000000.bench.{r}.0").write_bytes(bytes(out))
    return events


def raw_read(root: Path) -> int:
    return sum(len(p.read_bytes()) for p in root.rglob("events.out.tfevents.*"))


def measure(pairs: list[tuple[str, Callable[[], object]]], repeat: int
            ) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name, _ in pairs}
    for _name, fn in pairs:  # warm-up (page cache, imports)
        fn()
    for _ in range(repeat):
        for name, fn in pairs:
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return times


def report(title: str, times: dict[str, list[float]], baseline: str, goal: float) -> None:
    print(f"\n{title}")
    print(f"{'what':<34}{'median s':>10}{'min s':>9}{'x baseline':>12}")
    base = statistics.median(times[baseline])
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"{name:<34}{med:>10.3f}{min(ts):>9.3f}{med / base:>12.1f}")
    reader = next(n for n in times if n != baseline)
    ok = statistics.median(times[reader]) < goal
    print(f"goal: {reader} under {goal:g} s: {'met' if ok else 'NOT met'}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("mlflow", "tensorboard"))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        if args.only in (None, "mlflow"):
            db = tmp_path / "mlflow.db"
            rows = make_mlflow(db)
            spec = f"mlflow:sqlite:///{db}"
            read = read_source(spec)
            points = sum(len(s) for m in read.models for s in m.points.values())
            assert len(read.models) == 1000 and points == rows, (len(read.models), points)
            report(f"MLflow sqlite: 1,000 runs x 4 metrics x 100 steps ({rows:,} rows)",
                   measure([("raw sqlite3 SELECT of the rows", lambda: raw_select(db)),
                            ("read_source(mlflow:sqlite:///...)",
                             lambda: read_source(spec))], args.repeat),
                   "raw sqlite3 SELECT of the rows", 2.0)
        if args.only in (None, "tensorboard"):
            logs = tmp_path / "logs"
            events = make_tensorboard(logs)
            spec = f"tensorboard:{logs}"
            read = read_source(spec)
            points = sum(len(s) for m in read.models for s in m.points.values())
            assert len(read.models) == 50 and points == events, (len(read.models), points)
            report(f"TensorBoard: 50 runs x 2 tags x 10,000 steps ({events:,} events)",
                   measure([("raw read of the event files", lambda: raw_read(logs)),
                            ("read_source(tensorboard:...)", lambda: read_source(spec))],
                           args.repeat),
                   "raw read of the event files", 5.0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
