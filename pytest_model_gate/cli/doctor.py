"""`model-gate doctor [SUMMARY...]`: which gate.yaml, archive, report, summary shape and
metrics would be used, and why. A newcomer's first command when a verdict looks wrong: it
reads everything the gate would read and writes nothing.

Exit status: 0 all usable, 2 the config or a summary cannot be used (the line says why).
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pytest_model_gate.cli.common import EXIT_BAD_INPUT, EXIT_OK
from pytest_model_gate.core.config import GateConfig
from pytest_model_gate.core.summary import (
    CONTAINER_KEYS,
    METRIC_BLOCK_KEYS,
    TrainingSummary,
    check_some_metric_found,
    decode_summary,
    parse_summary,
    read_summary_bytes,
)
from pytest_model_gate.errors import ModelGateError
from pytest_model_gate.pipeline import GateSettings, resolve_settings
from pytest_model_gate.text import inert


def run_doctor(args: argparse.Namespace) -> int:
    out: list[str] = []
    code = EXIT_OK
    cwd = Path.cwd()
    try:
        settings = resolve_settings(config_file=args.config, search_dir=cwd, base_dir=cwd,
                                    archive=args.archive)
    except ModelGateError as exc:
        print(f"gate.yaml: cannot be used: {inert(str(exc), edges=False)}")
        return EXIT_BAD_INPUT
    out += _settings_lines(settings)
    for path in args.summary:
        lines, ok = _summary_lines(path, settings.config)
        out += lines
        if not ok:
            code = EXIT_BAD_INPUT
    print("\n".join(out))
    return code


def _settings_lines(s: GateSettings) -> list[str]:
    choice = s.choice
    reason = choice.reason if choice is not None else ""
    lines = [f"gate.yaml: {s.config_path} ({reason})" if s.config_path is not None
             else f"gate.yaml: none: {reason}"]
    lines += [f"  warning: {inert(w, edges=False)}" for w in s.warnings]
    c = s.config
    lines.append(f"  config sha256 {c.digest()[:12]}; on_review: {c.on_review}; "
                 f"on_invalid: {c.on_invalid}")
    blocks = (c.metrics_key, *METRIC_BLOCK_KEYS) if c.metrics_key else METRIC_BLOCK_KEYS
    lines.append("metrics: read from a model's " + " / ".join(blocks)
                 + " object, else from the model itself"
                 + ("" if c.metrics_key else " (metrics_key: not set)"))
    for name, spec in c.metrics.items():
        op = ">=" if spec.higher_is_better else "<="
        direction = "higher is better" if spec.higher_is_better else "lower is better"
        lines.append(f"  {inert(name)}: reads {', '.join(map(inert, spec.names))}; {direction}; "
                     f"APPROVED {op} {spec.approved:g}, REVIEW {op} {spec.review:g}; "
                     f"flag {inert(spec.flag)}")
    lines.append(f"  overfitting watches {inert(c.watched_metric)}")
    for key in ("archive", "report", "html"):
        value = getattr(s, key)
        origin = s.origins.get(key, "")
        lines.append(f"{key}: {value if value is not None else 'off'} ({origin})")
    return lines


def _summary_lines(path: str, config: GateConfig) -> tuple[list[str], bool]:
    """What the summary looks like to the gate, and whether it can be gated."""
    from pytest_model_gate.sources.registry import is_source

    if is_source(path):
        return _source_lines(path, config)
    lines = [f"summary {inert(path)}:"]
    try:
        raw = read_summary_bytes(path, path)
        data = decode_summary(raw, path, yaml_format=Path(path).suffix.lower()
                              in (".yaml", ".yml"))
        lines += _shape_lines(data, config)
        summary = parse_summary(data, source=path, raw=raw, config=config, check=False)
    except ModelGateError as exc:
        lines.append(f"  cannot be read: {inert(str(exc), edges=False)}")
        return lines, False
    lines += _metric_lines(summary, config)
    try:
        parse_summary(data, source=path, raw=raw, config=config)
        check_some_metric_found(summary, config)
    except ModelGateError as exc:
        lines.append(f"  cannot be gated: {inert(str(exc), edges=False)}")
        return lines, False
    lines.append("  can be gated")
    return lines, True


def _source_lines(spec: str, config: GateConfig) -> tuple[list[str], bool]:
    """A source (`hf:runs/bert`, a folder of tool output): what its reader gives."""
    from pytest_model_gate.sources.loader import read_summary

    lines = [f"source {inert(spec)}:"]
    try:
        loaded = read_summary(spec, None)
    except ModelGateError as exc:
        lines.append(f"  cannot be read: {inert(str(exc), edges=False)}")
        return lines, False
    lines.append(f"  kind {loaded.kind}: {len(loaded.summary.models)} models")
    lines += _metric_lines(loaded.summary, config)
    try:
        read_summary(spec, config)
    except ModelGateError as exc:
        lines.append(f"  cannot be gated: {inert(str(exc), edges=False)}")
        return lines, False
    lines.append("  can be gated")
    return lines, True


def _metric_lines(summary: TrainingSummary, config: GateConfig) -> list[str]:
    lines = []
    for name, spec in config.metrics.items():
        found: dict[str, int] = {}
        for model in summary.models:
            hit = model.lookup(spec.names)
            if hit is not None:
                found[hit[0]] = found.get(hit[0], 0) + 1
        n = sum(found.values())
        keys = ", ".join(f"{inert(k)} in {v}" for k, v in found.items())
        lines.append(f"  metric {inert(name)}: found in {n} of {len(summary.models)} models"
                     + (f" ({keys})" if keys else " (missing: these models DROP)"))
    return lines


def _shape_lines(data: Any, config: GateConfig) -> list[str]:
    if not isinstance(data, Mapping):
        return ["  shape: not an object at the top"]
    key = next((k for k in CONTAINER_KEYS if k in data), None)
    if key is None:
        return [f"  shape: no {' / '.join(CONTAINER_KEYS)} key at the top "
                f"(top-level keys: {_few([str(k) for k in data])})"]
    container = data[key]
    if isinstance(container, Mapping):
        objs: Sequence[Any] = list(container.values())
        form = f"an object of {len(container)} models keyed by id"
    elif isinstance(container, list):
        objs = container
        form = f"a list of {len(container)} models (id from id / name / symbol)"
    else:
        return [f"  shape: {key!r} holds neither an object nor a list"]
    blocks: dict[str, int] = {}
    wanted = (config.metrics_key, *METRIC_BLOCK_KEYS) if config.metrics_key else \
        METRIC_BLOCK_KEYS
    for obj in objs:
        if isinstance(obj, Mapping):
            block = next((b for b in wanted if b in obj), "(the model itself)")
            blocks[block] = blocks.get(block, 0) + 1
    where = ", ".join(f"{inert(b)} in {n}" for b, n in blocks.items())
    return [f"  shape: {json_key(key)} holds {form}", f"  metrics under: {where}"]


def json_key(key: str) -> str:
    return f'"{inert(key)}"'


def _few(names: Sequence[str], limit: int = 8) -> str:
    shown = ", ".join(inert(n) for n in names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def add_commands(sub: Any) -> None:
    """Register `doctor` on the `model-gate` subcommand parser."""
    p = sub.add_parser("doctor", help="show which gate.yaml, archive, report, summary shape "
                                      "and metrics would be used, and why",
                       description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("summary", nargs="*", help="training summary file(s) to inspect")
    p.add_argument("--config", help="gate.yaml to use (default: found walking up from here)")
    p.add_argument("--archive", help="archive folder or fsspec URL")
    p.set_defaults(func=run_doctor)
