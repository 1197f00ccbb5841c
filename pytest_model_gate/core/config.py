"""gate.yaml -> GateConfig: thresholds, overfitting, overrides, baseline, outputs.

Validated with pydantic (unknown keys are errors); messages name the file, the key path
and the YAML line, so a typo in CI is found without reading a traceback.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    model_validator,
)

from pytest_model_gate.core.inputs import InputLimit, load_yaml, read_bounded
from pytest_model_gate.errors import ConfigError
from pytest_model_gate.text import ReviewMode, show_value

CONFIG_FILENAME = "gate.yaml"
DEFAULT_ARCHIVE = "training_archives"  # the built-in `archive:`, for every shell
MAX_CONFIG_BYTES = 1024 * 1024  # a gate.yaml is a few KB
MAX_INTERVAL = 10**12  # validation_interval: beyond any real training run
BUILTIN_METRIC_NAMES = ("fitness", "profit_factor", "consistency", "max_drawdown")
# Words that say a metric is better when lower: such a metric gated higher-is-better by
# default (not written) is almost always a mistake that drops the best models.
LOWER_IS_BETTER_WORDS = frozenset(("loss", "error", "latency", "drawdown", "mae", "mse", "rmse",
                                   "perplexity", "wer", "cer"))
_WORD_SPLIT = re.compile(r"[^A-Za-z0-9]+|(?<=[a-z0-9])(?=[A-Z])")


def looks_lower_is_better(*names: str) -> bool:
    """True when a word of any name (split at `_`, `/`, `-`, `.`, camelCase) says lower is
    better: val_loss, eval/error_rate, valMAE; not `maestro` or `accuracy`."""
    return any(word.lower() in LOWER_IS_BETTER_WORDS
               for name in names for word in _WORD_SPLIT.split(name))


def _finite_number(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"expected a number, got {show_value(value)}")
    try:
        number = float(value)
    except OverflowError:  # an integer too large for a float (400 digits)
        raise ValueError(f"expected a finite number, got {show_value(value)}") from None
    if not math.isfinite(number):
        raise ValueError(f"expected a finite number, got {value}")
    return number


Bound = Annotated[float, BeforeValidator(_finite_number)]


def _names(value: Any) -> Any:
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) and v for v in value):
        return tuple(value)
    raise ValueError(f"expected a list of summary keys, got {show_value(value)}")


Names = Annotated[tuple[str, ...], BeforeValidator(_names)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class MetricSpec(_Strict):
    """One gated metric: where to read it, which way is better, its two bounds."""

    key: str = Field(min_length=1)
    aliases: Names = ()
    higher_is_better: bool = True
    approved: Bound
    review: Bound
    flag: str = Field(min_length=1)

    @model_validator(mode="after")
    def _bounds_ordered(self) -> MetricSpec:
        if self.higher_is_better and self.review > self.approved:
            hint = ("" if "higher_is_better" in self.model_fields_set else
                    "; if lower is better for this metric (a loss, an error), write "
                    "higher_is_better: false")
            raise ValueError(
                f"review bound {self.review:g} is stricter than approved bound {self.approved:g} "
                f"(higher is better, so review must be <= approved){hint}")
        if not self.higher_is_better and self.review < self.approved:
            raise ValueError(
                f"review bound {self.review:g} is stricter than approved bound {self.approved:g} "
                "(lower is better, so review must be >= approved)")
        return self

    @property
    def names(self) -> tuple[str, ...]:
        """The summary keys tried, in order."""
        return (self.key, *self.aliases)


class MetricOverride(_Strict):
    """Partial metric fields an override merges onto the base spec."""

    approved: Bound | None = None
    review: Bound | None = None
    flag: str | None = None


class Override(_Strict):
    """`match` is an fnmatch pattern on the model id, or on the symbol with a `symbol:` prefix."""

    match: str = Field(min_length=1)
    metrics: dict[str, MetricOverride] = Field(default_factory=dict)

    def matches(self, model_id: str, symbol: str) -> bool:
        if self.match.startswith("symbol:"):
            return fnmatchcase(symbol, self.match[len("symbol:"):])
        return fnmatchcase(model_id, self.match)


class OverfittingConfig(_Strict):
    metric: str | None = None
    decline_threshold: Bound = 0.05
    oscillation_threshold: Bound = 0.10
    demote: bool = False


class BaselineConfig(_Strict):
    against: Literal["last", "last_approved"] = "last_approved"
    window: int = Field(default=1, ge=1)
    max_decline: dict[str, Bound] = Field(default_factory=dict)
    min_abs_change: dict[str, Bound] = Field(default_factory=dict)
    on_regression: Literal["review", "drop"] = "review"


def _builtin_metrics() -> dict[str, dict[str, Any]]:
    return {
        "fitness": {"key": "fitness_score", "aliases": ("fitness", "final_fitness"),
                    "higher_is_better": True, "approved": 0.70, "review": 0.50,
                    "flag": "LOW_FITNESS"},
        "profit_factor": {"key": "profit_factor", "aliases": ("pf", "final_pf"),
                          "higher_is_better": True, "approved": 1.8, "review": 1.3,
                          "flag": "LOW_PF"},
        "consistency": {"key": "consistency", "aliases": ("final_consistency",),
                        "higher_is_better": True, "approved": 0.85, "review": 0.65,
                        "flag": "LOW_CONSISTENCY"},
        "max_drawdown": {"key": "max_drawdown", "aliases": ("max_dd", "final_max_dd"),
                         "higher_is_better": False, "approved": 0.08, "review": 0.15,
                         "flag": "HIGH_DRAWDOWN"},
    }


def _complete_metric(name: str, raw: Any) -> Any:
    """Fill a metric's unset fields: from the built-in of that name, else from its name."""
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        return raw  # pydantic reports the type error at the right place
    builtin = _builtin_metrics().get(name)
    if builtin is not None:
        return {**builtin, **raw}
    merged = dict(raw)
    merged.setdefault("key", name)
    hib = merged.get("higher_is_better", True)
    merged.setdefault("flag", f"{'LOW' if hib is not False else 'HIGH'}_{name.upper()}")
    return merged


class GateConfig(_Strict):
    """The whole gate: what is gated and how, plus where results go."""

    version: Literal[1] = 1
    metrics_key: str | None = Field(default=None, min_length=1)  # a model's metrics container
    metrics: dict[str, MetricSpec] = Field(default_factory=lambda: {
        n: MetricSpec(**m) for n, m in _builtin_metrics().items()})
    overfitting: OverfittingConfig = Field(default_factory=OverfittingConfig)
    validation_interval: int | None = Field(default=None, ge=1, le=MAX_INTERVAL)
    on_review: ReviewMode = "xfail"
    on_invalid: Literal["drop", "review"] = "drop"
    overrides: tuple[Override, ...] = ()
    baseline: BaselineConfig | None = None
    archive: str | None = DEFAULT_ARCHIVE
    report: str | None = "model-gate-report.md"
    html: str | None = None
    # the lake table (extra `lake`): true = `table/` in the archive, or its own URL
    table: bool | str | None = None
    max_summary_bytes: int | None = Field(default=None, ge=1)  # None: 256 MiB or the env
    write_back: bool = False  # mlflow sources: set model_gate.* tags on each run
    _warnings: tuple[str, ...] = PrivateAttr(default=())

    @property
    def warnings(self) -> tuple[str, ...]:
        """Config warnings found when the file was loaded (e.g. a loss gated higher-is-better)."""
        return self._warnings

    @model_validator(mode="before")
    @classmethod
    def _complete(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        data = dict(data)
        metrics = data.get("metrics")
        if isinstance(metrics, Mapping):
            data["metrics"] = {str(n): _complete_metric(str(n), m) for n, m in metrics.items()}
        if isinstance(data.get("overrides"), list):
            data["overrides"] = tuple(data["overrides"])
        return data

    @model_validator(mode="after")
    def _consistent(self) -> GateConfig:
        if not self.metrics:
            raise ValueError("metrics: at least one metric must be gated")
        seen: dict[str, str] = {}
        for name, spec in self.metrics.items():
            for key in spec.names:
                if key in seen and seen[key] != name:
                    raise ValueError(
                        f"metrics: {seen[key]!r} and {name!r} both read the summary key {key!r}")
                seen[key] = name
        if self.overfitting.metric is not None and self.overfitting.metric not in self.metrics:
            raise ValueError(
                f"overfitting.metric: {self.overfitting.metric!r} is not a gated metric "
                f"(gated: {', '.join(self.metrics)})")
        for i, override in enumerate(self.overrides):
            for name, partial in override.metrics.items():
                if name not in self.metrics:
                    raise ValueError(
                        f"overrides[{i}].metrics: {name!r} is not a gated metric"
                        f"{_suggest(name, self.metrics)}")
                try:
                    _merge(self.metrics[name], partial)
                except ValidationError as exc:
                    msg = exc.errors()[0]["msg"].removeprefix("Value error, ")
                    raise ValueError(f"overrides[{i}].metrics.{name}: {msg}") from None
        if self.baseline is not None:
            for field in ("max_decline", "min_abs_change"):
                for name, limit in getattr(self.baseline, field).items():
                    if name not in self.metrics:
                        raise ValueError(f"baseline.{field}: {name!r} is not a gated metric"
                                         f"{_suggest(name, self.metrics)}")
                    if limit < 0:
                        raise ValueError(f"baseline.{field}.{name}: must be >= 0, got {limit:g}")
        return self

    @property
    def watched_metric(self) -> str:
        """The metric whose history is checked for overfitting."""
        if self.overfitting.metric is not None:
            return self.overfitting.metric
        return "fitness" if "fitness" in self.metrics else next(iter(self.metrics))

    def metrics_for(self, model_id: str, symbol: str) -> Mapping[str, MetricSpec]:
        """The specs for one model: the first matching override merged onto the base."""
        for override in self.overrides:
            if override.matches(model_id, symbol):
                if not override.metrics:
                    return self.metrics
                return {n: (_merge(s, override.metrics[n]) if n in override.metrics else s)
                        for n, s in self.metrics.items()}
        return self.metrics

    def verdict_settings(self) -> dict[str, Any]:
        """Everything that decides verdicts, defaults made explicit (output paths left out)."""
        data = self.model_dump(mode="json",
                               exclude={"archive", "report", "html", "table",
                                        "max_summary_bytes", "write_back"})
        data["overfitting"]["metric"] = self.watched_metric
        if data["metrics_key"] is None:  # unset: leave digests of older configs unchanged
            del data["metrics_key"]
        return data

    def digest(self) -> str:
        """sha256 of what decides verdicts: equal configs share it, however they were written."""
        data = self.verdict_settings()
        blob = json.dumps(data, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()


def _merge(spec: MetricSpec, partial: MetricOverride) -> MetricSpec:
    changes = partial.model_dump(exclude_none=True)
    return MetricSpec(**{**spec.model_dump(), **changes})


def _suggest(name: str, choices: Sequence[str] | Mapping[str, Any]) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


# --- loading -------------------------------------------------------------------------------

_FIELDS_AT: dict[str, type[BaseModel]] = {
    "": GateConfig, "metric": MetricSpec, "overfitting": OverfittingConfig,
    "baseline": BaselineConfig, "override": Override, "override_metric": MetricOverride,
}


def _model_at(loc: Sequence[str | int]) -> type[BaseModel]:
    """Which pydantic model a key path (without its last part) points into."""
    parts = list(loc)
    if not parts:
        return GateConfig
    if parts[0] == "metrics" and len(parts) == 2:
        return MetricSpec
    if parts[0] in ("overfitting", "baseline") and len(parts) == 1:
        return OverfittingConfig if parts[0] == "overfitting" else BaselineConfig
    if parts[0] == "overrides" and len(parts) == 2:
        return Override
    if parts[0] == "overrides" and len(parts) == 4 and parts[2] == "metrics":
        return MetricOverride
    return GateConfig


def _format_loc(loc: Sequence[str | int]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _line_map(root: yaml.Node | None) -> dict[tuple[str | int, ...], int]:
    """Key path -> 1-based line, from the YAML node tree (its aliases already bounded by
    `load_yaml`); also rejects duplicate keys."""
    lines: dict[tuple[str | int, ...], int] = {}

    def walk(node: yaml.Node, path: tuple[str | int, ...]) -> None:
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key_node, value_node in node.value:
                key = str(key_node.value)
                if key in seen:
                    raise ConfigError(f"duplicate key {key!r}", place=_format_loc(path) or None,
                                      line=key_node.start_mark.line + 1)
                seen.add(key)
                key_path = (*path, key)
                lines[key_path] = key_node.start_mark.line + 1
                walk(value_node, key_path)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                item_path = (*path, i)
                lines[item_path] = item.start_mark.line + 1
                walk(item, item_path)

    if root is not None:
        walk(root, ())
    return lines


def _line_for(lines: Mapping[tuple[str | int, ...], int], loc: Sequence[str | int]) -> int | None:
    path = tuple(loc)
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return None


def parse_config(data: Any, *, file: str = "<config>",
                 lines: Mapping[tuple[str | int, ...], int] | None = None) -> GateConfig:
    """Validate a parsed mapping; errors become one ConfigError naming file, key and line."""
    lines = lines or {}
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"expected a mapping of options at the top, got {show_value(data)}",
                          file=file)
    try:
        return GateConfig.model_validate(data)
    except ValidationError as exc:
        raise _config_error(exc, file, lines) from None


def _config_error(exc: ValidationError, file: str,
                  lines: Mapping[tuple[str | int, ...], int]) -> ConfigError:
    """Every problem pydantic found, each on its own line with its key path and YAML line.

    A misspelled required key (`aproved:`) is one problem, not two: the unknown key names
    the missing one it was meant to be."""
    found = [_one_error(err, file, lines) for err in exc.errors()]
    typos = {meant for _, meant in found if meant is not None}
    unique: list[ConfigError] = []
    seen: set[str] = set()
    for error, _ in found:
        if error.message == "required key is missing" and error.place in typos:
            continue  # reported as the misspelled key that was meant to be it
        if error.render() not in seen:
            seen.add(error.render())
            unique.append(error)
    unique.sort(key=lambda e: e.line if e.line is not None else 0)
    if len(unique) == 1:
        return unique[0]
    return ConfigError(f"{len(unique)} errors:\n" + "\n".join("  " + e.render() for e in unique),
                       file=file)


def _one_error(err: Any, file: str, lines: Mapping[tuple[str | int, ...], int]
               ) -> tuple[ConfigError, str | None]:
    """One pydantic error as a ConfigError, plus for an unknown key the place of the known
    key it most resembles (so a misspelled required key is reported once)."""
    loc = [p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
    # pydantic adds union/tagged members to locs (e.g. "BaselineConfig"); drop class names
    loc = [p for p in loc if not (isinstance(p, str) and p[:1].isupper() and p in {
        "BaselineConfig", "MetricOverride", "float", "str", "int", "none"})]
    msg = str(err["msg"]).removeprefix("Value error, ")
    line = _line_for(lines, loc)
    if err["type"] == "extra_forbidden":
        key = str(loc[-1])
        allowed = list(_model_at(loc[:-1]).model_fields)
        close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
        return (ConfigError(
            f"unknown key {key!r}{_suggest(key, allowed)}; allowed: {', '.join(allowed)}",
            file=file, place=_format_loc(loc), line=line),
            _format_loc([*loc[:-1], close[0]]) if close else None)
    if err["type"] == "literal_error":
        got = show_value(err.get("input"))
        return (ConfigError(f"{msg}, got {got}", file=file, place=_format_loc(loc), line=line),
                None)
    if err["type"] == "missing":
        return (ConfigError("required key is missing", file=file, place=_format_loc(loc),
                           line=_line_for(lines, loc[:-1])), None)
    if loc:
        if err["type"].endswith("_type") and "input" in err:
            msg = f"{msg}, got {show_value(err['input'])}"
        return (ConfigError(msg, file=file, place=_format_loc(loc), line=line), None)
    # model-level checks put their own key path first ("metrics: ...")
    place, _, rest = msg.partition(": ")
    if rest and " " not in place:
        path = _path_of(place)
        return (ConfigError(rest, file=file, place=place, line=_line_for(lines, path)), None)
    return (ConfigError(msg, file=file), None)


def _path_of(place: str) -> list[str | int]:
    out: list[str | int] = []
    for chunk in place.split("."):
        name, _, rest = chunk.partition("[")
        if name:
            out.append(name)
        while rest:
            idx, _, rest = rest.partition("]")
            out.append(int(idx))
            rest = rest.removeprefix("[")
    return out


def load_config(path: str | Path) -> GateConfig:
    """Read and validate a gate.yaml; a missing or malformed file is a ConfigError."""
    file = str(path)
    try:
        raw = read_bounded(path, MAX_CONFIG_BYTES, what="config file",
                           setting="a smaller gate.yaml")
    except InputLimit as exc:
        raise ConfigError(str(exc), file=file) from None
    except FileNotFoundError:
        raise ConfigError("config file not found", file=file) from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file: {exc.strerror or exc}", file=file) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not valid UTF-8 (byte {exc.start})", file=file) from None
    try:
        data, root = load_yaml(text)
        lines = _line_map(root)
    except InputLimit as exc:
        raise ConfigError(str(exc), file=file) from None
    except ConfigError as exc:
        exc.file = file
        raise ConfigError(exc.message, file=file, place=exc.place, line=exc.line) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"invalid YAML: {problem}", file=file,
                          line=mark.line + 1 if mark is not None else None) from None
    config = parse_config(data, file=file, lines=lines)
    config._warnings = tuple(config_warnings(config, file=file, lines=lines))
    if isinstance(config.table, str) and "://" not in config.table \
            and not Path(config.table).is_absolute():
        # a relative `table:` path names a folder next to this file, for the plugin, the
        # CLI and the API alike (archive/report paths are resolved by the settings, which
        # also weigh the command line; `table` is only ever set here)
        table = str(Path(file).absolute().parent / config.table)
        config = config.model_copy(update={"table": table})
    return config


def config_warnings(config: GateConfig, *, file: str = "<config>",
                    lines: Mapping[tuple[str | int, ...], int] | None = None) -> list[str]:
    """Likely mistakes that are not errors: a metric whose name says lower is better, gated
    with the default higher_is_better: true (write it explicitly to silence this)."""
    out = []
    for name, spec in config.metrics.items():
        if (spec.higher_is_better and "higher_is_better" not in spec.model_fields_set
                and looks_lower_is_better(name, *spec.names)):
            line = _line_for(lines or {}, ("metrics", name))
            where = f"{file}:{line}" if line is not None else file
            out.append(f"{where}: metrics.{name}: the name says lower is better, but "
                       "higher_is_better defaults to true; write higher_is_better: false "
                       "(or higher_is_better: true to keep it and silence this warning)")
    return out


@dataclasses.dataclass(frozen=True)
class ConfigChoice:
    """Which gate.yaml is used and why (for the header, warnings and `model-gate doctor`)."""

    path: Path | None  # None: the built-in defaults
    reason: str
    warning: str | None = None  # e.g. a gate.yaml beyond the repository root was not used
    discovered: bool = False  # found by walking up (outputs then resolve against its folder)


def _walk_up(start: Path) -> tuple[Path | None, Path | None]:
    """(gate.yaml found from `start` up to the repository root, that boundary folder)."""
    for folder in (start, *start.parents):
        candidate = folder / CONFIG_FILENAME
        if candidate.is_file():
            return candidate, None
        if (folder / ".git").exists():
            return None, folder
    return None, None


def find_config(explicit: str | Path | None,
                search_dirs: str | Path | Sequence[str | Path] | None) -> Path | None:
    """The config file to use: the one named (must exist), else the first gate.yaml found
    walking up from each search folder to the repository root (`.git`) or the root."""
    return choose_config(explicit, search_dirs).path


def choose_config(explicit: str | Path | None,
                  search_dirs: str | Path | Sequence[str | Path] | None) -> ConfigChoice:
    """`find_config`, with the reason for the choice and a warning when a gate.yaml exists
    beyond the repository root (it is not used: a checkout never reads its parent's)."""
    if explicit is not None:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError("config file not found", file=str(explicit))
        return ConfigChoice(path, "named by an option")
    if search_dirs is None:
        return ConfigChoice(None, "built-in defaults (no gate.yaml searched)")
    dirs = [search_dirs] if isinstance(search_dirs, (str, Path)) else list(search_dirs)
    starts: list[Path] = []
    for d in dirs:
        folder = Path(d).absolute()
        if folder not in starts:
            starts.append(folder)
    boundaries: list[Path] = []
    for start in starts:
        found, boundary = _walk_up(start)
        if found is not None:
            how = "in the current folder" if found.parent == start else f"walking up from {start}"
            return ConfigChoice(found, f"found {how}", discovered=True)
        if boundary is not None:
            boundaries.append(boundary)
    warning = None
    for boundary in boundaries:
        beyond = next((f / CONFIG_FILENAME for f in boundary.parents
                       if (f / CONFIG_FILENAME).is_file()), None)
        if beyond is not None:
            warning = (f"using the built-in defaults: no {CONFIG_FILENAME} between "
                       f"{starts[0]} and the repository root {boundary}; {beyond} lies beyond "
                       "it and is not used (name it with --model-gate-config / --config to "
                       "use it)")
            break
    where = ", ".join(str(s) for s in starts)
    return ConfigChoice(None, f"built-in defaults (no {CONFIG_FILENAME} from {where} up to "
                              "the repository root)", warning=warning)


def resolve_output(value: str | None, base: Path | None) -> str | None:
    """Resolve a relative archive/report path against the file that named it (URLs kept)."""
    if value is None or "://" in value or base is None:
        return value
    p = Path(value)
    return str(p if p.is_absolute() else base / p)


# --- the original API's config ------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class ModelGatingConfig:
    """The v2.4.1 thresholds, by their original names; `to_gate_config()` gives a GateConfig."""

    approved_min_fitness: float = 0.70
    approved_min_pf: float = 1.8
    approved_min_consistency: float = 0.85
    approved_max_drawdown: float = 0.08
    review_min_fitness: float = 0.50
    review_min_pf: float = 1.3
    review_min_consistency: float = 0.65
    review_max_drawdown: float = 0.15
    fitness_decline_threshold: float = 0.05
    fitness_oscillation_threshold: float = 0.10

    def to_gate_config(self) -> GateConfig:
        return parse_config({
            "metrics": {
                "fitness": {"approved": self.approved_min_fitness,
                            "review": self.review_min_fitness},
                "profit_factor": {"approved": self.approved_min_pf, "review": self.review_min_pf},
                "consistency": {"approved": self.approved_min_consistency,
                                "review": self.review_min_consistency},
                "max_drawdown": {"approved": self.approved_max_drawdown,
                                 "review": self.review_max_drawdown},
            },
            "overfitting": {"metric": "fitness",
                            "decline_threshold": self.fitness_decline_threshold,
                            "oscillation_threshold": self.fitness_oscillation_threshold},
        }, file="ModelGatingConfig")


def as_gate_config(config: GateConfig | ModelGatingConfig | None) -> GateConfig:
    """Accept either config type (None = built-in defaults)."""
    if config is None:
        return DEFAULT_CONFIG
    if isinstance(config, ModelGatingConfig):
        return config.to_gate_config()
    return config


DEFAULT_CONFIG = GateConfig()
