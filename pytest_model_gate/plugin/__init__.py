"""pytest plugin entry point: `pytest --model-gate summary.json`, one test per model.

APPROVED passes, REVIEW xfails (or fails / passes, per `on_review`), DROP fails. This module
is imported by every pytest run that has the package installed, so it holds only the options
and the configure hook and imports nothing heavy. The rest is imported only when
`--model-gate` is given (no cost otherwise):

- `state.py`: settings and the gated summaries of this session (`GateState`);
- `items.py`: the `SummaryNode` collector (a pytest.File) and one `ModelItem` per model;
- `controller.py` (+ `terminal.py`): archive, report, exit status and the terminal section,
  registered on the controller only, never on pytest-xdist workers.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_model_gate.text import REVIEW_MODES  # stdlib-only module: costs nothing

if TYPE_CHECKING:
    from pytest_model_gate.plugin.state import GateState

gate_state_key: pytest.StashKey[GateState] = pytest.StashKey()


# --- options ---------------------------------------------------------------------------------

def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("model-gate", "gate trained models (pytest-model-gate)")
    group.addoption("--model-gate", action="append", dest="model_gate", default=[],
                    metavar="SUMMARY",
                    help="training summary to gate: one test per model (repeatable). Use the "
                         "--model-gate=PATH form for a summary outside the project.")
    group.addoption("--model-gate-config", dest="model_gate_config", metavar="GATE_YAML",
                    help="gate.yaml to use (default: ini model_gate_config, else gate.yaml in "
                         "the rootdir, else the built-in thresholds)")
    group.addoption("--model-gate-archive", dest="model_gate_archive", metavar="DIR_OR_URL",
                    help="archive folder or fsspec URL (default: gate.yaml `archive`)")
    group.addoption("--no-model-gate-archive", dest="model_gate_no_archive",
                    action="store_true", default=False, help="do not archive this run")
    group.addoption("--model-gate-report", dest="model_gate_report", metavar="PATH",
                    help="where to write the markdown report (default: gate.yaml `report`)")
    group.addoption("--model-gate-html", dest="model_gate_html", metavar="PATH",
                    help="where to write the self-contained HTML report")
    group.addoption("--model-gate-comment", dest="model_gate_comment", metavar="PATH",
                    help="where to write a short markdown for a sticky pull-request comment")
    group.addoption("--model-gate-write-back", dest="model_gate_write_back",
                    action="store_true", default=False,
                    help="mlflow sources: set model_gate.class / .flags / .run_id tags on each "
                         "run (also gate.yaml `write_back: true`)")
    group.addoption("--model-gate-review", dest="model_gate_review", choices=REVIEW_MODES,
                    help="what a REVIEW model is: xfail (default), fail or pass")
    parser.addini("model_gate_config", "gate.yaml for pytest-model-gate (relative to the ini "
                  "file)", default=None)
    parser.addini("model_gate_archive", "archive folder or fsspec URL", default=None)
    parser.addini("model_gate_report", "markdown report path", default=None)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    if not config.option.model_gate:
        return
    from pytest_model_gate.plugin.controller import GateController
    from pytest_model_gate.plugin.items import SummaryCollector
    from pytest_model_gate.plugin.state import build_state

    state = build_state(config)
    config.stash[gate_state_key] = state
    # A summary counts as a path argument: alone it replaces testpaths / the current
    # directory; beside the user's own paths it is added to them.
    # A missing summary is not passed on: pytest would stop with a usage error; the
    # collector reports it as the bad input it is (exit 2).
    invocation = config.invocation_params.dir
    missing = set(state.missing)
    present = {path: arg for path, arg in state.summaries.items() if path not in missing}
    extra = [arg for path, arg in present.items()
             if not any(_refers_to(a, path, invocation) for a in config.args)]
    if config.args_source != pytest.Config.ArgsSource.ARGS:
        config.args = list(present.values())
        config.args_source = pytest.Config.ArgsSource.ARGS
    else:
        config.args = [*config.args, *extra]
    if not hasattr(config, "workerinput"):
        _warn_space_form_outside(config)
        for warning in state.settings.warnings:
            config.issue_config_time_warning(
                pytest.PytestConfigWarning(f"model-gate: {warning}"), stacklevel=2)
    config.pluginmanager.register(SummaryCollector(state), "model-gate-collector")
    if not hasattr(config, "workerinput"):
        config.pluginmanager.register(GateController(config, state), "model-gate-controller")


def _refers_to(arg: str, path: Path, invocation: Path) -> bool:
    base = arg.split("::", 1)[0]
    try:
        return (invocation / base).resolve() == path.resolve()
    except OSError:
        return False


def _warn_space_form_outside(config: pytest.Config) -> None:
    """`--model-gate /elsewhere/s.json` (space form) let pytest pick the rootdir from that
    path, so the project's ini file and gate.yaml may have been skipped: say so."""
    args = [str(a) for a in config.invocation_params.args]
    invocation = config.invocation_params.dir
    for flag, value in itertools.pairwise(args):
        if flag != "--model-gate":
            continue
        path = (invocation / value).resolve()
        if not path.is_relative_to(invocation.resolve()):
            config.issue_config_time_warning(pytest.PytestConfigWarning(
                f"model-gate: {value} is outside the current directory and was given as "
                f"`--model-gate {value}`, so pytest chose the rootdir ({config.rootpath}) "
                f"from it; write `--model-gate={value}` to keep the project's rootdir, ini "
                "file and gate.yaml"), stacklevel=2)


def pytest_report_header(config: pytest.Config) -> str | None:
    state = config.stash.get(gate_state_key, None)
    if state is None:
        return None
    s = state.settings
    source = str(s.config_path) if s.config_path else "built-in defaults"
    return (f"model-gate: config {source} (sha256 {s.config.digest()[:12]}), "
            f"archive {s.archive or 'off'}, report {s.report or 'off'}")


# name -> module: the node, item and controller classes, for users and tests that import
# them from here (imported on first use, so the entry point stays cheap).
_LAZY = {"GateVerdict": "items", "ModelDropped": "items", "ModelNeedsReview": "items",
         "ModelItem": "items", "SummaryNode": "items", "SummaryCollector": "items",
         "GateController": "controller", "GateState": "state"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f"{__name__}.{module}"), name)
