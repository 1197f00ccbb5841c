"""What one pytest session gates: the settings (options > ini > gate.yaml > defaults), the
summary files named by `--model-gate`, and each summary's gated result, computed once."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pytest_model_gate.errors import ModelGateError
from pytest_model_gate.pipeline import GatedSummary, GateSettings, gate_file, resolve_settings
from pytest_model_gate.sources.registry import is_source
from pytest_model_gate.text import ReviewMode


@dataclass
class GateState:
    """The gate's state in one pytest process (controller or xdist worker)."""

    settings: GateSettings
    on_review: ReviewMode
    summaries: dict[Path, str]  # the path as given, made absolute -> the argument as given
    # sources other than summary files (`hf:runs/bert`, `mlflow:sqlite:///m.db`, a folder of
    # tool output), as given: collected as nodes of their own, never as paths pytest walks
    sources: list[str] = field(default_factory=list)
    gated: dict[Path | str, GatedSummary | ModelGateError] = field(default_factory=dict)

    def key_of(self, file_path: Path) -> Path | None:
        """The summary a collected file is. pytest names a file by its argument made
        absolute, never resolved, so a summary reached through a symlink (a linked file, a
        linked folder, macOS's /tmp) is found under the same name."""
        return file_path if file_path in self.summaries else None

    @property
    def missing(self) -> list[Path]:
        """Summaries named on the command line that do not exist."""
        return [p for p in self.summaries if not p.exists()]

    def gate(self, key: Path | str) -> GatedSummary:
        """Load and gate one summary or source once per process; errors are cached too."""
        if key not in self.gated:
            source = self.summaries[key] if isinstance(key, Path) else key
            try:
                self.gated[key] = gate_file(key, self.settings, source=source)
            except ModelGateError as exc:
                self.gated[key] = exc
        result = self.gated[key]
        if isinstance(result, ModelGateError):
            raise result
        return result


def _ini_path(config: pytest.Config, name: str) -> str | None:
    value = config.getini(name)
    return str(value) if value else None


def build_state(config: pytest.Config) -> GateState:
    """The session's GateState from its options; a bad gate.yaml is a usage error (exit 4)."""
    opt = config.option
    ini_base = config.inipath.parent if config.inipath is not None else config.rootpath
    config_file = opt.model_gate_config
    if config_file is None and (ini_config := _ini_path(config, "model_gate_config")):
        config_file = str(ini_base / ini_config)
    try:
        settings = resolve_settings(
            config_file=config_file, base_dir=config.rootpath,
            search_dir=[config.invocation_params.dir, config.rootpath],
            archive=opt.model_gate_archive, no_archive=opt.model_gate_no_archive,
            report=opt.model_gate_report, html=opt.model_gate_html,
            comment=opt.model_gate_comment,
            ini_archive=_ini_path(config, "model_gate_archive"),
            ini_report=_ini_path(config, "model_gate_report"), ini_base=ini_base,
            write_back=opt.model_gate_write_back)
    except ModelGateError as exc:
        raise pytest.UsageError(f"model-gate: {exc}") from None
    on_review: ReviewMode = opt.model_gate_review or settings.config.on_review
    invocation = config.invocation_params.dir
    summaries: dict[Path, str] = {}
    sources: list[str] = []
    seen: set[Path] = set()
    for arg in opt.model_gate:
        if is_source(arg):
            if arg not in sources:
                sources.append(arg)
            continue
        path = Path(os.path.abspath(invocation / arg))  # as pytest names collected files
        if _resolve(path) not in seen:  # the same file named twice is gated once
            seen.add(_resolve(path))
            summaries[path] = arg
    return GateState(settings=settings, on_review=on_review, summaries=summaries,
                     sources=sources)


def _resolve(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # a symlink loop: compared as given
        return path
