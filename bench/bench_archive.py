"""Archive scaling: append time and a fresh-process `model-gate history` at 100 and 10,000 runs.

    python bench/bench_archive.py [--sizes 100,10000] [--models 100] [--rounds 15]
                                  [--dir DIR [--reuse]]

For each size an archive of that many runs (each with --models models) is built through the
archive's own layout with templated files (fast, no fsync), then `reindex` builds index.json
and the history shards. Then it measures, on that archive:

- append: `archive_training_run(path)` of new, distinct summaries (real appends: gating,
  create-only fsynced writes, commit record, index.json + shard update), median;
- history: `model-gate history SYMBOL` in a fresh Python process (interpreter start included),
  median wall time.

Measurements are interleaved across sizes (one append and one history per size per round),
so load from other processes falls on every size alike. Prints both ratios (largest size /
smallest size). Goal: each at most 2x. With --dir the archives are kept (and --reuse skips
rebuilding them; they grow by --rounds runs per use).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from pytest_model_gate.api import TrainingArchiveManager
from pytest_model_gate.archive.index import (
    DOCUMENT_FILE,
    RECORDS,
    REPORT_FILE,
    SUMMARY_FILE,
    new_run_id,
)
from pytest_model_gate.core.config import GateConfig
from pytest_model_gate.core.document import run_document
from pytest_model_gate.core.gating import assess_all
from pytest_model_gate.core.summary import parse_summary
from pytest_model_gate.report.markdown import ReportSection, render_markdown

PLACEHOLDER = "20000101T000000.000000Z-000000"


def make_summary(models: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    out: dict[str, Any] = {"timestamp": f"bench-{seed}", "validation_interval": 40, "models": {}}
    for m in range(models):
        start = rng.uniform(0.4, 0.7)
        hist = [round(start + 0.03 * k + rng.uniform(-0.04, 0.04), 4) for k in range(10)]
        out["models"][f"S{m:03d}_1Hour"] = {
            "symbol": f"S{m:03d}", "timeframe": "1Hour",
            "model_path": f"models/S{m:03d}_1Hour.pt",
            "metrics": {"fitness_score": hist,
                        "profit_factor": round(rng.uniform(1.1, 2.6), 4),
                        "consistency": round(rng.uniform(0.55, 0.97), 4),
                        "max_drawdown": round(rng.uniform(0.03, 0.18), 4)}}
    return out


def build(root: Path, runs: int, models: int) -> None:
    """Write `runs` committed runs straight into the layout, then `reindex` derives the rest."""
    cfg = GateConfig()
    data = make_summary(models, seed=1)
    raw = (json.dumps(data, indent=2) + "\n").encode()
    summary = parse_summary(data, source="bench-summary.json", raw=raw, config=cfg)
    assessments = assess_all(summary.models, cfg)
    doc = run_document(summary, assessments, cfg, run_id=PLACEHOLDER)
    doc_bytes = (json.dumps(doc, indent=1, ensure_ascii=False) + "\n").encode()
    md_bytes = render_markdown([ReportSection(document=doc)]).encode()
    record = {"run_id": PLACEHOLDER, "timestamp": PLACEHOLDER, "created": "",
              "counts": doc["counts"], "models": models,
              "summary_sha256": hashlib.sha256(raw).hexdigest(),
              "config_sha256": cfg.digest(), "source": "bench-summary.json",
              "summary_timestamp": data["timestamp"], "schema": 1}
    rec_bytes = (json.dumps(record) + "\n").encode()
    root.mkdir(parents=True)
    (root / RECORDS).mkdir()
    shared_summary = root.parent / f"{root.name}-summary.json"
    shared_summary.write_bytes(raw)
    t0 = datetime(2020, 1, 1, tzinfo=timezone.utc)
    ph = PLACEHOLDER.encode()
    for i in range(runs):
        rid = new_run_id(t0 + timedelta(seconds=i))
        folder = root / rid
        folder.mkdir()
        os.link(shared_summary, folder / SUMMARY_FILE)  # same bytes in every filler run
        (folder / DOCUMENT_FILE).write_bytes(doc_bytes.replace(ph, rid.encode()))
        (folder / REPORT_FILE).write_bytes(md_bytes.replace(ph, rid.encode()))
        (root / RECORDS / f"{rid}.json").write_bytes(rec_bytes.replace(ph, rid.encode()))
    TrainingArchiveManager(root).reindex()


def append_once(manager: TrainingArchiveManager, models: int, seed: int, work: Path) -> float:
    path = work / f"summary-{seed}.json"
    path.write_text(json.dumps(make_summary(models, seed=seed), indent=2))
    t = time.perf_counter()
    run = manager.archive_training_run(path)
    elapsed = time.perf_counter() - t
    assert not run.reused
    path.unlink()
    return elapsed


def history_once(root: Path, symbol: str) -> tuple[float, int]:
    argv = [sys.executable, "-m", "pytest_model_gate.cli", "history", symbol,
            "--archive", str(root)]
    t = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, check=True)
    return time.perf_counter() - t, proc.stdout.count(b"\n") - 1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="100,10000")
    ap.add_argument("--models", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=15,
                    help="measurement rounds; each does one append and one history per size")
    ap.add_argument("--dir", help="where to build the archives (default: a temp folder)")
    ap.add_argument("--reuse", action="store_true",
                    help="reuse archives already built in --dir instead of rebuilding")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    base = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="mg-bench-"))
    base.mkdir(parents=True, exist_ok=True)
    try:
        roots = {}
        for n in sizes:
            root = base / f"archive-{n}"
            roots[n] = root
            if args.reuse and root.is_dir():
                print(f"{n:>6} runs: reusing {root}", flush=True)
                continue
            if root.exists():
                shutil.rmtree(root)
            t = time.perf_counter()
            build(root, n, args.models)
            print(f"{n:>6} runs x {args.models} models built in {time.perf_counter() - t:.1f}s",
                  flush=True)
        managers = {n: TrainingArchiveManager(roots[n]) for n in sizes}
        appends: dict[int, list[float]] = {n: [] for n in sizes}
        hist: dict[int, list[float]] = {n: [] for n in sizes}
        rows: dict[int, int] = {}
        seed = int(time.time())
        # interleaved: every round measures each size once, so load from other processes on
        # the machine falls on all sizes alike
        for r in range(args.rounds):
            for n in sizes:
                appends[n].append(append_once(managers[n], args.models, seed + r, base))
                elapsed, rows[n] = history_once(roots[n], "S042")
                hist[n].append(elapsed)
        med = {n: (statistics.median(appends[n]), statistics.median(hist[n])) for n in sizes}
        for n in sizes:
            a, h = med[n]
            print(f"{n:>6} runs x {args.models} models: append median {a * 1000:.1f} ms "
                  f"(min {min(appends[n]) * 1000:.1f}); fresh-process history median "
                  f"{h * 1000:.0f} ms (min {min(hist[n]) * 1000:.0f}; {rows[n]} rows)")
        lo, hi = min(sizes), max(sizes)
        if lo != hi:
            print(f"ratio {hi}/{lo}: append {med[hi][0] / med[lo][0]:.2f}x, "
                  f"history {med[hi][1] / med[lo][1]:.2f}x (goal <= 2x each)")
    finally:
        if not args.dir:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
