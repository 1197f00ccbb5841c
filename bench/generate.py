"""Deterministic synthetic training summaries for the benchmarks.

    python bench/generate.py 50000 -o s50k.json  # 2/5 APPROVED, 2/5 REVIEW, 1/5 DROP
    python bench/generate.py 2000 --review 0.4 --drop 0.2 -o s.json

Every model has the four default metrics as 10-point validation histories (the shape of the
bundled example), a run-level `validation_interval`, and values chosen so that the built-in
thresholds give exactly the requested class. Some models of each class also carry overfitting
flags (FITNESS_DECLINE / UNSTABLE_TRAINING), so checkpoint advice is exercised too. The same
arguments always give the same bytes.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

POINTS = 10
SYMBOLS = ("AAPL", "MSFT", "NVDA", "AMZN", "GOOG", "META", "TSLA", "BTCUSD", "ETHUSD", "SPY")
TIMEFRAMES = ("1Min", "5Min", "15Min", "1Hour", "1Day")


def _rising(rng: random.Random, start: float, end: float) -> list[float]:
    """A steadily improving history from `start` to `end` (small noise, no big drops)."""
    step = (end - start) / (POINTS - 1)
    out = [start + step * i + rng.uniform(-0.002, 0.002) for i in range(POINTS - 1)]
    out.append(end)
    return [round(v, 4) for v in out]


def _declining(rng: random.Random, peak: float, end: float) -> list[float]:
    """Rises to `peak` at a random point, then slides down to `end` (FITNESS_DECLINE)."""
    peak_at = rng.randrange(2, POINTS - 3)
    up = [peak * (0.85 + 0.15 * i / peak_at) for i in range(peak_at)]
    down_steps = POINTS - 1 - peak_at
    down = [peak - (peak - end) * i / down_steps for i in range(1, down_steps + 1)]
    return [round(v, 4) for v in (*up, peak, *down)]


def _fitness(rng: random.Random, final: float, shape: int) -> list[float]:
    if shape == 1:  # FITNESS_DECLINE: final 6-9% below an earlier peak
        return _declining(rng, final / rng.uniform(0.91, 0.94), final)
    if shape == 2:  # UNSTABLE_TRAINING: one sudden fall of ~15%, then recovery
        hist = _rising(rng, final * 0.8, final)
        hist[4] = round(hist[3] * 0.83, 4)
        return hist
    return _rising(rng, final * rng.uniform(0.7, 0.9), final)


def _model(rng: random.Random, cls: str) -> dict[str, list[float]]:
    fitness = rng.uniform(0.72, 0.95)
    pf = rng.uniform(1.85, 3.0)
    consistency = rng.uniform(0.86, 0.98)
    dd = rng.uniform(0.02, 0.075)
    if cls == "REVIEW":  # one to four metrics in the REVIEW band, none below it
        for which in rng.sample(range(4), rng.randint(1, 4)):
            if which == 0:
                fitness = rng.uniform(0.52, 0.68)
            elif which == 1:
                pf = rng.uniform(1.32, 1.78)
            elif which == 2:
                consistency = rng.uniform(0.67, 0.84)
            else:
                dd = rng.uniform(0.085, 0.145)
    elif cls == "DROP":  # one or two metrics below the REVIEW bound
        for which in rng.sample(range(4), rng.randint(1, 2)):
            if which == 0:
                fitness = rng.uniform(0.2, 0.48)
            elif which == 1:
                pf = rng.uniform(0.7, 1.28)
            elif which == 2:
                consistency = rng.uniform(0.3, 0.63)
            else:
                dd = rng.uniform(0.16, 0.35)
    shape = rng.choices((0, 1, 2), weights=(6, 2, 1))[0]
    return {
        "fitness_score": _fitness(rng, round(fitness, 4), shape),
        "profit_factor": _rising(rng, pf * rng.uniform(0.75, 0.95), round(pf, 4)),
        "consistency": _rising(rng, consistency * rng.uniform(0.9, 1.0), round(consistency, 4)),
        "max_drawdown": _rising(rng, dd * rng.uniform(1.0, 1.3), round(dd, 4)),
    }


def classes(n: int, review: float, drop: float, seed: int) -> list[str]:
    """Exactly round(n*drop) DROP, round(n*review) REVIEW, the rest APPROVED, shuffled."""
    n_drop, n_review = round(n * drop), round(n * review)
    if n_drop + n_review > n:
        raise ValueError("--review + --drop exceed 1")
    out = ["DROP"] * n_drop + ["REVIEW"] * n_review + ["APPROVED"] * (n - n_drop - n_review)
    random.Random(seed).shuffle(out)
    return out


def generate(n: int, *, review: float = 0.4, drop: float = 0.2, seed: int = 0) -> dict[str, object]:
    """The summary as a dict: `models` maps id -> model, in a fixed order."""
    rng = random.Random(seed + 1)
    models: dict[str, object] = {}
    for i, cls in enumerate(classes(n, review, drop, seed)):
        symbol = SYMBOLS[i % len(SYMBOLS)]
        timeframe = TIMEFRAMES[(i // len(SYMBOLS)) % len(TIMEFRAMES)]
        model_id = f"{symbol}_{timeframe}_{i:06d}"
        models[model_id] = {
            "symbol": symbol, "timeframe": timeframe,
            "model_path": f"models/rl_symbols/{model_id}.pt",
            "metrics": _model(rng, cls),
        }
    return {"timestamp": "20260101_000000", "version": "bench", "training_mode": "benchmark",
            "validation_interval": 40, "reward_scale": 0.001, "models": models}


def expected_counts(n: int, review: float = 0.4, drop: float = 0.2) -> dict[str, int]:
    n_drop, n_review = round(n * drop), round(n * review)
    return {"APPROVED": n - n_drop - n_review, "REVIEW": n_review, "DROP": n_drop}


def write(path: str | Path, n: int, **kwargs: float | int) -> Path:
    target = Path(path)
    data = generate(n, **kwargs)  # type: ignore[arg-type]
    target.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("n", type=int, help="number of models")
    parser.add_argument("-o", "--output", help="output file (default: stdout)")
    parser.add_argument("--review", type=float, default=0.4, help="fraction REVIEW (0.4)")
    parser.add_argument("--drop", type=float, default=0.2, help="fraction DROP (0.2)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.output:
        write(args.output, args.n, review=args.review, drop=args.drop, seed=args.seed)
    else:
        json.dump(generate(args.n, review=args.review, drop=args.drop, seed=args.seed),
                  sys.stdout, indent=1)
        sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
