"""The gate itself: pure functions from (model, config[, baseline]) to an Assessment.

No I/O, no pytest, no archive: everything here is deterministic in its arguments, which is
what lets the plugin, the CLI and the archive give the same verdict for the same input.
"""

from __future__ import annotations

import itertools
import math
import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, cast

from pytest_model_gate.core.config import GateConfig, MetricSpec, ModelGatingConfig, as_gate_config
from pytest_model_gate.core.summary import MetricSeries, SummaryModel
from pytest_model_gate.text import TIER_RANK, TIERS, Tier, finite

_FLOAT_ONLY = frozenset((float,))

MISSING_METRIC = "MISSING_METRIC"
INVALID_METRIC = "INVALID_METRIC"
FITNESS_DECLINE = "FITNESS_DECLINE"
UNSTABLE_TRAINING = "UNSTABLE_TRAINING"
REGRESSION = "REGRESSION"
NO_BASELINE = "NO_BASELINE"
BASELINE_UNUSABLE = "BASELINE_UNUSABLE"


def worst(tiers: Sequence[Tier]) -> Tier:
    """The worst of some tiers (APPROVED < REVIEW < DROP)."""
    return max(tiers, key=TIER_RANK.__getitem__, default="APPROVED")


def rank(tier: str) -> int:
    return TIER_RANK[tier]


def meets(value: float, bound: float, higher_is_better: bool) -> bool:
    """Inclusive bound check in the metric's direction; NaN meets nothing."""
    return value >= bound if higher_is_better else value <= bound


@dataclass(frozen=True)
class MetricResult:
    """One gated metric of one model: the value read, the bounds applied, the tier."""

    name: str
    key: str
    value: float | None
    approved: float
    review: float
    higher_is_better: bool
    tier: Tier
    status: Literal["ok", "missing", "invalid"] = "ok"
    # the validation history, kept for a metric that is not APPROVED (reports chart it)
    history: tuple[float | None, ...] = field(default=(), compare=False)

    @property
    def finite_value(self) -> float | None:
        return finite(self.value)


@dataclass(frozen=True)
class BaselineValue:
    """What the archive says a metric of this model was (already windowed)."""

    value: float
    run_id: str


@dataclass(frozen=True)
class Regression:
    """A metric worse than its baseline by more than `limit`: `change` is relative to the
    baseline's magnitude, or absolute (`relative=False`) when the baseline is 0."""

    metric: str
    baseline: float
    value: float
    change: float
    limit: float
    run_id: str
    relative: bool = True


@dataclass(frozen=True)
class Overfitting:
    """The overfitting analysis of the watched metric's history."""

    metric: str
    history: tuple[float | None, ...] = ()
    peak: float | None = None
    best_idx: int | None = None
    decline: float | None = None
    oscillation: float | None = None
    declining: bool = False
    unstable: bool = False


@dataclass(frozen=True)
class Assessment:
    """The verdict on one model, with everything needed to explain it."""

    model_id: str
    symbol: str
    classification: Tier
    flags: tuple[str, ...]
    metrics: tuple[MetricResult, ...]
    use_checkpoint: bool
    best_idx: int | None
    checkpoint_update: int | None
    validation_interval: int | None
    overfitting: Overfitting
    gate_tier: Tier = "APPROVED"
    regressions: tuple[Regression, ...] = ()
    baseline: Mapping[str, BaselineValue] | None = field(default=None, compare=False)
    # the checkpoint folder / file the source saved at `checkpoint_update`, when it names one
    # (else the summary's own `checkpoint_path` field)
    checkpoint_path: str | None = None
    # what gets deployed, as the summary names it (reports show it)
    model_path: str | None = field(default=None, compare=False)

    def metric(self, name: str) -> MetricResult:
        for result in self.metrics:
            if result.name == name:
                return result
        raise KeyError(name)


def tier_of(value: float | None, spec: MetricSpec, on_invalid: Tier
            ) -> tuple[Tier, Literal["ok", "missing", "invalid"]]:
    """A metric's tier: APPROVED if it meets `approved`, REVIEW if `review`, else DROP."""
    if value is None:
        return on_invalid, "missing"
    if not math.isfinite(value):
        return on_invalid, "invalid"
    if meets(value, spec.approved, spec.higher_is_better):
        return "APPROVED", "ok"
    if meets(value, spec.review, spec.higher_is_better):
        return "REVIEW", "ok"
    return "DROP", "ok"


def analyse_history(metric: str, history: Sequence[float | None], final: float | None,
                    higher_is_better: bool, decline_threshold: float,
                    oscillation_threshold: float) -> Overfitting:
    """Peak, decline of the final value from the peak, and the largest single drop.

    Non-finite and null points are left out of the analysis; `best_idx` is the index of the
    peak in the history as given, so the checkpoint it names is the one that was saved.
    For a lower-is-better metric "peak" is the lowest value and a "drop" is a rise.
    """
    sign = 1.0 if higher_is_better else -1.0
    floats = cast("Sequence[float]", history)  # checked just below
    if _FLOAT_ONLY.issuperset(map(type, history)) and all(map(math.isfinite, floats)):
        # The common case (every point a finite float), with the arithmetic of the general
        # case below but no per-point tuples: max() keeps the first of equal maxima too.
        values = list(floats) if higher_is_better else [-v for v in floats]
        if not values:
            return Overfitting(metric=metric, history=tuple(history))
        peak = max(values)
        peak_idx = values.index(peak)
        largest_drop = max(map(operator.sub, values, values[1:]), default=0.0)
    else:
        points = [(i, sign * v) for i, v in enumerate(history)
                  if v is not None and math.isfinite(v)]
        if not points:
            return Overfitting(metric=metric, history=tuple(history))
        peak_idx, peak = points[0]
        for i, v in points:
            if v > peak:
                peak_idx, peak = i, v
        largest_drop = max((a[1] - b[1] for a, b in itertools.pairwise(points)),
                           default=0.0)
    scale = abs(peak) if peak != 0 else 1.0
    oscillation = max(largest_drop, 0.0) / scale
    decline: float | None = None
    if final is not None and math.isfinite(final):
        decline = (peak - sign * final) / scale
    return Overfitting(
        metric=metric, history=tuple(history), peak=sign * peak, best_idx=peak_idx,
        decline=decline, oscillation=oscillation,
        declining=decline is not None and decline > decline_threshold,
        unstable=oscillation > oscillation_threshold)


def _regressions(results: Sequence[MetricResult], config: GateConfig,
                 baseline: Mapping[str, BaselineValue]) -> tuple[list[Regression], bool]:
    """(regressions, whether a metric with a `max_decline` had no usable baseline value).

    The change is measured in the metric's bad direction, relative to |baseline|; from a
    baseline of exactly 0 it is the absolute change (as for the overfitting decline). A
    move of at most `min_abs_change` is ignored. A current value that is not finite is
    left to INVALID_METRIC / MISSING_METRIC."""
    assert config.baseline is not None
    found: list[Regression] = []
    unusable = False
    for result in results:
        limit = config.baseline.max_decline.get(result.name)
        if limit is None:
            continue
        base = baseline.get(result.name)
        if base is None or not math.isfinite(base.value):
            unusable = True
            continue
        value = result.finite_value
        if value is None:
            continue
        worse_by = (base.value - value) if result.higher_is_better else (value - base.value)
        if worse_by <= config.baseline.min_abs_change.get(result.name, 0.0):
            continue
        relative = base.value != 0
        change = worse_by / abs(base.value) if relative else worse_by
        if change > limit:
            found.append(Regression(metric=result.name, baseline=base.value, value=value,
                                    change=change, limit=limit, run_id=base.run_id,
                                    relative=relative))
    return found, unusable


def assess(model: SummaryModel, config: GateConfig | None = None,
           baseline: Mapping[str, BaselineValue] | None = None) -> Assessment:
    """Gate one model. `baseline` (metric -> archived value) is used when config has one."""
    cfg = config if config is not None else as_gate_config(None)
    on_invalid: Tier = "DROP" if cfg.on_invalid == "drop" else "REVIEW"
    flags: set[str] = set()
    results: list[MetricResult] = []
    watched_series: MetricSeries | None = None
    watched = cfg.watched_metric
    specs = cfg.metrics_for(model.id, model.symbol)
    for name, spec in specs.items():
        found = model.lookup(spec.names)
        key, series = found if found is not None else (spec.key, None)
        value = series.final if series is not None else None
        tier, status = tier_of(value, spec, on_invalid)
        if status == "missing":
            flags.add(MISSING_METRIC)
        elif status == "invalid":
            flags.add(INVALID_METRIC)
        elif tier == "DROP":
            flags.add(spec.flag)
        if name == watched:
            watched_series = series
        results.append(MetricResult(name=name, key=key, value=value, approved=spec.approved,
                                    review=spec.review, higher_is_better=spec.higher_is_better,
                                    tier=tier, status=status,
                                    history=series.history if series is not None
                                    and tier != "APPROVED" else ()))
    watched_spec = specs[watched]
    overfit = analyse_history(
        watched,
        watched_series.history if watched_series is not None else (),
        watched_series.final if watched_series is not None else None,
        watched_spec.higher_is_better, cfg.overfitting.decline_threshold,
        cfg.overfitting.oscillation_threshold)
    if overfit.declining:
        flags.add(FITNESS_DECLINE)
    if overfit.unstable:
        flags.add(UNSTABLE_TRAINING)
    gate_tier = worst([r.tier for r in results])
    classification = gate_tier
    if cfg.overfitting.demote and classification == "APPROVED" and (
            overfit.declining or overfit.unstable):
        classification = "REVIEW"
    regressions: list[Regression] = []
    if cfg.baseline is not None and baseline is not None:
        if not baseline:
            flags.add(NO_BASELINE)
        else:
            regressions, unusable = _regressions(results, cfg, baseline)
            if unusable:
                flags.add(BASELINE_UNUSABLE)
            if regressions:
                flags.add(REGRESSION)
                floor: Tier = "DROP" if cfg.baseline.on_regression == "drop" else "REVIEW"
                classification = worst([classification, floor])
    interval = model.validation_interval or cfg.validation_interval
    use_checkpoint = overfit.declining
    checkpoint_update = None
    steps = watched_series.steps if watched_series is not None else None
    if use_checkpoint and overfit.best_idx is not None:
        if steps is not None:  # the source logged steps: the peak's own step
            checkpoint_update = steps[overfit.best_idx]
        elif interval is not None:
            checkpoint_update = (overfit.best_idx + 1) * interval
    checkpoint_path = (model.checkpoints.get(checkpoint_update)
                       if checkpoint_update is not None else None)
    return Assessment(
        model_id=model.id, symbol=model.symbol, classification=classification,
        flags=tuple(sorted(flags)), metrics=tuple(results), use_checkpoint=use_checkpoint,
        best_idx=overfit.best_idx, checkpoint_update=checkpoint_update,
        validation_interval=interval, overfitting=overfit, gate_tier=gate_tier,
        regressions=tuple(regressions), baseline=baseline,
        checkpoint_path=checkpoint_path or _text_field(model, "checkpoint_path"),
        model_path=_text_field(model, "model_path"))


def _text_field(model: SummaryModel, key: str) -> str | None:
    value = model.data.get(key)
    return value if isinstance(value, str) and value else None


def assess_all(models: Sequence[SummaryModel], config: GateConfig | None = None,
               baselines: Mapping[str, Mapping[str, BaselineValue]] | None = None
               ) -> list[Assessment]:
    """Gate every model, in order; `baselines` maps model id -> its baseline values."""
    return [assess(m, config, None if baselines is None else baselines.get(m.id, {}))
            for m in models]


def counts(assessments: Sequence[Assessment]) -> dict[str, int]:
    """Models per class, always with all three keys in APPROVED, REVIEW, DROP order."""
    out: dict[str, int] = dict.fromkeys(TIERS, 0)
    for a in assessments:
        out[a.classification] += 1
    return out


def assess_model_quality(final_fitness: float | None, final_pf: float | None,
                         final_consistency: float | None, final_max_dd: float | None,
                         fitness_history: Sequence[float | None] | None,
                         config: ModelGatingConfig | GateConfig | None = None,
                         ) -> tuple[str, list[str], bool, int | None]:
    """The original API: (classification, flags, use_checkpoint, best_idx)."""
    cfg = as_gate_config(config)
    values = {"fitness": final_fitness, "profit_factor": final_pf,
              "consistency": final_consistency, "max_drawdown": final_max_dd}
    series: dict[str, MetricSeries] = {}
    for name, spec in cfg.metrics.items():
        value = values.get(name)
        history = tuple(fitness_history or ()) if name == cfg.watched_metric else ()
        series[spec.key] = MetricSeries(
            final=None if value is None else float(value), history=history)
    model = SummaryModel.from_values("model", series)
    result = assess(model, cfg)
    return result.classification, list(result.flags), result.use_checkpoint, result.best_idx
