"""A writer process for the archive reliability tests (run as a script, not collected).

    python archive_writer.py ARCHIVE WRITER COUNT [--crash-after N] [--seed S]

Archives COUNT distinct summaries (COUNT 0 = forever) and prints "ready" once imported, then
each committed run id on its own line. With --crash-after N the process SIGKILLs itself at its
N-th storage operation, sometimes after writing only part of the bytes (a torn write).
"""

from __future__ import annotations

import argparse
import os
import random
import signal
from pathlib import Path
from typing import Any

from pytest_model_gate.api import TrainingArchiveManager
from pytest_model_gate.archive import storage
from pytest_model_gate.archive import views as archive_views

SYMBOLS = ["AAPL", "MSFT", "BTCUSD", "ETHUSD", "SPY"]


def make_summary(writer: int, i: int, models: int = 5) -> dict[str, Any]:
    """A small summary; values depend on (writer, i) so every run is distinct."""
    rng = random.Random(writer * 100_003 + i)
    out: dict[str, Any] = {"timestamp": f"w{writer}-{i}", "validation_interval": 40,
                           "writer": writer, "i": i, "models": {}}
    for m in range(models):
        sym = SYMBOLS[m % len(SYMBOLS)]
        fit = [round(rng.uniform(0.4, 0.95), 4) for _ in range(4)]
        out["models"][f"{sym}_{m}H"] = {"symbol": sym, "metrics": {
            "fitness_score": fit,
            "profit_factor": round(rng.uniform(1.0, 2.5), 4),
            "consistency": round(rng.uniform(0.5, 0.95), 4),
            "max_drawdown": round(rng.uniform(0.02, 0.2), 4)}}
    return out


def _install_crash(after: int, rng: random.Random) -> None:
    """SIGKILL this process at the N-th storage operation (create, replace, shard append)."""
    count = {"n": 0}

    def die() -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    def tick() -> bool:
        count["n"] += 1
        return count["n"] >= after

    def wrap_write(orig: Any) -> Any:
        def wrapped(self: Any, key: str, data: bytes, **kw: Any) -> None:
            if tick():
                if rng.random() < 0.5 and isinstance(self, storage.LocalStorage):
                    # a torn temp file: the final name must never see it
                    tmp = self.path(key).parent / storage.temp_name(self.path(key).name)
                    tmp.parent.mkdir(parents=True, exist_ok=True)
                    tmp.write_bytes(data[: len(data) // 2])
                die()
            orig(self, key, data, **kw)
        return wrapped

    def wrap_append(orig: Any) -> Any:
        def wrapped(path: Path, lines: Any, *rest: Any) -> None:
            if tick():
                if rng.random() < 0.7 and lines:
                    with open(path, "ab") as f:  # a torn line at the end of the file
                        blob = b"".join(line + b"\n" for line in lines)
                        f.write(blob[: max(1, len(blob) - 7)])
                die()
            orig(path, lines, *rest)
        return wrapped

    storage.LocalStorage.create = wrap_write(storage.LocalStorage.create)  # type: ignore[method-assign]
    storage.LocalStorage.replace = wrap_write(storage.LocalStorage.replace)  # type: ignore[method-assign]
    storage.FsspecStorage.create = wrap_write(storage.FsspecStorage.create)  # type: ignore[method-assign]
    storage.FsspecStorage.replace = wrap_write(storage.FsspecStorage.replace)  # type: ignore[method-assign]
    archive_views._append_after = wrap_append(archive_views._append_after)  # type: ignore[assignment]
    archive_views._append_lines = wrap_append(archive_views._append_lines)  # type: ignore[assignment]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("archive")
    parser.add_argument("writer", type=int)
    parser.add_argument("count", type=int)
    parser.add_argument("--crash-after", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    if args.crash_after:
        _install_crash(args.crash_after, rng)
    manager = TrainingArchiveManager(args.archive)
    print("ready", flush=True)
    i = 0
    while args.count == 0 or i < args.count:
        run = manager.archive_training_run(make_summary(args.writer, i))
        print(run.run_id, flush=True)
        i += 1


if __name__ == "__main__":
    main()
