"""Run documents for the lake table tests, and writer processes (python -m lake_support).

    python -m lake_support URL WRITER RUNS MODELS [compact]      rows straight to a table
    python -m lake_support archive ARCHIVE WRITER RUNS [--die-at-append] [--table URL|--no-table]
        archive RUNS distinct summaries through the API with gate.yaml `table: true` (or the
        URL); prints each committed run id. --die-at-append: SIGKILL itself when the first
        run's table append starts (committed in the archive, not yet in the table).
    python -m lake_support prune ARCHIVE --die-after-entry KEEP
        prune all but the newest KEEP runs, SIGKILLed right after the prune's log entry.
"""

from __future__ import annotations

import hashlib
import random
import sys
from datetime import datetime, timedelta, timezone
from typing import Any

from pytest_model_gate.archive.lake import LakeRun, LakeTable

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def document(run_id: str, models: int, *, approved_every: int = 2, shift: float = 0.0,
             noisy: bool = False) -> dict[str, Any]:
    """A model_assessments.json of `models` models (the archive's document shape); noisy:
    metric values with full float entropy, as real training runs log them."""
    rng = random.Random(run_id)
    out = []
    for i in range(models):
        cls = "APPROVED" if i % approved_every == 0 else "REVIEW"
        fit = rng.random() if noisy else round(0.5 + i / (10 * models) + shift, 6)
        pf = rng.uniform(0.5, 3.0) if noisy else None
        rec: dict[str, Any] = {
            "id": f"SYM{i % 7}_M{i}", "symbol": f"SYM{i % 7}", "classification": cls,
            "flags": ["LOW_PF"] if cls == "REVIEW" else [],
            "metrics": {"fitness": {"key": "fitness_score", "value": fit, "tier": cls},
                        "profit_factor": {"key": "pf", "value": pf, "tier": "DROP"}}}
        if i == 0:
            rec["baseline"] = {"fitness": {"value": 0.4, "run_id": "r-prev"}}
            rec["regressions"] = [{"metric": "fitness", "baseline": 0.4, "value": fit}]
        out.append(rec)
    sha = hashlib.sha256(run_id.encode()).hexdigest()  # each run gates its own summary
    return {"schema": 1, "run_id": run_id, "summary": {"sha256": sha, "path": "x.json"},
            "config_sha256": "c" * 64, "counts": {}, "models": out}


def run(n: int, models: int = 5, *, writer: int = 0, age_days: float = 0.0,
        approved_every: int = 2, shift: float = 0.0, noisy: bool = False,
        base: datetime = T0) -> LakeRun:
    rid = f"20260101T000000.{writer:02d}{n:04d}Z-{writer:02x}{n:04x}"
    at = (base + timedelta(seconds=n) - timedelta(days=age_days)).isoformat()
    return LakeRun(run_id=rid, seq=writer * 10_000 + n, committed_at=at,
                   document=document(rid, models, approved_every=approved_every, shift=shift,
                                     noisy=noisy))


def archive_main(argv: list[str]) -> None:
    import os
    import signal

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from archive_writer import make_summary

    from pytest_model_gate.api import TrainingArchiveManager
    from pytest_model_gate.core.config import parse_config

    location, writer, runs = argv[0], int(argv[1]), int(argv[2])
    table: bool | str = argv[argv.index("--table") + 1] if "--table" in argv else True
    if "--no-table" in argv:
        table = False
    if "--die-at-append" in argv:
        def die(self: LakeTable, *args: object, **kw: object) -> int:
            os.kill(os.getpid(), signal.SIGKILL)
            return 0

        LakeTable.append = die  # type: ignore[method-assign]
    archive = TrainingArchiveManager(location, config=parse_config({"table": table}))
    print("ready", flush=True)
    for i in range(runs):
        print(archive.archive_training_run(make_summary(writer, i)).run_id, flush=True)


def prune_main(argv: list[str]) -> None:
    import os
    import signal

    from pytest_model_gate.archive import prune as prune_mod
    from pytest_model_gate.archive.manager import Archive

    def die(*args: object, **kw: object) -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    prune_mod.finish_prune = die  # type: ignore[assignment]
    Archive(argv[0]).prune(keep=int(argv[2]))


def main(argv: list[str]) -> None:
    """lake_support URL WRITER RUNS MODELS [compact]: append RUNS runs one commit each."""
    if argv[0] == "archive":
        archive_main(argv[1:])
        return
    if argv[0] == "prune":
        prune_main(argv[1:])
        return
    url, writer, runs, models = argv[0], int(argv[1]), int(argv[2]), int(argv[3])
    table = LakeTable(url)
    if len(argv) > 4 and argv[4] == "compact":
        print("compacting", flush=True)
        table.compact()
        return
    for n in range(runs):
        table.append([run(n, models, writer=writer)])
        print(n, flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
