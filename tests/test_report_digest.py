"""The short markdown (CI step summary and PR comment): counts, changes, grouped reasons, the
top 20 DROP / REVIEW by severity and a link line, within 64 KiB at any size; written by
`check --comment`, `pytest --model-gate-comment` and to $GITHUB_STEP_SUMMARY."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from report_support import (
    DROP,
    GOLDEN_DIR,
    UPDATE_ENV,
    document,
    example_document,
    model,
    runs,
    synthetic_models,
)

from pytest_model_gate.report import digest
from pytest_model_gate.report.digest import render_digest
from pytest_model_gate.report.view import ReportSection, by_severity

LINK = "Full report: model-gate-report\\.md"


def gfm() -> MarkdownIt:
    return MarkdownIt("gfm-like")


def top_rows(text: str) -> list[list[str]]:
    """The rows of the top-N table, as cells."""
    lines = [ln for ln in text.splitlines() if ln.startswith("| ") and not ln.startswith(
        "| model |")]
    return [[c.strip() for c in ln.strip("|").split(" | ")] for ln in lines]


def check(text: str) -> str:
    """Within the cap, one marker line first, no link but ours, no raw tag."""
    assert len(text.encode("utf-8")) <= digest.LIMIT
    assert text.startswith(digest.MARKER + "\n")
    rendered = gfm().render(text)
    assert rendered.count("<a ") == text.count("](")
    for tag in ("<script", "<img", "<b>", "<i>", "<iframe"):
        assert tag not in rendered
    return rendered


def test_golden_comment_for_the_example(examples_dir: Path) -> None:
    text = render_digest([ReportSection(example_document(examples_dir))], links=[LINK])
    check(text)
    path = GOLDEN_DIR / "comment_example.md"
    if os.environ.get(UPDATE_ENV):
        path.write_text(text, encoding="utf-8", newline="\n")
    assert text == path.read_text(encoding="utf-8")


def test_top_is_worst_first_drop_before_review(examples_dir: Path) -> None:
    doc = example_document(examples_dir)
    rows = top_rows(render_digest([ReportSection(doc)]))
    assert [r[0] for r in rows] == [m["id"] for m in by_severity(doc)][:digest.TOP]
    classes = [r[1] for r in rows]
    assert classes == sorted(classes, key=lambda c: c != "DROP")
    assert rows[0][2] == ("fitness 0.2952 < 0.5; profit_factor 1.2932 < 1.3; "
                          "consistency 0.5061 < 0.65; max_drawdown 0.2071 > 0.15")


@pytest.mark.parametrize("n", [2_000, 20_000])
def test_stays_short_at_any_size(n: int) -> None:
    hist = [document(synthetic_models(n, seed=k, shift=0.03 * k), run_id=f"2026010{k + 1}T0-{k}",
                     path="big.json") for k in range(2)]
    text = render_digest([ReportSection(hist[1], previous=hist[0])], links=[LINK])
    check(text)
    rows = top_rows(text)
    assert len(rows) == digest.TOP
    assert len(text.encode()) < 16_000  # a few screens, not the 319 KB of the full report
    assert text.rstrip().endswith(LINK)
    counts = hist[1]["counts"]
    assert f"**{counts['DROP']} DROP** · **{counts['REVIEW']} REVIEW**" in text
    assert "**Since run `20260101T0-0`:**" in text


def test_hostile_long_ids_and_many_sections_still_within_the_cap() -> None:
    ids = {("W" * 3000) + f"_{k}": DROP for k in range(300)}
    sections = [ReportSection(document(ids, path=f"p{k}" + "x" * 5000 + ".json"))
                for k in range(40)]
    text = render_digest(sections, links=[LINK])
    check(text)
    assert "Cut to fit a pull-request comment" in text
    assert text.rstrip().endswith(LINK)


def test_cut_never_leaves_half_a_table() -> None:
    doc = document(synthetic_models(400, seed=1))
    whole = render_digest([ReportSection(doc)])
    text = render_digest([ReportSection(doc)], limit=len(whole.encode()) - 200)
    assert len(text.encode()) <= len(whole.encode()) - 200
    assert "Cut to fit" in text
    tables = [ln for ln in text.splitlines() if ln.startswith("|")]
    assert not tables or len(tables) >= 3  # header, rule and rows, or no table at all


def test_changes_name_the_models_that_moved() -> None:
    hist = runs(12, 2)
    text = render_digest([ReportSection(hist[1], previous=hist[0])])
    for kind in ("new DROP", "demoted", "promoted"):
        moved = [c for c in text.split("**Since run")[1].split("\n")[0].split("; ")
                 if kind in c]
        assert not moved or "(" in moved[0]


# --- written by the CLI and the plugin ---------------------------------------------------------

def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "MODEL_GATE_"))}
    env.update(extra)
    return env


def test_check_writes_the_comment_and_the_step_summary(tmp_path: Path,
                                                       trading_summary: Path) -> None:
    step = tmp_path / "step.md"
    step.write_text("earlier step\n", encoding="utf-8")
    comment = tmp_path / "out" / "comment.md"
    env = _env(GITHUB_STEP_SUMMARY=str(step), GITHUB_SERVER_URL="https://github.com",
               GITHUB_REPOSITORY="acme/models", GITHUB_RUN_ID="4242")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest_model_gate.cli", "check", str(trading_summary),
         "--no-archive", "--report", str(tmp_path / "r.md"), "--html", str(tmp_path / "r.html"),
         "--comment", str(comment)], capture_output=True, text=True, cwd=tmp_path, env=env,
        check=False)
    assert proc.returncode == 1, proc.stderr
    assert f"comment: {comment}" in proc.stdout
    text = comment.read_text(encoding="utf-8")
    check(text)
    assert text.rstrip().splitlines()[-1] == (
        "Full report: r\\.md and r\\.html, in the artifacts of [workflow run 4242]"
        "(https://github.com/acme/models/actions/runs/4242)")
    assert step.read_text(encoding="utf-8") == "earlier step\n" + text + "\n"


def test_report_url_from_the_environment(tmp_path: Path, trading_summary: Path) -> None:
    comment = tmp_path / "c.md"
    env = _env(MODEL_GATE_REPORT_URL="https://ci.example/art (1)/report.html")
    subprocess.run([sys.executable, "-m", "pytest_model_gate.cli", "check",
                    str(trading_summary), "--no-archive", "--comment", str(comment)],
                   capture_output=True, cwd=tmp_path, env=env, check=False)
    text = comment.read_text(encoding="utf-8")
    assert text.rstrip().endswith(
        "[Full report with every model](https://ci.example/art%20%281%29/report.html)")
    html = gfm().render(text)
    assert 'href="https://ci.example/art%20%281%29/report.html"' in html


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_plugin_writes_the_comment(pytester: pytest.Pytester, trading_summary: Path,
                                   monkeypatch: pytest.MonkeyPatch, xdist: list[str]) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    monkeypatch.delenv("MODEL_GATE_REPORT_URL", raising=False)
    result = pytester.runpytest_subprocess(
        "--model-gate", str(trading_summary), "--no-model-gate-archive", "--model-gate-comment",
        "comment.md", "-p", "no:cacheprovider", *xdist)
    result.assert_outcomes(passed=13, xfailed=9, failed=2)
    text = (pytester.path / "comment.md").read_text(encoding="utf-8")
    check(text)
    assert "**2 DROP** · **9 REVIEW** · **13 APPROVED** of 24 models" in text
    result.stdout.fnmatch_lines(["*PR comment written to *comment.md"])


def test_example_model_with_a_path_is_reported() -> None:
    doc = document({"A_1": model([0.1], model_path="m/A_1.pt")})
    assert doc["models"][0]["model_path"] == "m/A_1.pt"
