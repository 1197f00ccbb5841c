"""What the three MLflow stores share: experiment selection, run naming, latest-per-step.

One model per run: id = run name, or run id where names repeat among the selected runs;
`symbol` = experiment name. Deleted runs and experiments are left out. A step logged several
times keeps the value with the latest timestamp (file order breaks ties).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from .canonical import ModelRead, fail
from .float32 import tidy
from .mlflow_filter import RunFacts, parse_filter


@dataclass(frozen=True)
class Experiment:
    id: str
    name: str
    active: bool = True


@dataclass
class Run:
    id: str
    name: str
    experiment: Experiment
    status: str = ""
    start_time: int = 0
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    latest: dict[str, float] = field(default_factory=dict)
    # key -> step -> (timestamp, order, value)
    points: dict[str, dict[int, tuple[int, int, float]]] = field(default_factory=dict)
    _order: int = 0

    def add(self, key: str, step: int, timestamp: int, value: float) -> None:
        self._order += 1
        series = self.points.setdefault(key, {})
        old = series.get(step)
        if old is None or (timestamp, self._order) >= old[:2]:
            series[step] = (timestamp, self._order, value)

    def facts(self) -> RunFacts:
        return RunFacts(attributes={"run_id": self.id, "run_name": self.name,
                                    "status": self.status, "start_time": self.start_time},
                        tags=self.tags, params=self.params, metrics=self.latest)


@dataclass(frozen=True)
class Query:
    """The `?experiment=NAME&filter=...&timeout=S` part of an mlflow source."""

    experiments: tuple[str, ...] = ()
    filter: str | None = None
    timeout: float = 10.0

    def record(self) -> dict[str, object]:
        """What the archive's `source` record keeps of the query."""
        out: dict[str, object] = {}
        if self.experiments:
            out["experiments"] = list(self.experiments)
        if self.filter:
            out["filter"] = self.filter
        return out


def split_query(spec: str, location: str) -> tuple[str, Query]:
    """`sqlite:///x.db?experiment=a&experiment=b` -> ("sqlite:///x.db", Query(...))."""
    if "?" not in location:
        return location, Query()
    base, _, query = location.partition("?")
    params = parse_qs(query, keep_blank_values=True)
    unknown = sorted(set(params) - {"experiment", "filter", "timeout"})
    if unknown:
        raise fail(spec, f"unknown option {unknown[0]!r} (accepted: experiment, filter, "
                         "timeout)")
    timeout = 10.0
    if "timeout" in params:
        try:
            timeout = float(params["timeout"][-1])
        except ValueError:
            raise fail(spec, "timeout must be a number of seconds") from None
    filters = params.get("filter") or []
    return base, Query(experiments=tuple(params.get("experiment", ())),
                       filter=filters[-1] if filters else None, timeout=timeout)


def select_experiments(spec: str, experiments: Sequence[Experiment],
                       wanted: Sequence[str]) -> list[Experiment]:
    """The active experiments named (all active ones when none is named)."""
    active = [e for e in experiments if e.active]
    if not wanted:
        return active
    by_name = {e.name: e for e in active}
    chosen: list[Experiment] = []
    for name in wanted:
        if name not in by_name:
            have = ", ".join(sorted(by_name)) or "none"
            raise fail(spec, f'experiment "{name}" not found (have: {have})')
        chosen.append(by_name[name])
    return chosen


def keep(spec: str, runs: Iterable[Run], query: Query) -> list[Run]:
    """Apply `?filter=` (local stores; the REST server applies it itself)."""
    if not query.filter:
        return list(runs)
    test = parse_filter(spec, query.filter)
    return [run for run in runs if test(run.facts())]


def models_of(spec: str, runs: Sequence[Run]) -> list[ModelRead]:
    names = Counter(run.name for run in runs)
    models: list[ModelRead] = []
    for run in sorted(runs, key=lambda r: (r.start_time, r.name, r.id)):  # same in all stores
        model_id = run.name if run.name and names[run.name] == 1 else run.id
        model = ModelRead(id=model_id)
        for key in run.points:
            for step, (_ts, _order, value) in sorted(run.points[key].items()):
                model.add(key, step, tidy(value))
        model.fields = {"symbol": run.experiment.name, "run_id": run.id,
                        "run_name": run.name, "experiment_id": run.experiment.id}
        if run.status:
            model.fields["status"] = run.status
        models.append(model)
    if not models:
        raise fail(spec, "no runs in the selected experiments")
    return models


def as_str_map(pairs: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    return {str(p.get("key")): str(p.get("value")) for p in pairs if "key" in p}
