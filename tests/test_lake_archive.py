"""The lake table connected to the archive (issue 13): every newly archived run appends its
rows (API, `model-gate check`, the pytest plugin), history and baselines read the table with
the same results as the run documents, a failed append is one line and exit 3, a missing
extra is one line before anything is written, relative `table:` paths resolve against
gate.yaml's folder everywhere."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("deltalake", reason="the lake table needs the `lake` extra (deltalake)")

from archive_writer import make_summary

from pytest_model_gate.api import TrainingArchiveManager
from pytest_model_gate.archive import index as archive_index
from pytest_model_gate.archive.lake import LakeTable
from pytest_model_gate.core.config import GateConfig, load_config, parse_config
from pytest_model_gate.errors import ArchiveError

TESTS = Path(__file__).resolve().parent
CLI = [sys.executable, "-m", "pytest_model_gate.cli"]
BASELINE = {"against": "last_approved", "max_decline": {"fitness": 0.1}}
MODELS = ["AAPL_0H", "MSFT_1H", "BTCUSD_2H", "ETHUSD_3H", "SPY_4H"]


def _cli(cwd: Path, *args: str, env: dict[str, str] | None = None
         ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], cwd=cwd, text=True, capture_output=True, timeout=180,
                          env={**os.environ, "NO_COLOR": "1", **(env or {})})


def _config(**extra: Any) -> GateConfig:
    return parse_config({"baseline": BASELINE, **extra})


@pytest.fixture
def skewed_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each run id one hour *earlier* than the last: a writer clock running backwards, so the
    run ids sort against the commit order."""
    start = datetime(2026, 6, 1, tzinfo=timezone.utc)
    calls = {"n": 0}

    def clock() -> datetime:
        calls["n"] += 1
        return start - timedelta(hours=calls["n"])

    monkeypatch.setattr(archive_index, "clock", clock)
    yield


def _baselines(archive: TrainingArchiveManager, **kw: Any) -> dict[str, Any]:
    got = archive.baseline_values(MODELS, metrics=["fitness", "profit_factor"], **kw)
    return {m: {k: (v.value if math.isfinite(v.value) else "nan", v.run_id)
                for k, v in values.items()} for m, values in got.items()}


def test_archived_run_has_seq_and_committed_at(tmp_path: Path) -> None:
    archive = TrainingArchiveManager(tmp_path / "arch")
    runs = [archive.archive_training_run(make_summary(0, i)) for i in range(3)]
    assert [r.seq for r in runs] == [0, 1, 2]
    records = {r["run_id"]: r for r in archive.list_runs()}
    for r in runs:
        assert r.committed_at == records[r.run_id]["created"]
        assert datetime.fromisoformat(str(r.committed_at)).tzinfo is not None
    again = archive.archive_training_run(make_summary(0, 1))  # a CI re-run: the same run
    assert (again.reused, again.run_id, again.seq, again.committed_at) == (
        True, runs[1].run_id, 1, runs[1].committed_at)


def _fill(url: str, table: bool | str, runs: int) -> tuple[TrainingArchiveManager,
                                                           TrainingArchiveManager, list[Any]]:
    on = TrainingArchiveManager(url, config=_config(table=table))
    off = TrainingArchiveManager(url, config=_config())
    archived = []
    for i in range(runs):
        # every third summary reuses models with the same values: exercises last_approved
        archived.append(on.archive_training_run(make_summary(0, i % 5 if i % 3 else i)))
    return on, off, archived


def _same_answers(on: TrainingArchiveManager, off: TrainingArchiveManager,
                  archived: list[Any]) -> None:
    committed = [r["run_id"] for r in off.list_runs()]
    assert committed != sorted(committed)  # the clock ran backwards: ids are not the order
    for model in MODELS:
        hist = on.get_model_history(model)
        assert hist == off.get_model_history(model)
        assert [e["run_id"] for e in hist] == [r for r in committed
                                               if r in {e["run_id"] for e in hist}]
    for symbol in ("AAPL", "BTCUSD", "SPY"):
        assert on.get_symbol_history(symbol) == off.get_symbol_history(symbol)
    shas = [None, archived[3].document["summary"]["sha256"],
            archived[-1].document["summary"]["sha256"]]
    for against in ("last", "last_approved"):
        for window in (1, 3):
            for sha in shas:
                kw = {"against": against, "window": window, "summary_sha256": sha}
                assert _baselines(on, **kw) == _baselines(off, **kw), kw
    with pytest.raises(ArchiveError, match="unknown model 'NOPE'"):
        on.get_model_history("NOPE")


def test_history_and_baselines_from_table_equal_documents(tmp_path: Path,
                                                          skewed_clock: None) -> None:
    on, off, archived = _fill(str(tmp_path / "arch"), True, 9)
    assert on.table is not None and on.table.url == f"{tmp_path / 'arch'}/table"
    rows = on.table.rows()
    assert [(r["run_id"], r["seq"]) for r in rows[::5]] == [(a.run_id, a.seq)
                                                             for a in archived
                                                             if not a.reused]
    assert len(rows) == 5 * sum(not a.reused for a in archived)  # re-runs append nothing
    _same_answers(on, off, archived)


@pytest.mark.slow
def test_history_and_baselines_from_table_equal_documents_s3(s3_url: str,
                                                             skewed_clock: None) -> None:
    on, off, archived = _fill(s3_url, True, 7)
    assert on.table is not None and on.table.url == f"{s3_url}/table"
    _same_answers(on, off, archived)


def test_table_url_of_its_own(tmp_path: Path) -> None:
    archive = TrainingArchiveManager(tmp_path / "arch",
                                     config=_config(table=str(tmp_path / "elsewhere")))
    run = archive.archive_training_run(make_summary(1, 0))
    rows = LakeTable(str(tmp_path / "elsewhere")).rows()
    assert {r["run_id"] for r in rows} == {run.run_id} and len(rows) == 5
    assert rows[0]["committed_at"].isoformat() == run.committed_at
    assert not (tmp_path / "arch" / "table").exists()


def test_api_failed_append_warns_and_keeps_the_run(tmp_path: Path) -> None:
    (tmp_path / "blocked").write_text("not a table", encoding="utf-8")
    archive = TrainingArchiveManager(tmp_path / "arch",  # no baseline: gating reads no table
                                     config=parse_config({"table": str(tmp_path / "blocked")}))
    with pytest.warns(RuntimeWarning) as caught:
        run = archive.archive_training_run(make_summary(2, 0))
    message = str(caught[0].message)
    assert "\n" not in message
    assert message.startswith("lake table not written: cannot ") and str(
        tmp_path / "blocked") in message
    assert message.endswith(f"(run {run.run_id} is archived; `model-gate reindex` adds "
                            "its rows)")
    assert run.table_error is not None and archive.run_ids() == [run.run_id]


def test_api_without_the_lake_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "deltalake", None)  # as if not installed
    with pytest.raises(ArchiveError) as exc:
        TrainingArchiveManager(tmp_path / "arch", config=_config(table=True))
    assert str(exc.value) == ("the lake table needs deltalake and pyarrow (deltalake is "
                              "missing): pip install pytest-model-gate[lake]")
    assert not (tmp_path / "arch").exists()


# --- the CLI -----------------------------------------------------------------------------

def _project(root: Path, gate: str, summaries: int = 1) -> list[Path]:
    root.mkdir(parents=True, exist_ok=True)
    (root / "gate.yaml").write_text(gate, encoding="utf-8")
    out = []
    for i in range(summaries):
        path = root / f"summary{i}.json"
        path.write_text(json.dumps(make_summary(3, i)), encoding="utf-8")
        out.append(path)
    return out


def test_cli_check_appends_and_history_reads_the_table(tmp_path: Path) -> None:
    summaries = _project(tmp_path, "archive: arch\ntable: true\nreport: null\n", 2)
    for s in summaries:
        result = _cli(tmp_path, "check", str(s))
        assert result.returncode in (0, 1), result.stderr
    table = LakeTable(str(tmp_path / "arch" / "table"))
    assert [r["seq"] for r in table.rows()] == [0] * 5 + [1] * 5
    again = _cli(tmp_path, "check", str(summaries[0]))  # a re-run appends nothing
    assert again.returncode in (0, 1) and len(table.rows()) == 10
    shown = _cli(tmp_path, "history", "AAPL_0H", "--format", "json")
    assert shown.returncode == 0, shown.stderr
    assert [e["run_id"] for e in json.loads(shown.stdout)] == [
        r["run_id"] for r in table.rows() if r["model_id"] == "AAPL_0H"]


def test_cli_check_failed_append_exits_3_and_reindex_backfills(tmp_path: Path) -> None:
    (summary,) = _project(tmp_path, "archive: arch\ntable: tbl\nreport: null\n")
    (tmp_path / "tbl").write_text("in the way", encoding="utf-8")
    result = _cli(tmp_path, "check", str(summary))
    assert result.returncode == 3
    errors = [ln for ln in result.stderr.splitlines() if "lake table" in ln]
    assert len(errors) == 1 and errors[0].startswith(
        "model-gate: error: lake table not written: cannot ")
    assert str(tmp_path / "tbl") in errors[0] and errors[0].endswith(
        "is archived; `model-gate reindex` adds its rows)")
    runs = json.loads(_cli(tmp_path, "runs", "--format", "json").stdout)
    assert len(runs) == 1  # the run is committed
    (tmp_path / "tbl").unlink()
    fixed = _cli(tmp_path, "reindex")
    assert fixed.returncode == 0, fixed.stderr
    assert {r["run_id"] for r in LakeTable(str(tmp_path / "tbl")).rows()} == {runs[0]["run_id"]}


def _without_lake(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    code = ("import sys; sys.modules['deltalake'] = None\n"
            "from pytest_model_gate.cli import main\nsys.exit(main(sys.argv[1:]))")
    return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, text=True,
                          capture_output=True, timeout=120)


def test_cli_without_the_lake_extra(tmp_path: Path) -> None:
    (summary,) = _project(tmp_path, "archive: arch\ntable: true\n")
    result = _without_lake(tmp_path, "check", str(summary))
    assert result.returncode == 2
    assert result.stderr == (f"model-gate: error: {tmp_path / 'gate.yaml'}: table: the lake "
                             "table needs deltalake and pyarrow (deltalake is missing): pip "
                             "install pytest-model-gate[lake]\n")
    assert not (tmp_path / "arch").exists() and not (tmp_path / "model-gate-report.md").exists()


# --- relative `table:` paths: the same folder for the plugin, the CLI and the API ------------

def test_relative_table_path_cli_and_api(tmp_path: Path) -> None:
    conf = tmp_path / "conf"
    (summary,) = _project(conf, "archive: arch\ntable: hist\nreport: null\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = _cli(elsewhere, "check", str(summary), "--config", str(conf / "gate.yaml"))
    assert result.returncode in (0, 1), result.stderr
    assert len(LakeTable(str(conf / "hist")).rows()) == 5
    assert not (elsewhere / "hist").exists()
    config = load_config(conf / "gate.yaml")
    assert config.table == str(conf / "hist")
    api = TrainingArchiveManager(tmp_path / "api-arch", config=config)
    api.archive_training_run(make_summary(4, 0))
    assert len(LakeTable(str(conf / "hist")).rows()) == 10
    assert config.digest() == parse_config({}).digest()  # not a verdict setting


def test_relative_table_path_plugin(pytester: pytest.Pytester, tmp_path: Path) -> None:
    conf = pytester.path / "conf"
    (summary,) = _project(conf, "archive: arch\ntable: hist\nreport: null\n")
    sub = pytester.path / "tests"
    sub.mkdir()
    os.chdir(sub)
    result = pytester.runpytest_subprocess(f"--model-gate={summary}", "--model-gate-config",
                                           str(conf / "gate.yaml"), "-p", "no:cacheprovider")
    assert result.ret in (0, 1), result.stdout.str()
    rows = LakeTable(str(conf / "hist")).rows()
    assert len(rows) == 5 and rows[0]["seq"] == 0
    assert not (sub / "hist").exists() and not (pytester.path / "hist").exists()


def test_plugin_without_the_lake_extra(pytester: pytest.Pytester) -> None:
    (summary,) = _project(pytester.path, "archive: arch\ntable: true\n")
    pytester.makeconftest("import sys\nsys.modules['deltalake'] = None\n")
    result = pytester.runpytest_subprocess(f"--model-gate={summary}", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    err = result.stderr.str()
    assert (f"{pytester.path / 'gate.yaml'}: table: the lake table needs deltalake and "
            "pyarrow (deltalake is missing): pip install pytest-model-gate[lake]") in err
    assert not (pytester.path / "arch").exists()
    assert not (pytester.path / "model-gate-report.md").exists()


# --- reindex back-fills what a killed writer left out ---------------------------------------

def _check_killed_writer(location: str) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), str(TESTS.parent)])}
    first = subprocess.run([sys.executable, "-m", "lake_support", "archive", location, "8",
                            "2"], env=env, cwd=TESTS, text=True, capture_output=True,
                           timeout=180)
    assert first.returncode == 0, first.stderr
    killed = subprocess.run([sys.executable, "-m", "lake_support", "archive", location, "9",
                             "1", "--die-at-append"], env=env, cwd=TESTS, text=True,
                            capture_output=True, timeout=180)
    assert killed.returncode == -9  # SIGKILL between its commit and its table append
    on = TrainingArchiveManager(location, config=parse_config({"table": True}))
    off = TrainingArchiveManager(location)
    committed = off.run_ids()
    assert len(committed) == 3  # the killed writer's run is committed
    assert on.table is not None and on.table.run_ids() == set(committed[:2])
    assert on.reindex() == 3
    assert on.table.run_ids() == set(committed)
    rows = [r for r in on.table.rows() if r["run_id"] == committed[2]]
    assert [r["seq"] for r in rows] == [2] * 5 and rows[0]["committed_at"] is not None
    for model in MODELS:
        assert on.get_model_history(model) == off.get_model_history(model)
    assert on.reindex() == 3 and len(on.table.rows()) == 15  # nothing doubled


def test_reindex_backfills_a_run_whose_writer_was_killed(tmp_path: Path) -> None:
    _check_killed_writer(str(tmp_path / "arch"))


@pytest.mark.slow
def test_reindex_backfills_a_run_whose_writer_was_killed_s3(s3_url: str) -> None:
    _check_killed_writer(s3_url)


# --- the plugin: one append per run (also under xdist), a failed append is exit 3 ----------

@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["in-process", "xdist"])
def test_plugin_appends_once(pytester: pytest.Pytester, workers: list[str]) -> None:
    summaries = _project(pytester.path, "archive: arch\ntable: true\nreport: null\n", 2)
    args = [f"--model-gate={s}" for s in summaries]
    result = pytester.runpytest_subprocess(*args, *workers, "-p", "no:cacheprovider")
    assert result.ret in (0, 1), result.stdout.str()
    rows = LakeTable(str(pytester.path / "arch" / "table")).rows()
    assert sorted({(r["run_id"], r["seq"]) for r in rows}, key=lambda p: p[1]) == [
        (r["run_id"], r["seq"]) for r in TrainingArchiveManager(pytester.path / "arch")
        .list_runs()]
    assert len(rows) == 10


def test_plugin_failed_append_exits_3(pytester: pytest.Pytester) -> None:
    (summary,) = _project(pytester.path, "archive: arch\ntable: tbl\nreport: null\n")
    (pytester.path / "tbl").write_text("in the way", encoding="utf-8")
    result = pytester.runpytest_subprocess(f"--model-gate={summary}", "-p", "no:cacheprovider")
    assert result.ret == 3
    out = result.stdout.str() + result.stderr.str()
    lines = [ln for ln in out.splitlines() if "lake table not written" in ln]
    assert len(lines) == 1 and str(pytester.path / "tbl") in lines[0]
    assert lines[0].endswith("is archived; `model-gate reindex` adds its rows)")
    assert len(TrainingArchiveManager(pytester.path / "arch").run_ids()) == 1


def test_unreachable_table_on_read_paths(tmp_path: Path) -> None:
    (summary,) = _project(tmp_path, "archive: arch\nreport: null\n")
    assert _cli(tmp_path, "check", str(summary)).returncode in (0, 1)
    (tmp_path / "tbl").write_text("in the way", encoding="utf-8")
    (tmp_path / "gate.yaml").write_text(
        "archive: arch\ntable: tbl\nreport: null\nbaseline: {against: last}\n",
        encoding="utf-8")
    expected = (f"model-gate: error: cannot reach table {tmp_path / 'tbl'}: DeltaError: ")
    for args in (("history", "AAPL_0H"), ("history", "AAPL"), ("check", str(summary))):
        result = _cli(tmp_path, *args)
        assert result.returncode == 2, (args, result.stderr)
        assert result.stderr.startswith(expected) and result.stderr.count("\n") == 1, args
