"""The run document at the report's boundary: a damaged document (valid JSON of the wrong
shape) is named in one line and never crashes a render; markdown cells cannot autolink or
inject HTML, whatever a summary or an edited archive says."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from markdown_it import MarkdownIt
from report_support import APPROVED, DROP, REVIEW, document, example_document, runs

from pytest_model_gate.core.document import DocumentError, parse_run_document
from pytest_model_gate.report.html import render_html
from pytest_model_gate.report.markdown import render_markdown
from pytest_model_gate.report.view import ReportSection

WHERE = "archive/run-1/model_assessments.json"


def _good() -> dict[str, Any]:
    doc = document({"A_1": APPROVED, "R_1": REVIEW, "D_1": DROP}, run_id="20260101T0-x")
    return json.loads(json.dumps(doc))


def _set(doc: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    node: Any = doc
    keys = path.split("/")
    for key in keys[:-1]:
        node = node[int(key)] if isinstance(node, list) else node[key]
    last = keys[-1]
    if isinstance(node, list):
        node[int(last)] = value
    elif value is _DELETE:
        del node[last]
    else:
        node[last] = value
    return doc


_DELETE = object()

DAMAGED = [
    ("[1, 2]", lambda d: [1, 2], "the document: expected an object"),
    ("models a string", lambda d: _set(d, "models", "abc"), "models: expected a list"),
    ("model not an object", lambda d: _set(d, "models/1", 7), "models[1]: expected an object"),
    ("model without id", lambda d: _set(d, "models/0/id", _DELETE),
     "models[0].id: expected a string, got null"),
    ("metrics a list", lambda d: _set(d, "models/0/metrics", []),
     "models[A_1].metrics: expected an object"),
    ("value a string", lambda d: _set(d, "models/2/metrics/fitness/value", "n/a"),
     'models[D_1].metrics.fitness.value: expected a number or null, got "n/a"'),
    ("tier a number", lambda d: _set(d, "models/1/metrics/fitness/tier", 3),
     "models[R_1].metrics.fitness.tier: expected a string, got 3"),
    ("history of text", lambda d: _set(d, "models/0/overfitting/history", ["x"]),
     'models[A_1].overfitting.history[0]: expected a number or null, got "x"'),
    ("best_idx a float", lambda d: _set(d, "models/0/best_idx", 1.5),
     "models[A_1].best_idx: expected an integer or null, got 1.5"),
    ("flags a string", lambda d: _set(d, "models/0/flags", "LOW_PF"),
     "models[A_1].flags: expected a list"),
    ("bool as number", lambda d: _set(d, "config/metrics/fitness/approved", True),
     "config.metrics.fitness.approved: expected a number, got true"),
    ("counts text", lambda d: _set(d, "counts/DROP", "2"), "counts.DROP: expected an integer"),
    ("hostile key", lambda d: _set(d, "models/0/metrics", {"a\nb": 1}),
     'models[A_1].metrics."a\\nb": expected an object, got 1'),
]


@pytest.mark.parametrize(("damage", "message"), [(d, m) for _, d, m in DAMAGED],
                         ids=[name for name, _, _ in DAMAGED])
def test_damaged_document_named_in_one_line(damage: Any, message: str) -> None:
    with pytest.raises(DocumentError) as err:
        parse_run_document(damage(_good()), WHERE)
    text = str(err.value)
    assert text.startswith(f"{WHERE}: damaged run document: ") and message in text
    assert "\n" not in text


def test_valid_document_parses_to_itself() -> None:
    doc = _good()
    assert parse_run_document(copy.deepcopy(doc), WHERE) == doc


def test_older_document_gets_neutral_defaults_and_renders() -> None:
    """Optional fields an older or hand-made document lacks never crash a render."""
    doc = {"models": [{"id": "X_1", "classification": "DROP",
                       "metrics": {"fitness": {"value": 0.1, "approved": 0.7, "review": 0.5,
                                               "tier": "DROP"}}}]}
    parsed = parse_run_document(doc, WHERE)
    assert parsed["counts"] == {"DROP": 1}
    text = render_markdown([ReportSection(parsed)])
    assert "| X_1 | **0.1 ✗** |" in text
    assert "X_1" in render_html([ReportSection(parsed)])


def test_damaged_earlier_run_is_skipped_and_the_run_itself_is_named(
        tmp_path: Path, trading_summary: Path) -> None:
    """A run document edited into the wrong shape: the next `check` still gates and reports
    (the damaged run is left out of "changes since"); `report` of that run names the file."""
    archive = tmp_path / "archive"

    def check(summary: Path, *extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pytest_model_gate.cli", "check", str(summary), "--archive",
             str(archive), *extra], capture_output=True, text=True, cwd=tmp_path, check=False)

    assert check(trading_summary).returncode == 1  # the example has DROP models
    (run_id,) = [p.name for p in archive.iterdir() if p.is_dir() and p.name[:2] == "20"]
    (archive / run_id / "model_assessments.json").write_text('{"models": "abc"}')
    changed = tmp_path / "s2.json"
    data = json.loads(trading_summary.read_text(encoding="utf-8"))
    data["note"] = "second run"
    changed.write_text(json.dumps(data), encoding="utf-8")
    second = check(changed, "--format", "markdown")
    assert second.returncode == 1, second.stderr
    assert "Traceback" not in second.stderr
    assert "No previous archived run to compare with." in second.stdout
    shown = subprocess.run(
        [sys.executable, "-m", "pytest_model_gate.cli", "report", run_id, "--archive",
         str(archive)], capture_output=True, text=True, cwd=tmp_path, check=False)
    assert shown.returncode == 2
    lines = shown.stderr.strip().splitlines()
    assert len(lines) == 1 and "model_assessments.json" in lines[0]
    assert "damaged run document: models: expected a list" in lines[0]


# --- markdown safety (issue 10 item 13) -----------------------------------------------------

def gfm() -> MarkdownIt:
    """GitHub-like rendering: tables, strikethrough and linkify (autolinks of bare URLs)."""
    return MarkdownIt("gfm-like")


LINKY = ["www.example.com/login", "http://evil.example/x", "https://a.b/c?d=e",
         "mail@example.com", "ftp.example.org", "AAPL.pt", "xn--80ak6aa92e.com",
         "<b>bold</b>", "<img src=x onerror=alert(1)>", "<!-- c -->", "&lt;script&gt;"]


def _linky_document() -> dict[str, Any]:
    models = {f"{text}_{k}": [APPROVED, REVIEW, DROP][k % 3] for k, text in enumerate(LINKY)}
    meta = {"homepage": "www.example.com/login", "contact": "ops@example.com",
            "site": "https://evil.example"}
    return document(models, run_id="20260101T000000.000000Z-000001", meta=meta,
                    path="www.example.com/summary.json")


def _no_links_no_tags(rendered: str) -> None:
    assert "<a " not in rendered and "href" not in rendered
    tags = set(re.findall(r"<([a-zA-Z!/][a-zA-Z0-9]*)", rendered))
    allowed = {"p", "/p", "h1", "/h1", "h2", "/h2", "h3", "/h3", "ul", "/ul", "li", "/li",
               "table", "/table", "thead", "/thead", "tbody", "/tbody", "tr", "/tr", "th",
               "/th", "td", "/td", "strong", "/strong", "code", "/code", "details",
               "/details", "summary", "/summary", "blockquote", "/blockquote", "em", "/em"}
    assert tags <= allowed, tags - allowed


def test_ids_and_metadata_never_autolink() -> None:
    doc = _linky_document()
    text = render_markdown([ReportSection(doc)])
    _no_links_no_tags(gfm().render(text))
    for k, linky in enumerate(LINKY):  # every id still reads as written
        if "<" not in linky and "&" not in linky:
            assert f"{linky}_{k}" in gfm().render(text)


def test_edited_previous_run_cannot_inject_html_in_changes() -> None:
    """The previous run's class and a metric's status come from an archive another job may
    have edited: they are escaped like any other text."""
    previous = json.loads(json.dumps(_good()))
    previous["run_id"] = "20251231T0-prev"
    previous["models"][2]["classification"] = "<img src=x onerror=alert(1)> www.evil.com"
    now = json.loads(json.dumps(_good()))  # D_1 is DROP now: a "new DROP" row shows "was"
    now["models"][2]["metrics"]["fitness"]["status"] = "<script>x</script> www.evil.com"
    now["models"][2]["metrics"]["fitness"]["value"] = None
    sections = [ReportSection(parse_run_document(now, "now"),
                              previous=parse_run_document(previous, "prev"))]
    text = render_markdown(sections)
    rendered = gfm().render(text)
    _no_links_no_tags(rendered)
    assert "&lt;img src=x onerror=alert(1)&gt; www.evil.com" in rendered
    assert "&lt;script&gt;x&lt;/script&gt; www.evil.com" in rendered
    page = render_html(sections)
    assert "<img" not in page and page.count("<script") == 1  # ours, at the end
    assert "&lt;img src=x onerror=alert(1)&gt; www.evil.com" in page


def test_numbers_keep_their_dots() -> None:
    text = render_markdown([ReportSection(example_document_like())])
    assert "reward_scale 0.001" in text and "version 2.4.5" in text


def example_document_like() -> dict[str, Any]:
    return document({"A_1": APPROVED}, meta={"reward_scale": 0.001, "version": "2.4.5"})


def test_example_report_has_no_link_at_24_models(examples_dir: Path) -> None:
    text = render_markdown([ReportSection(example_document(examples_dir))])
    _no_links_no_tags(gfm().render(text))


def test_history_of_runs_renders_without_links() -> None:
    hist = runs(8, 3)
    text = render_markdown([ReportSection(hist[-1], previous=hist[-2], history=hist[:-1])])
    _no_links_no_tags(gfm().render(text))


def test_full_report_at_2000_models_every_row_no_link() -> None:
    from report_support import synthetic_models

    doc = document(synthetic_models(2000, seed=4), run_id="20260101T000000.000000Z-000001")
    text = render_markdown([ReportSection(doc)])
    rendered = gfm().render(text)
    _no_links_no_tags(rendered)
    assert rendered.count("<tr>") - rendered.count("<thead>") >= 2000
