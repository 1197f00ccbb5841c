"""Builders shared by the report tests (no tests here): run documents from summaries.

Every document is made the way the product makes it (summary -> gating -> records), so the
reports are tested on the real shape, never on a hand-written imitation of it.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pytest_model_gate.core.config import GateConfig, parse_config
from pytest_model_gate.core.document import RunDocument, run_document
from pytest_model_gate.core.gating import assess_all
from pytest_model_gate.core.summary import load_summary, parse_summary

GOLDEN_RUN_ID = "20251227T101500.000000Z-golden"
EXAMPLE_NAME = "training_summary_20251227_101500.json"
GOLDEN_DIR = Path(__file__).parent / "golden"
UPDATE_ENV = "MODEL_GATE_UPDATE_GOLDEN"


def config(data: Mapping[str, Any] | None = None) -> GateConfig:
    return parse_config(dict(data)) if data else GateConfig()


def example_document(examples_dir: Path, *, run_id: str | None = GOLDEN_RUN_ID,
                     cfg: GateConfig | None = None) -> RunDocument:
    """The bundled example gated (defaults unless `cfg`), named by its file name only."""
    cfg = cfg or GateConfig()
    summary = load_summary(examples_dir / EXAMPLE_NAME, cfg, source=EXAMPLE_NAME)
    return run_document(summary, assess_all(summary.models, cfg), cfg, run_id=run_id)


def document(models: Mapping[str, Any] | list[Any], *, run_id: str | None = None,
             cfg: GateConfig | None = None, path: str = "summary.json",
             meta: Mapping[str, Any] | None = None,
             baselines: Mapping[str, Any] | None = None) -> RunDocument:
    """A run document for an inline summary (`models` as the summary's `models` container)."""
    cfg = cfg or GateConfig()
    data = {"timestamp": "20260101_000000", "validation_interval": 40, **(meta or {}),
            "models": models}
    raw = json.dumps(data, sort_keys=True).encode()
    summary = parse_summary(data, source=path, raw=raw, config=cfg)
    assessments = assess_all(summary.models, cfg, baselines)
    return run_document(summary, assessments, cfg, run_id=run_id)


def model(fitness: Sequence[float | None] | float | None, pf: float | None = 2.0,
          consistency: float | None = 0.9, dd: float | None = 0.05,
          **extra: Any) -> dict[str, Any]:
    """One model of a summary (defaults: APPROVED)."""
    history = list(fitness) if isinstance(fitness, Sequence) else fitness
    return {"metrics": {"fitness_score": history, "profit_factor": pf,
                        "consistency": consistency, "max_drawdown": dd}, **extra}


APPROVED = model([0.62, 0.71, 0.78, 0.80])
REVIEW = model([0.55, 0.70, 0.60, 0.58], pf=1.4, consistency=0.70, dd=0.12)
DROP = model([0.40, 0.45, 0.42], pf=1.0, consistency=0.5, dd=0.2)


def synthetic_models(n: int, seed: int = 7, points: int = 10, shift: float = 0.0,
                     per_symbol: int = 4) -> dict[str, Any]:
    """n models, `per_symbol` timeframes per symbol, a realistic mix of the three classes."""
    rng = random.Random(seed)
    timeframes = ["1Min", "5Min", "15Min", "1Hour", "4Hour", "1Day"][:per_symbol]
    out: dict[str, Any] = {}
    for i in range(n):
        sym = f"S{i // per_symbol:05d}"
        mid = f"{sym}_{timeframes[i % per_symbol]}"
        quality = min(1.0, max(0.0, rng.gauss(0.72, 0.2) + shift))
        start = 0.35 + 0.3 * rng.random()
        top = 0.45 + 0.5 * quality
        hist = []
        for k in range(points):
            v = start + (top - start) * (k + 1) / points + rng.gauss(0, 0.02)
            hist.append(round(v, 4))
        if rng.random() < 0.25:  # overfits: falls back from its peak
            peak_at = rng.randrange(points // 2)
            for k in range(peak_at + 1, points):
                hist[k] = round(hist[peak_at] * (1 - 0.02 * (k - peak_at)), 4)
        out[mid] = model(hist, pf=round(1.1 + 1.3 * quality + rng.gauss(0, 0.1), 4),
                         consistency=round(0.55 + 0.4 * quality + rng.gauss(0, 0.03), 4),
                         dd=round(max(0.01, 0.2 - 0.17 * quality + rng.gauss(0, 0.01)), 4))
    return out


def run_id(k: int) -> str:
    return f"202601{k + 1:02d}T120000.000000Z-{k:06x}"


def runs(n_models: int, n_runs: int, seed: int = 11) -> list[RunDocument]:
    """`n_runs` archived documents of the same models, oldest first, slowly improving."""
    return [document(synthetic_models(n_models, seed=seed + k, shift=0.02 * k), run_id=run_id(k),
                     path="synthetic.json") for k in range(n_runs)]
