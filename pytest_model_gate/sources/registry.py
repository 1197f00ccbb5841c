"""Which reader a source goes to: `KIND:PATH_OR_URI`, or the kind detected from the path.

A path that is a file (or does not exist) stays a summary file, as before sources existed,
so every existing use of a summary path behaves exactly as it did.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest_model_gate.sources.dvclive as dvclive
import pytest_model_gate.sources.hf as hf
import pytest_model_gate.sources.keras as keras
import pytest_model_gate.sources.lightning as lightning
import pytest_model_gate.sources.tensorboard as tensorboard

from .canonical import SourceRead, fail, unique_ids, walk_dirs

# The MLflow readers (urllib.request / ssl, sqlite3) are imported where a folder is probed or
# an MLflow source read: a plain summary file, the common case, never pays for them.

KINDS = ("summary", "hf", "lightning", "keras", "mlflow", "tensorboard", "dvclive")
_SUMMARY_SUFFIXES = (".json", ".yaml", ".yml")
_LOOKED_FOR = ("trainer_state.json (hf), version_*/metrics.csv (lightning), "
               "events.out.tfevents.* (tensorboard), metrics.json + plots/metrics (dvclive), "
               "*/meta.yaml (mlflow file store), *.csv starting with `epoch` (keras)")


def split_spec(text: str) -> tuple[str | None, str]:
    """`hf:runs/bert` -> ("hf", "runs/bert"); `sqlite:///x.db` -> ("mlflow", ...);
    anything else -> (None, text)."""
    kind, sep, rest = text.partition(":")
    if sep and kind in KINDS and rest:
        return kind, rest
    if text.startswith("sqlite:///"):
        return "mlflow", text
    return None, text


def _dir_kinds(root: Path) -> list[str]:
    """The kinds whose marker files are in `root` (first) or below it."""
    import pytest_model_gate.sources.mlflow_files as mlflow_files

    if hf.is_output_folder(root):
        return ["hf"]
    if mlflow_files.is_file_store(root):
        return ["mlflow"]
    if dvclive.is_dvclive_folder(root):
        return ["dvclive"]
    if (root / lightning.METRICS).is_file():
        return ["lightning"]
    found: list[str] = []
    for here, _dirs, files in walk_dirs(root, max_depth=4):
        names = set(files)
        if hf.STATE in names and "hf" not in found:
            found.append("hf")
        if any(f.startswith(tensorboard.PREFIX) for f in files) and "tensorboard" not in found:
            found.append("tensorboard")
        if lightning.METRICS in names and "lightning" not in found and here != root:
            found.append("lightning")
        if dvclive.METRICS in names and (here / dvclive.PLOTS).is_dir() \
                and "dvclive" not in found:
            found.append("dvclive")
        if here.name == "mlruns" and mlflow_files.is_file_store(here) and "mlflow" not in found:
            found.append("mlflow")
    if "lightning" in found and "hf" in found:
        found.remove("lightning")  # HF output folders can hold a metrics.csv of their own
    if not found and keras.csv_files(root):
        found.append("keras")
    return found


def detect(text: str) -> tuple[str, str]:
    """(kind, location) of a source named without a kind."""
    kind, location = split_spec(text)
    if kind is not None:
        return kind, location
    path = Path(text)
    if path.is_dir():
        kinds = _dir_kinds(path)
        if len(kinds) == 1:
            return kinds[0], text
        if not kinds:
            raise fail(text, "is a directory, not a summary file, and holds no training "
                             f"output of a known tool (looked for {_LOOKED_FOR})")
        raise fail(text, f"holds output of several tools ({', '.join(kinds)}): name one, "
                         f"e.g. {kinds[0]}:{text}")
    if path.is_file():
        name = path.name
        if path.suffix.lower() in _SUMMARY_SUFFIXES and name not in (hf.STATE, dvclive.METRICS):
            return "summary", text
        if name == hf.STATE:
            return "hf", text
        if name == dvclive.METRICS:
            return "dvclive", text
        if name.startswith(tensorboard.PREFIX):
            return "tensorboard", text
        if path.suffix.lower() in (".db", ".sqlite", ".sqlite3"):
            return "mlflow", "sqlite:///" + text
        if path.suffix.lower() == ".csv":
            if name == lightning.METRICS:
                return "lightning", text
            if keras.is_keras_csv(path):
                return "keras", text
    return "summary", text


def is_source(text: str) -> bool:
    """True when `text` names something other than a summary file (cheap for a file)."""
    kind, _ = split_spec(text)
    if kind is not None:
        return kind != "summary"
    path = Path(text)
    if path.is_file() and path.suffix.lower() in _SUMMARY_SUFFIXES \
            and path.name not in (hf.STATE, dvclive.METRICS):
        return False
    try:
        return detect(text)[0] != "summary"
    except Exception:  # an undetectable folder: the loader gives the error
        return path.is_dir()


_Reader = Callable[[str, str], SourceRead]
_READERS: dict[str, _Reader] = {
    "hf": hf.read, "lightning": lightning.read, "keras": keras.read,
    "tensorboard": tensorboard.read, "dvclive": dvclive.read,
}


def _read_mlflow(spec: str, location: str) -> SourceRead:
    import pytest_model_gate.sources.mlflow_files as mlflow_files
    import pytest_model_gate.sources.mlflow_rest as mlflow_rest
    import pytest_model_gate.sources.mlflow_sqlite as mlflow_sqlite

    from .mlflow_common import split_query

    base, query = split_query(spec, location)
    if base.startswith(("http://", "https://")):
        return mlflow_rest.read(spec, base, query)
    if base.startswith("sqlite:"):
        return mlflow_sqlite.read(spec, base, query)
    if base.startswith("file:"):
        base = base[len("file://"):] if base.startswith("file://") else base[len("file:"):]
    if Path(base).is_file():
        return mlflow_sqlite.read(spec, "sqlite:///" + base, query)
    return mlflow_files.read(spec, base, query)


def read_source(text: str) -> SourceRead:
    """Read a non-summary source (its kind given or detected) into models."""
    kind, location = detect(text)
    spec = text if split_spec(text)[0] is not None else f"{kind}:{text}"
    if kind == "summary":
        raise fail(text, "is a summary file, not a source")
    reader = _read_mlflow if kind == "mlflow" else _READERS[kind]
    read = reader(spec, location)
    unique_ids(spec, read.models)
    if not any(m.points or m.finals for m in read.models):
        raise fail(spec, f"no metric logged in any of {len(read.models)} "
                         f"{'model' if len(read.models) == 1 else 'models'}")
    return read
