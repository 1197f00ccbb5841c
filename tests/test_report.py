"""The markdown report: golden files, structure under hostile text, large runs, step summary.

Regenerate the golden files after an intended change with
    MODEL_GATE_UPDATE_GOLDEN=1 python -m pytest tests/test_report.py
and review the diff like code.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from markdown_it import MarkdownIt
from report_support import (
    APPROVED,
    DROP,
    EXAMPLE_NAME,
    GOLDEN_DIR,
    REVIEW,
    UPDATE_ENV,
    config,
    document,
    example_document,
    model,
)

from pytest_model_gate.core.gating import BaselineValue
from pytest_model_gate.report import markdown as report
from pytest_model_gate.report import view
from pytest_model_gate.report.markdown import render_markdown
from pytest_model_gate.report.view import ReportSection, sparkline

# --- helpers -------------------------------------------------------------------------------

ALLOWED_HTML = ("<details>", "<summary>", "</details>")


def md() -> MarkdownIt:
    return MarkdownIt("commonmark").enable("table")


def check_golden(name: str, text: str) -> None:
    path = GOLDEN_DIR / name
    if os.environ.get(UPDATE_ENV):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="\n")
    assert path.exists(), f"{path} missing: run with {UPDATE_ENV}=1 to create it"
    expected = path.read_text(encoding="utf-8")
    assert text == expected, f"{name} differs from the golden file; {UPDATE_ENV}=1 regenerates"


def inline_text(token: Any) -> str:
    """What a reader sees of an inline token: text and code, markup removed."""
    return "".join(c.content for c in token.children or [] if c.type in ("text", "code_inline"))


def tables(text: str) -> list[dict[str, Any]]:
    """Every table: its header cells and its rows of cells (as seen text)."""
    out: list[dict[str, Any]] = []
    tokens = md().parse(text)
    current: dict[str, Any] | None = None
    row: list[str] | None = None
    for i, tok in enumerate(tokens):
        if tok.type == "table_open":
            current = {"head": [], "rows": []}
        elif tok.type == "table_close":
            assert current is not None
            out.append(current)
            current = None
        elif tok.type == "tr_open":
            row = []
        elif tok.type == "tr_close" and current is not None and row is not None:
            if not current["head"]:
                current["head"] = row
            else:
                current["rows"].append(row)
        elif tok.type in ("th_open", "td_open") and row is not None:
            row.append(inline_text(tokens[i + 1]))
    return out


def raw_html(text: str) -> list[str]:
    """Raw HTML the markdown carries (inline or block)."""
    found = []
    for tok in md().parse(text):
        if tok.type == "html_block":
            found.append(tok.content.strip())
        for child in tok.children or []:
            if child.type == "html_inline":
                found.append(child.content)
    return found


def assert_well_formed(text: str) -> None:
    """Every table row has exactly the header's cells; the only raw HTML is ours."""
    for table in tables(text):
        width = len(table["head"])
        for row in table["rows"]:
            assert len(row) == width, (table["head"], row)
    for chunk in raw_html(text):
        assert chunk.startswith(ALLOWED_HTML), chunk
    rendered = md().render(text)
    for bad in ("<script", "<img", "href=", "<a ", "<b>", "<i>", "<iframe"):
        assert bad not in rendered, bad


def class_rows(text: str, cls: str) -> list[list[str]]:
    """The rows of one class table (the table under its `### CLS (n)` heading)."""
    lines = text.splitlines()
    start = next((n for n, line in enumerate(lines) if line.startswith(f"### {cls} (")), None)
    if start is None:
        return []
    chunk = []
    for line in lines[start + 1:]:
        if line.startswith("### "):
            break
        chunk.append(line)
    found = tables("\n".join(chunk))
    return found[0]["rows"] if found else []


# --- golden files ---------------------------------------------------------------------------

def test_golden_example(examples_dir: Path) -> None:
    """The bundled example gated with the defaults, archived under a fixed run id."""
    text = render_markdown([ReportSection(example_document(examples_dir))])
    assert_well_formed(text)
    check_golden("recommendations_example.md", text)


def _changed_previous(examples_dir: Path) -> dict[str, Any]:
    """A previous run of the example: one model fewer, one more, some classes different,
    gated with `demote: true` (so its config digest differs)."""
    data = json.loads((examples_dir / EXAMPLE_NAME).read_text(encoding="utf-8"))
    models = data["models"]
    models.pop("AAPL_15Min")                       # appears in the current run
    models["OLD_1Hour"] = copy.deepcopy(models["SPY_1Min"])   # vanishes
    models["MSFT_1Min"] = copy.deepcopy(models["AMZN_1Min"])  # APPROVED then: a new DROP now
    models["AAPL_1Min"] = copy.deepcopy(models["SPY_1Min"])   # APPROVED then: demoted now
    meta = {k: v for k, v in data.items() if k != "models"}
    return document(models, run_id="20251226T101500.000000Z-before", path=EXAMPLE_NAME,
                    meta=meta, cfg=config({"overfitting": {"demote": True}}))


def _with_baseline(examples_dir: Path, previous: Mapping[str, Any]) -> dict[str, Any]:
    """The example gated against `previous` as its baseline (fitness may fall 10%)."""
    cfg = config({"baseline": {"against": "last", "max_decline": {"fitness": 0.10}}})
    baselines = {
        m["id"]: {name: BaselineValue(value=v["value"], run_id=previous["run_id"])
                  for name, v in m["metrics"].items() if v["value"] is not None}
        for m in previous["models"]}
    data = json.loads((examples_dir / EXAMPLE_NAME).read_text(encoding="utf-8"))
    meta = {k: v for k, v in data.items() if k != "models"}
    doc = document(data["models"], run_id="20251227T101500.000000Z-golden", path=EXAMPLE_NAME,
                   meta=meta, cfg=cfg, baselines=baselines)
    return doc


def test_golden_example_with_changes(examples_dir: Path) -> None:
    previous = _changed_previous(examples_dir)
    doc = _with_baseline(examples_dir, previous)
    text = render_markdown([ReportSection(doc, previous=previous, history=[previous])])
    assert_well_formed(text)
    check_golden("recommendations_example_changes.md", text)
    changes = {tuple(r) for t in tables(text) if t["head"][:2] == ["change", "model"]
               for r in t["rows"]}
    assert ("new DROP", "MSFT_1Min", "APPROVED", "DROP") in changes
    assert ("demoted", "AAPL_1Min", "APPROVED", "REVIEW") in changes
    assert ("appeared", "AAPL_15Min", "—", "APPROVED") in changes
    assert ("vanished", "OLD_1Hour", "APPROVED", "—") in changes
    assert any(r[0] == "promoted" for r in changes)  # demote: true had made them REVIEW
    assert "The gating config changed since then" in text
    assert "### Regressions against the baseline" in text


def test_same_document_same_bytes(examples_dir: Path) -> None:
    """Rendering depends on the document only: a JSON round trip (the archive) changes nothing."""
    doc = example_document(examples_dir)
    again = json.loads(json.dumps(doc))
    assert render_markdown([ReportSection(doc)]) == render_markdown([ReportSection(again)])


# --- content --------------------------------------------------------------------------------

def test_header_names_run_summary_config_and_counts(examples_dir: Path) -> None:
    doc = example_document(examples_dir)
    text = render_markdown([ReportSection(doc)])
    assert doc["run_id"] in text
    assert doc["summary"]["sha256"] in text
    assert doc["config_sha256"] in text
    assert "**2 DROP** · **9 REVIEW** · **13 APPROVED** of 24 models" in text
    assert text.index("### DROP (2)") < text.index("### REVIEW (9)") < \
        text.index("### APPROVED (13)")


def test_every_model_in_exactly_one_class_table(examples_dir: Path) -> None:
    doc = example_document(examples_dir)
    text = render_markdown([ReportSection(doc)])
    for cls in ("DROP", "REVIEW", "APPROVED"):
        expected = [m["id"] for m in doc["models"] if m["classification"] == cls]
        assert [r[0] for r in class_rows(text, cls)] == expected


def test_failing_cells_marked(examples_dir: Path) -> None:
    doc = example_document(examples_dir)
    text = render_markdown([ReportSection(doc)])
    msft = next(r for r in class_rows(text, "DROP") if r[0] == "MSFT_1Min")
    assert msft[1:5] == ["0.2952 ✗", "1.2932 ✗", "0.5061 ✗", "0.2071 ✗"]
    aapl = next(r for r in class_rows(text, "REVIEW") if r[0] == "AAPL_1Min")
    assert aapl[1:5] == ["0.7844", "1.6553 ⚠", "0.663 ⚠", "0.1286 ⚠"]
    assert "| **0.2952 ✗** |" in text  # DROP cells are bold too


def test_missing_and_invalid_values_are_named() -> None:
    doc = document({"M_1": model([0.8], pf=None), "N_1": model([0.8], consistency=float("nan"))})
    rows = class_rows(render_markdown([ReportSection(doc)]), "DROP")
    assert rows[0][2] == "missing ✗" and rows[1][3] == "invalid ✗"
    assert "MISSING_METRIC" in rows[0][5] and "INVALID_METRIC" in rows[1][5]


def test_checkpoint_section_lists_every_model_with_use_checkpoint(examples_dir: Path) -> None:
    doc = example_document(examples_dir)
    text = render_markdown([ReportSection(doc)])
    table = next(t for t in tables(text) if t["head"][:3] == ["model", "class", "restore"])
    expected = [(m["id"], f"update {m['checkpoint_update']}")
                for m in doc["models"] if m["use_checkpoint"]]
    assert [(r[0], r[2].split(" (")[0]) for r in table["rows"]] == expected
    assert ["QQQ_1Min", "REVIEW", "update 80 (validation 2 of 10)", "0.6865", "0.6218",
            "9.4%"] in table["rows"]


def test_checkpoint_without_interval_names_the_validation_point() -> None:
    doc = document({"A_1": model([0.8, 0.9, 0.7])}, meta={"validation_interval": None})
    text = render_markdown([ReportSection(doc)])
    assert "validation 2 of 3 (validation interval unknown)" in text


def test_no_checkpoint_needed_is_said() -> None:
    text = render_markdown([ReportSection(document({"A_1": APPROVED}))])
    assert "No model needs an earlier checkpoint." in text


def test_changes_none_when_not_archived_or_first_run() -> None:
    doc = document({"A_1": APPROVED})
    assert "Not archived: no previous run" in render_markdown([ReportSection(doc)])
    doc["run_id"] = "20260101T000000.000000Z-000001"
    assert "No previous archived run" in render_markdown([ReportSection(doc)])


def test_changes_classify_each_model_once() -> None:
    prev = document({"A_1": APPROVED, "B_1": REVIEW, "C_1": DROP, "D_1": APPROVED,
                     "E_1": REVIEW, "GONE_1": REVIEW}, run_id="20260101T000000.000000Z-000001")
    now = document({"A_1": REVIEW, "B_1": APPROVED, "C_1": DROP, "D_1": DROP, "E_1": REVIEW,
                    "NEW_1": APPROVED, "NEWDROP_1": DROP}, run_id="20260102T000000.000000Z-2")
    changes = view.compare_runs(now, prev)
    assert [(c.kind, c.model_id, c.before, c.after) for c in changes] == [
        ("new DROP", "D_1", "APPROVED", "DROP"), ("new DROP", "NEWDROP_1", None, "DROP"),
        ("demoted", "A_1", "APPROVED", "REVIEW"), ("promoted", "B_1", "REVIEW", "APPROVED"),
        ("appeared", "NEW_1", None, "APPROVED"), ("vanished", "GONE_1", "REVIEW", None)]
    text = render_markdown([ReportSection(now, previous=prev)])
    assert ("2 new DROPs, 1 demoted, 1 promoted, 1 appeared, 1 vanished; 2 unchanged."
            in text)
    assert "config changed" not in text


def test_baseline_delta_shown_for_every_gated_metric() -> None:
    cfg = config({"baseline": {"max_decline": {"fitness": 0.05}}})
    base = {"A_1": {"fitness": BaselineValue(1.0, "20260101T000000.000000Z-000001"),
                    "profit_factor": BaselineValue(2.0, "20260101T000000.000000Z-000001"),
                    "consistency": BaselineValue(0.9, "20260101T000000.000000Z-000001"),
                    "max_drawdown": BaselineValue(0.04, "20260101T000000.000000Z-000001")}}
    doc = document({"A_1": model([0.7, 0.8])}, cfg=cfg, baselines=base)
    text = render_markdown([ReportSection(doc)])
    row = class_rows(text, "REVIEW")[0]
    assert row[1:5] == ["0.8 Δ-20.0%", "2 Δ0", "0.9 Δ0", "0.05 Δ+25.0%"]
    assert "| 0.8 **Δ-20.0%** |" in text  # the regressed metric's delta is bold
    reg = next(t for t in tables(text) if t["head"][:2] == ["model", "metric"])
    assert reg["rows"] == [["A_1", "fitness", "1", "20260101T000000.000000Z-000001", "0.8",
                            "20.0% worse", "5.0%"]]


def test_override_bounds_marked() -> None:
    cfg = config({"overrides": [{"match": "X_*", "metrics": {"fitness": {"approved": 0.9}}}]})
    doc = document({"X_1": model([0.85]), "Y_1": model([0.85])}, cfg=cfg)
    text = render_markdown([ReportSection(doc)])
    assert class_rows(text, "REVIEW")[0][:2] == ["X_1", "0.85 † ⚠"]
    assert class_rows(text, "APPROVED")[0][:2] == ["Y_1", "0.85"]
    assert "† bounds from an override" in text


# --- sparklines ------------------------------------------------------------------------------

def test_sparkline_scales_and_marks_the_peak() -> None:
    s = sparkline([0.55, 0.70, 0.60, 0.58], best_idx=1)
    assert s.chars == "▁█▃▂" and s.peak_pos == 1
    md_cell = render_markdown([ReportSection(document({"R_1": REVIEW}))])
    assert "`▁`**`█`**`▃▂` peak 0.7 at 2/4, final 17.1% off peak" in md_cell


def test_sparkline_edge_cases() -> None:
    assert sparkline([], None).chars == "" and sparkline([], None).peak_pos is None
    assert sparkline([0.5, 0.5], 0).chars == "▄▄"
    s = sparkline([None, 0.2, float("nan"), 0.4], 3)
    assert s.chars == "·▁·█" and s.peak_pos == 3
    assert sparkline([None, None], None).chars == "··"
    low = sparkline([0.3, 0.1, 0.2], best_idx=1, higher_is_better=False)
    assert low.chars == "█▁▅" and low.peak_pos == 1


def test_long_history_is_bucketed_but_keeps_the_peak() -> None:
    history = [i / 1000 for i in range(1000)]
    history[337] = 5.0
    s = sparkline(history, best_idx=337)
    assert len(s.chars) == view.SPARK_WIDTH and s.bucket == 25
    assert s.chars[s.peak_pos or 0] == "█" and s.peak_pos == 337 // 25
    doc = document({"A_1": model(history)})
    assert "(25 points per mark)" in md().render(render_markdown([ReportSection(doc)]))


def test_peak_is_bold_and_the_sparkline_monospace_in_commonmark() -> None:
    text = render_markdown([ReportSection(document({"R_1": REVIEW}))])
    tokens = md().parseInline("`▁`**`█`**`▃▂`", {})[0].children or []
    assert [t.type for t in tokens if t.content or t.type != "text"] == [
        "code_inline", "strong_open", "code_inline", "strong_close", "code_inline"]
    assert "`▁`**`█`**`▃▂`" in text


# --- escaping --------------------------------------------------------------------------------

HOSTILE_IDS = [
    "EVIL|pipe_1Min",
    "back`tick`_1Min",
    "<script>alert(1)</script>_1Min",
    "new\nline\r\n| x | y |_1Min",
    "<img src=x onerror=alert(1)>",
    "[link](http://evil.example)_x",
    "**bold** _em_ ~~s~~ $x$ @user :smile:",
    "&amp; &lt;b&gt; &#60;",
    "\\|\\`\\\\",
    "# heading",
    "- [ ] task",
    "\u202eRTL\x00ctrl\x1b[31m",
    "L" * 500,
    "it's \"quoted\"",
]


def _hostile_document() -> dict[str, Any]:
    cfg = config({"metrics": {
        "fit|ness<script>": {"key": "fitness_score", "approved": 0.7, "review": 0.5,
                             "flag": "LOW|<b>FIT</b>"},
        "pf": {"key": "profit_factor", "approved": 1.8, "review": 1.3}}})
    models = {}
    for k, mid in enumerate(HOSTILE_IDS):
        models[mid] = [APPROVED, REVIEW, DROP][k % 3]
    meta = {"note": "<script>alert(1)</script>\n| a | b |\n# not a heading `x`",
            "nested": {"k": ["`", "|", "<i>"]}, "timestamp": "2026|01<b>"}
    doc = document(models, cfg=cfg, path="runs/sum|mary`<script>`.json", meta=meta,
                   run_id="20260101T000000.000000Z-000001")
    return doc


def test_hostile_text_cannot_break_tables_or_inject_markup() -> None:
    doc = _hostile_document()
    text = render_markdown([ReportSection(doc)])
    assert_well_formed(text)
    seen = [r[0] for cls in ("DROP", "REVIEW", "APPROVED") for r in class_rows(text, cls)]
    expected = [report.short_id(view.plain(m["id"])) for cls in ("DROP", "REVIEW", "APPROVED")
                for m in doc["models"] if m["classification"] == cls]
    assert seen == expected  # each id survives, as text, in its own cell
    heads = {tuple(t["head"]) for t in tables(text)}
    assert ("model", "fit|ness<script>", "pf", "flags", "fit|ness<script> history") in heads


def test_hostile_text_rendered_as_text_not_html() -> None:
    text = render_markdown([ReportSection(_hostile_document())])
    html = md().render(text)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;_1Min" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "[link](http://evil.example)_x" in html
    assert "**bold** _em_ ~~s~~ $x$ @user :smile:" in html
    assert "&amp;amp; &amp;lt;b&amp;gt; &amp;#60;" in html
    assert "\u202e" not in text and "\x00" not in text and "\x1b" not in text


def test_long_ids_shortened_in_tables_and_listed_in_full() -> None:
    long_id = "L" * 500
    text = render_markdown([ReportSection(document({long_id: DROP, "B_1": DROP}))])
    rows = class_rows(text, "DROP")
    assert len(rows[0][0]) == report.ID_WIDTH and "…" in rows[0][0]
    assert "Model ids shortened in the tables above, in full:" in text
    assert f"- {long_id}" in text
    assert max(len(line) for line in text.splitlines() if line.startswith("|")) < 400


def test_hostile_run_id_and_digest_not_put_in_code_spans() -> None:
    doc = document({"A_1": APPROVED})
    doc["run_id"] = "x` <script>alert(1)</script> `y"
    doc["config_sha256"] = "``"
    text = render_markdown([ReportSection(doc)])
    assert_well_formed(text)
    assert "`x`" not in text


# --- large runs ------------------------------------------------------------------------------

def _many(n_approved: int, n_review: int = 0) -> dict[str, Any]:
    models = {f"A{i:04d}_1": APPROVED for i in range(n_approved)}
    models.update({f"R{i:04d}_1": REVIEW for i in range(n_review)})
    return document(models)


def test_approved_rows_fold_past_the_limit_and_none_is_lost() -> None:
    text = render_markdown([ReportSection(_many(view.COLLAPSE_AT + 1, 60))])
    assert_well_formed(text)
    assert f"<details><summary>{view.COLLAPSE_AT + 1} APPROVED models (click to expand)" \
           "</summary>" in text
    assert len(class_rows(text, "APPROVED")) == view.COLLAPSE_AT + 1
    assert len(class_rows(text, "REVIEW")) == 60  # REVIEW and DROP tables never fold
    html = md().render(text)
    assert html.count("<details>") == 2  # the APPROVED table and the 60+ checkpoint rows
    assert html.index("<details>") < html.index("A0050_1") < html.index("</details>")


def test_small_approved_table_stays_open() -> None:
    text = render_markdown([ReportSection(_many(view.COLLAPSE_AT))])
    assert "<details>" not in text


def test_several_summaries_one_report() -> None:
    a = document({"A_1": APPROVED}, path="a.json")
    b = document({"B_1": DROP}, path="b.json")
    text = render_markdown([ReportSection(a), ReportSection(b)])
    assert "2 summaries: **1 DROP** · **0 REVIEW** · **1 APPROVED** of 2 models" in text
    assert text.index("## a\\.json") < text.index("## b\\.json")  # dots escaped: no autolink
