"""`model-gate report RUN [--archive A] [--html PATH] [--output F]` on a real archive."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from report_support import EXAMPLE_NAME

from pytest_model_gate import cli
from pytest_model_gate.api import TrainingArchiveManager
from pytest_model_gate.cli import report as cli_report
from pytest_model_gate.core.config import GateConfig
from pytest_model_gate.core.gating import assess_all
from pytest_model_gate.core.summary import load_summary
from pytest_model_gate.report import markdown as report


def run(argv: list[str]) -> int:
    """The `report` command as `model-gate` dispatches it."""
    parser = cli._Parser(prog="model-gate")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=cli._Parser)
    cli_report.add_commands(sub)
    args: argparse.Namespace = parser.parse_args(argv)
    code: int = args.func(args)
    return code


@pytest.fixture
def archive(tmp_path: Path, examples_dir: Path) -> tuple[Path, list[str]]:
    """An archive with three runs of the example (the second one with other models)."""
    location = tmp_path / "archive"
    cfg = GateConfig()
    manager = TrainingArchiveManager(str(location), config=cfg)
    data = json.loads((examples_dir / EXAMPLE_NAME).read_text(encoding="utf-8"))
    ids = []
    for k in range(3):
        variant = json.loads(json.dumps(data))
        if k == 1:
            variant["models"].pop("AAPL_15Min")
            variant["models"]["MSFT_1Min"] = variant["models"]["SPY_1Min"]
        variant["run"] = k  # distinct bytes: the archive does not merge the runs
        path = tmp_path / f"summary{k}.json"
        path.write_text(json.dumps(variant), encoding="utf-8")
        summary = load_summary(path, cfg)
        ids.append(manager.archive_gated(summary, assess_all(summary.models, cfg)).run_id)
    return location, ids


def test_rerender_equals_the_archived_report(archive: tuple[Path, list[str]],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    location, ids = archive
    manager = TrainingArchiveManager(str(location))
    for run_id in ids:
        assert run(["report", run_id, "--archive", str(location)]) == 0
        out = capsys.readouterr().out
        assert out == manager.load_report(run_id)  # byte for byte what was archived
        assert f"- Run: `{run_id}`" in out
    assert f"Compared with run `{ids[1]}`: 1 new DROP, 0 demoted, 0 promoted, 1 appeared" in out
    assert run(["report", ids[1], "--archive", str(location)]) == 0
    second = capsys.readouterr().out
    assert f"Compared with run `{ids[0]}`: 0 new DROPs, 0 demoted, 1 promoted, 0 appeared, " \
           "1 vanished" in second
    assert "| vanished | AAPL_15Min | APPROVED | — |" in second


def test_latest_is_the_default(archive: tuple[Path, list[str]],
                               capsys: pytest.CaptureFixture[str]) -> None:
    location, ids = archive
    assert run(["report", "--archive", str(location)]) == 0
    assert f"- Run: `{ids[-1]}`" in capsys.readouterr().out
    assert run(["report", "latest", "--archive", str(location)]) == 0
    assert f"- Run: `{ids[-1]}`" in capsys.readouterr().out


def test_output_and_html_files(archive: tuple[Path, list[str]], tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    location, ids = archive
    md, page = tmp_path / "out" / "r.md", tmp_path / "out" / "r.html"
    assert run(["report", ids[1], "--archive", str(location), "--output", str(md),
                "--html", str(page)]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert str(md) in captured.err and str(page) in captured.err
    assert md.read_text(encoding="utf-8") == TrainingArchiveManager(
        str(location)).load_report(ids[1])
    html = page.read_text(encoding="utf-8")
    assert html.startswith("<!doctype html>") and ids[1] in html and ids[0] in html
    assert "Trends per symbol" in html and "No earlier archived runs" not in html


def test_html_only_prints_no_markdown(archive: tuple[Path, list[str]], tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    location, ids = archive
    page = tmp_path / "only.html"
    assert run(["report", ids[0], "--archive", str(location), "--html", str(page)]) == 0
    assert capsys.readouterr().out == ""
    assert "No earlier archived runs" in page.read_text(encoding="utf-8")


@pytest.mark.parametrize("run_id", ["20200101T000000.000000Z-abcdef", "../../etc/passwd",
                                    "not-a-run"])
def test_unknown_or_bad_run_is_exit_2(archive: tuple[Path, list[str]], run_id: str,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    location, _ = archive
    assert run(["report", run_id, "--archive", str(location)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("model-gate: error: ") and err.count("\n") == 1


def test_missing_archive_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["report", "--archive", str(tmp_path / "nope")]) == 2
    assert "no archive at" in capsys.readouterr().err
    assert not (tmp_path / "nope").exists()


def test_empty_archive_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").mkdir()
    assert run(["report", "--archive", str(tmp_path / "empty")]) == 2
    assert "has no runs" in capsys.readouterr().err


def test_unwritable_output_is_exit_3(archive: tuple[Path, list[str]], tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    location, ids = archive
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    assert run(["report", ids[0], "--archive", str(location),
                "--output", str(blocker / "r.md")]) == 3
    assert "cannot write" in capsys.readouterr().err


def test_archive_from_gate_yaml(archive: tuple[Path, list[str]], tmp_path: Path,
                                monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture[str]) -> None:
    location, ids = archive
    work = tmp_path / "work"
    work.mkdir()
    (work / "gate.yaml").write_text(f"archive: {location}\n", encoding="utf-8")
    monkeypatch.chdir(work)
    assert run(["report"]) == 0
    assert f"- Run: `{ids[-1]}`" in capsys.readouterr().out
    (work / "gate.yaml").write_text("archiv: x\n", encoding="utf-8")
    assert run(["report"]) == 2  # a bad gate.yaml is a clear error
    assert "archiv" in capsys.readouterr().err


def test_markdown_is_utf8_on_any_stdout(archive: tuple[Path, list[str]], tmp_path: Path) -> None:
    location, ids = archive
    md = tmp_path / "r.md"
    assert run(["report", ids[0], "--archive", str(location), "-o", str(md)]) == 0
    assert "·" in md.read_bytes().decode("utf-8")


def test_registered_in_model_gate(capsys: pytest.CaptureFixture[str]) -> None:
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    if "report" not in sub.choices:
        pytest.skip("cli.py does not call cli_report.add_commands yet")
    with pytest.raises(SystemExit) as exc:
        cli.main(["report", "--help"])
    assert exc.value.code == 0
    assert "--html" in capsys.readouterr().out


def test_report_module_renders_what_the_command_prints(archive: tuple[Path, list[str]],
                                                        capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    location, ids = archive
    manager = TrainingArchiveManager(str(location))
    doc, previous, history = manager.run_context(ids[2])
    expected = report.render_markdown([report.ReportSection(doc, previous, history)])
    assert run(["report", ids[2], "--archive", str(location)]) == 0
    assert capsys.readouterr().out == expected
