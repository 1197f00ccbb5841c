"""The HTML report: self-contained, escaped, well-formed, with the charts it promises."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest
from report_support import (
    APPROVED,
    DROP,
    REVIEW,
    config,
    document,
    example_document,
    model,
    run_id,
    runs,
)
from report_support import synthetic_models as synthetic

from pytest_model_gate.report import html as html_report
from pytest_model_gate.report import view
from pytest_model_gate.report.view import ReportSection

VOID = {"meta", "br", "hr", "img", "input", "link", "wbr", "col", "area", "base", "source"}
SVG_EMPTY = {"rect", "line", "polyline", "circle", "use", "path"}


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    parent: Node | None = None
    children: list[Node] = field(default_factory=list)
    text: list[str] = field(default_factory=list)

    def all(self, tag: str, cls: str | None = None) -> list[Node]:
        out = []
        for c in self.children:
            if c.tag == tag and (cls is None or cls in c.attrs.get("class", "").split()):
                out.append(c)
            out += c.all(tag, cls)
        return out

    def content(self) -> str:
        return "".join(self.text) + "".join(c.content() for c in self.children)


class Tree(HTMLParser):
    """A strict little DOM: every non-void element must be closed, in order."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {})
        self.cur = self.root
        self.feed(text)
        self.close()
        assert self.cur is self.root, f"unclosed <{self.cur.tag}>"

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs}, self.cur)
        self.cur.children.append(node)
        if tag not in VOID:
            self.cur = node

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        assert tag in SVG_EMPTY or tag in VOID, tag
        self.cur.children.append(Node(tag, {k: v or "" for k, v in attrs}, self.cur))

    def handle_endtag(self, tag: str) -> None:
        assert tag == self.cur.tag, f"</{tag}> closes <{self.cur.tag}>"
        assert self.cur.parent is not None
        self.cur = self.cur.parent

    def handle_data(self, data: str) -> None:
        self.cur.text.append(data)


def render(*sections: ReportSection) -> tuple[str, Tree]:
    text = html_report.render_html(list(sections))
    return text, Tree(text)


def model_rows(tree: Tree) -> list[str]:
    return [tr.all("th")[0].content() for tr in tree.root.all("tr", "m")]


# --- the page --------------------------------------------------------------------------------

def test_self_contained_no_network_no_script(examples_dir: Path) -> None:
    hist = runs(8, 3)
    text, tree = render(ReportSection(example_document(examples_dir)),
                        ReportSection(hist[-1], previous=hist[-2], history=hist[:-1]))
    assert text.startswith("<!doctype html>")
    for bad in ("http://", "https://", "//cdn", "url(", "@import", "<script", "<link",
                "<iframe", "<img", " src="):
        assert bad not in text, bad
    assert tree.root.all("meta")[0].attrs == {"charset": "utf-8"}
    assert len(tree.root.all("style")) == 1
    uses = {u.attrs["href"] for u in tree.root.all("use")}
    ids = {n.attrs["id"] for n in tree.root.all("g") + tree.root.all("line") if "id" in n.attrs}
    assert uses <= {f"#{i}" for i in ids}  # every <use> points inside the page


def test_title_and_counts(examples_dir: Path) -> None:
    _, tree = render(ReportSection(example_document(examples_dir)))
    title = tree.root.all("title")[0].content()
    assert title == "Model gate report: 2 DROP, 9 REVIEW, 13 APPROVED"
    badges = [b.content() for b in tree.root.all("section")[0].all("span", "badge")[:3]]
    assert badges == ["2 DROP", "9 REVIEW", "13 APPROVED"]


def test_every_model_once_in_class_order(examples_dir: Path) -> None:
    doc = example_document(examples_dir)
    _, tree = render(ReportSection(doc))
    expected = [m["id"] for cls in ("DROP", "REVIEW", "APPROVED") for m in doc["models"]
                if m["classification"] == cls]
    assert model_rows(tree) == expected


def test_same_content_as_markdown(examples_dir: Path) -> None:
    doc = example_document(examples_dir)
    text, tree = render(ReportSection(doc))
    row = next(tr for tr in tree.root.all("tr", "m") if tr.all("th")[0].content() == "MSFT_1Min")
    cells = [td.content() for td in row.all("td")]
    assert cells[:4] == ["0.2952 ✗", "1.2932 ✗", "0.5061 ✗", "0.2071 ✗"]
    assert [td.attrs["class"] for td in row.all("td")[:4]] == ["n d"] * 4
    assert "HIGH_DRAWDOWN, LOW_CONSISTENCY, LOW_FITNESS, LOW_PF" in cells[4]
    assert "peak 0.3037 at 1/10" in cells[5]
    assert doc["summary"]["sha256"] in text and doc["config_sha256"] in text
    checkpoint_rows = [tr for tr in tree.root.all("tr")
                       if "update 80 (validation 2 of 10)" in tr.content()]
    assert {tr.all("th")[0].content() for tr in checkpoint_rows} == {"QQQ_1Min", "JPM_1Min"}


# --- charts ----------------------------------------------------------------------------------

def _points(svg: Node) -> list[tuple[float, float]]:
    out = []
    for line in svg.all("polyline"):
        for pair in line.attrs["points"].split():
            x, y = pair.split(",")
            out.append((float(x), float(y)))
    return out


def test_a_chart_per_review_and_drop_model(examples_dir: Path) -> None:
    doc = example_document(examples_dir)
    _, tree = render(ReportSection(doc))
    figures = [f for f in tree.root.all("figure") if f.attrs.get("id", "").startswith("s1-c")]
    flagged = [m for m in doc["models"] if m["classification"] != "APPROVED"]
    assert len(figures) == len(flagged) == 11
    by_name = {f.all("b")[0].content(): f for f in figures}
    for m in flagged:
        svg = by_name[m["id"]].all("svg")[0]
        assert svg.all("title")[0].content() == f"fitness history of {m['id']}"
        assert len(svg.all("circle", "pk")) == 1
        assert [u.attrs.get("class") for u in svg.all("use")][:2] == ["ta", "tr"]
        assert bool(svg.all("line", "ck")) == m["use_checkpoint"]
    # the table links each REVIEW/DROP model to its chart
    links = {a.content(): a.attrs["href"] for a in tree.root.all("a")}
    assert links["QQQ_1Min"] == "#" + next(f.attrs["id"] for f in figures
                                           if f.all("b")[0].content() == "QQQ_1Min")


def test_chart_geometry_peak_thresholds_checkpoint() -> None:
    """REVIEW example of DESIGN.md: history [0.55, 0.70, 0.60, 0.58], best_idx 1, update 80."""
    doc = document({"R_1": REVIEW})
    m = doc["models"][0]
    assert (m["best_idx"], m["checkpoint_update"]) == (1, 80)
    svg = Tree(html_report.history_chart(doc, m)).root.all("svg")[0]
    pts = _points(svg)
    assert len(pts) == 4
    peak = svg.all("circle", "pk")[0]
    assert float(peak.attrs["cy"]) == pytest.approx(min(y for _, y in pts), abs=0.6)
    assert float(peak.attrs["cx"]) == pytest.approx(pts[1][0], abs=0.6)
    ck = svg.all("line", "ck")[0]
    assert float(ck.attrs["x1"]) == pytest.approx(pts[1][0], abs=0.1)
    assert svg.all("text", "ck")[0].content() == "restore @80"
    ta, tr = svg.all("use")[:2]
    assert int(ta.attrs["y"]) < int(tr.attrs["y"])  # approved (0.7) drawn above review (0.5)
    labels = [t.content() for t in svg.all("text")]
    assert "0.7" in labels and "0.5" in labels and "40" in labels and "160" in labels
    assert [r.attrs["class"] for r in svg.all("rect")] == ["za", "zr", "zd"]


def test_chart_lower_is_better_and_gaps() -> None:
    cfg = config({"metrics": {"loss": {"key": "loss", "higher_is_better": False,
                                       "approved": 0.2, "review": 0.4}}})
    doc = document({"M_1": {"loss": [0.5, 0.45, None, 0.1, 0.15, float("nan"), 0.3]}},
                   cfg=cfg)
    m = doc["models"][0]
    svg = Tree(html_report.history_chart(doc, m)).root.all("svg")[0]
    assert len(svg.all("polyline")) == 2  # gaps split the line
    assert len(svg.all("circle", "lone")) == 1  # a point between two gaps is still drawn
    ta, tr = svg.all("use")[:2]
    assert int(ta.attrs["y"]) > int(tr.attrs["y"])  # lower is better: approved band at the bottom
    peak = svg.all("circle", "pk")[0]
    assert float(peak.attrs["cy"]) == pytest.approx(max(y for _, y in _points(svg)), abs=0.6)


def test_no_history_no_chart_but_said() -> None:
    doc = document({"D_1": model(0.3)})
    assert html_report.history_chart(doc, doc["models"][0]) == \
        '<p class="pt">no fitness history to draw</p>'


def test_long_history_thinned_keeps_extremes() -> None:
    history = [0.5 + 0.1 * ((i * 7919) % 13) / 13 for i in range(5000)]
    history[4321] = 0.99
    doc = document({"D_1": model(history, pf=1.0)})
    svg = Tree(html_report.history_chart(doc, doc["models"][0])).root.all("svg")[0]
    pts = _points(svg)
    assert len(pts) <= html_report.MAX_POLYLINE + 2
    assert min(y for _, y in pts) == pytest.approx(
        float(svg.all("circle", "pk")[0].attrs["cy"]), abs=0.6)


# --- trends ----------------------------------------------------------------------------------

def test_trends_per_symbol_from_history() -> None:
    hist = runs(12, 5)
    doc = hist[-1]
    _, tree = render(ReportSection(doc, previous=hist[-2], history=hist[:-1]))
    section = tree.root.all("section")[0]
    trend_h3 = next(h for h in section.all("h3") if h.content().startswith("Trends"))
    figures = [f for f in section.all("figure") if "id" not in f.attrs]
    symbols = {m["symbol"] for m in doc["models"]}
    assert len(figures) == len(symbols) == 3
    assert "final fitness" in trend_h3.content()
    first = figures[0]
    assert first.all("svg")[0].all("title")[0].content().endswith("over the last 5 runs")
    assert len(first.all("polyline")) == 4  # one line per model of the symbol
    # symbols with DROP models come first
    worst = [max(("APPROVED", "REVIEW", "DROP").index(m["classification"])
                 for m in doc["models"] if m["symbol"] == f.all("b")[0].content())
             for f in figures]
    assert worst == sorted(worst, reverse=True)


def test_trends_use_at_most_the_last_runs() -> None:
    hist = runs(4, html_report.TREND_RUNS + 3)
    _, tree = render(ReportSection(hist[-1], previous=hist[-2], history=hist[:-1]))
    svg = next(f for f in tree.root.all("figure") if "id" not in f.attrs).all("svg")[0]
    assert svg.all("title")[0].content().endswith(f"last {html_report.TREND_RUNS} runs")


def test_no_trends_without_history() -> None:
    text, _ = render(ReportSection(document({"A_1": APPROVED})))
    assert "No earlier archived runs: trends start with the second archived run." in text


# --- escaping --------------------------------------------------------------------------------

HOSTILE = ["<script>alert(1)</script>_1", "a\"b'c<d>&e_1", "<img src=x onerror=alert(1)>",
           "x|y`z`_1", "\u202eRTL_1", "L" * 400, "</td></tr></table><h1>x</h1>_1"]


def test_hostile_text_stays_text() -> None:
    cfg = config({"metrics": {
        "fit<i>ness": {"key": "fitness_score", "approved": 0.7, "review": 0.5,
                       "flag": "<b>LOW</b>"}}})
    models = {mid: [APPROVED, REVIEW, DROP][k % 3] for k, mid in enumerate(HOSTILE)}
    doc = document(models, cfg=cfg, path="<script>x</script>.json",
                   meta={"note": "</style><script>alert(1)</script>"}, run_id="\"><script>")
    prev = document({"<script>gone</script>": APPROVED}, run_id="<b>prev</b>")
    text, tree = render(ReportSection(doc, previous=prev, history=[prev]))
    for tag in ("script", "img", "i"):
        assert not tree.root.all(tag), tag
    assert [h.content() for h in tree.root.all("h1")] == ["Model gate report"]
    expected = [view.plain(m["id"]) for cls in ("DROP", "REVIEW", "APPROVED")
                for m in doc["models"] if m["classification"] == cls]
    assert [re.sub(r"\s+", " ", r) for r in model_rows(tree)] == expected
    assert "&lt;script&gt;alert(1)&lt;/script&gt;_1" in text
    assert "\u202e" not in text
    assert any(h.content() == "fit<i>ness" for h in tree.root.all("th"))


# --- large runs ------------------------------------------------------------------------------

def test_large_run_folds_but_keeps_everything() -> None:
    n = 600
    doc = document(synthetic(n, seed=3))
    _text, tree = render(ReportSection(doc))
    assert len(model_rows(tree)) == n
    flagged = sum(1 for m in doc["models"] if m["classification"] != "APPROVED")
    assert flagged > html_report.CHARTS_OPEN_MAX
    charts = [f for f in tree.root.all("figure") if f.attrs.get("id", "").startswith("s1-c")]
    assert len(charts) == flagged
    summaries = [s.content() for s in tree.root.all("summary")]
    assert f"{flagged} charts (click to expand)" in summaries
    assert any(s.endswith("APPROVED models (click to expand)") for s in summaries)


def test_size_is_modest_per_model() -> None:
    doc = document(synthetic(400, seed=5))
    text = html_report.render_html([ReportSection(doc)])
    assert len(text.encode()) / 400 < 2500, len(text.encode())


def test_several_sections_have_distinct_anchors(examples_dir: Path) -> None:
    a = example_document(examples_dir)
    b = document({"X_1": DROP}, run_id=run_id(1))
    _, tree = render(ReportSection(a), ReportSection(b))
    ids = [n.attrs["id"] for n in tree.root.all("figure") + tree.root.all("h3")
           if "id" in n.attrs]
    assert len(ids) == len(set(ids))
