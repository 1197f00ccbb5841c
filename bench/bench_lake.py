"""Lake table size and what compaction buys: bytes per run and per model row, data files,
and the time of a one-model history read before and after `compact` (same run, same table).

    python bench/bench_lake.py [--runs 100] [--models 50]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from lake_support import run

from pytest_model_gate.archive.lake import LakeTable


def _tree_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def _history_time(table: LakeTable, model: str, rounds: int = 5) -> float:
    best = float("inf")
    for _ in range(rounds):
        t = time.perf_counter()
        table.history(model_id=model)
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--models", type=int, default=50)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        root = Path(d) / "t"
        table = LakeTable(str(root))
        t = time.perf_counter()
        for n in range(a.runs):
            table.append([run(n, a.models, noisy=True)])
        append_s = (time.perf_counter() - t) / a.runs
        files, data = table.file_stats()
        total = _tree_bytes(root)
        rows = a.runs * a.models
        before = _history_time(table, "SYM3_M3")
        res = table.compact()
        after = _history_time(table, "SYM3_M3")
        total_after = _tree_bytes(root)
        print(f"{a.runs} runs x {a.models} models = {rows} rows; "
              f"append {append_s * 1000:.0f} ms/run")
        print(f"before compact: {files} data files, data {data} B "
              f"({data / a.runs:.0f} B/run, {data / rows:.0f} B/row), "
              f"folder with log {total} B")
        print(f"after compact:  {res.files_after} data files, data {res.bytes_after} B "
              f"({res.bytes_after / a.runs:.0f} B/run, {res.bytes_after / rows:.1f} B/row), "
              f"folder with log {total_after} B")
        print(f"history of one model: {before * 1000:.1f} ms before, {after * 1000:.1f} ms "
              f"after ({before / after:.1f}x)")


if __name__ == "__main__":
    main()
