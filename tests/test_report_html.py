"""The HTML report: self-contained, escaped, well-formed, with the charts it promises."""

from __future__ import annotations

import base64
import hashlib
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

from pytest_model_gate.core.gating import BaselineValue
from pytest_model_gate.report import charts, view
from pytest_model_gate.report import html as html_report
from pytest_model_gate.report.view import ReportSection, by_severity

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
    return [tr.all("span", "id")[0].content() for tr in tree.root.all("tr", "m")]


def id_of(row: Node) -> str:
    return row.all("span", "id")[0].content()


# --- the page --------------------------------------------------------------------------------

def test_self_contained_no_network_one_script_under_a_strict_csp(examples_dir: Path) -> None:
    hist = runs(8, 3)
    text, tree = render(ReportSection(example_document(examples_dir)),
                        ReportSection(hist[-1], previous=hist[-2], history=hist[:-1]))
    assert text.startswith("<!doctype html>")
    for bad in ("http://", "https://", "//cdn", "url(", "@import", "<link", "<iframe",
                "<img", " src=", " style="):
        assert bad not in text, bad
    assert not re.search(r"<[^>]*\son[a-z]+=", text)  # no event-handler attribute
    assert tree.root.all("meta")[0].attrs == {"charset": "utf-8"}
    csp = tree.root.all("meta")[1].attrs
    assert csp["http-equiv"] == "Content-Security-Policy"
    policy = dict(p.strip().split(" ", 1) for p in csp["content"].split(";"))
    assert policy["default-src"] == "'none'" and policy["img-src"] == "'none'"
    styles, scripts = tree.root.all("style"), tree.root.all("script")
    assert len(styles) == 1 and len(scripts) == 1 and "src" not in scripts[0].attrs
    for node, key in ((styles[0], "style-src"), (scripts[0], "script-src")):
        digest = base64.b64encode(hashlib.sha256(node.content().encode()).digest()).decode()
        assert policy[key] == f"'sha256-{digest}'"  # only this very block may run
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
    row = next(tr for tr in tree.root.all("tr", "m") if id_of(tr) == "MSFT_1Min")
    cells = [td.content() for td in row.all("td")]
    assert cells[:4] == ["0.2952 ✗", "1.2932 ✗", "0.5061 ✗", "0.2071 ✗"]
    assert [td.attrs["class"] for td in row.all("td")[:4]] == ["n d"] * 4
    assert "HIGH_DRAWDOWN, LOW_CONSISTENCY, LOW_FITNESS, LOW_PF" in cells[4]
    assert "peak 0.3037 at 1/10" in cells[5]
    assert doc["summary"]["sha256"] in text and doc["config_sha256"] in text
    checkpoint_rows = [tr for tr in tree.root.all("tr")
                       if "update 80 (validation 2 of 10)" in tr.content()]
    assert {id_of(tr) for tr in checkpoint_rows} == {"QQQ_1Min", "JPM_1Min"}
    assert "models/rl_symbols/MSFT_1Min.pt" in row.all("th")[0].content()  # model_path


# --- charts ----------------------------------------------------------------------------------

def _points(svg: Node) -> list[tuple[float, float]]:
    out = []
    for line in svg.all("polyline"):
        for pair in line.attrs["points"].split():
            x, y = pair.split(",")
            out.append((float(x), float(y)))
    return out


def test_a_chart_per_review_and_drop_model_of_its_deciding_metrics(examples_dir: Path
                                                                    ) -> None:
    doc = example_document(examples_dir)
    _, tree = render(ReportSection(doc))
    figures = [f for f in tree.root.all("figure") if f.attrs.get("id", "").startswith("s1-c")]
    flagged = [m for m in doc["models"] if m["classification"] != "APPROVED"]
    assert len(figures) == len(flagged) == 11
    by_name = {f.all("b")[0].content(): f for f in figures}
    for m in flagged:
        titles = [svg.all("title")[0].content() for svg in by_name[m["id"]].all("svg")]
        deciding = [n for n, r in m["metrics"].items() if r["tier"] == m["classification"]]
        shown = [t.split(" history of ")[0] for t in titles]
        assert shown[:len(deciding)] == deciding  # every deciding metric, config order
        if "FITNESS_DECLINE" in m["flags"]:
            assert "fitness" in shown
    solusd = by_name["SOLUSD_1Min"]  # DROP for pf, consistency, drawdown; fitness is fine
    assert [s.all("title")[0].content().split(" ")[0] for s in solusd.all("svg")] == [
        "profit_factor", "consistency", "max_drawdown"]
    # most severe first: the two DROP models lead
    assert [f.all("b")[0].content() for f in figures][:2] == ["MSFT_1Min", "SOLUSD_1Min"]
    links = {a.content(): a.attrs["href"] for a in tree.root.all("a")}
    assert any(href == "#" + by_name["QQQ_1Min"].attrs["id"] for href in links.values())


def test_deciding_metric_history_is_drawn_in_its_own_bands() -> None:
    doc = document({"D_1": model([0.8, 0.8, 0.8], pf=[1.6, 1.2, 1.0])})
    m = doc["models"][0]
    assert m["metrics"]["profit_factor"]["history"] == [1.6, 1.2, 1.0]
    svg = Tree(charts.metric_chart(m, "profit_factor")).root.all("svg")[0]
    assert len(_points(svg)) == 3
    bound_labels = [t.content() for t in svg.all("text", "ta") + svg.all("text", "tr")]
    assert bound_labels == ["1.8", "1.3"]


def test_chart_geometry_peak_thresholds_checkpoint() -> None:
    """REVIEW example of DESIGN.md: history [0.55, 0.70, 0.60, 0.58], best_idx 1, update 80."""
    doc = document({"R_1": REVIEW})
    m = doc["models"][0]
    assert (m["best_idx"], m["checkpoint_update"]) == (1, 80)
    svg = Tree(charts.history_chart(doc, m)).root.all("svg")[0]
    pts = _points(svg)
    assert len(pts) == 4
    peak = svg.all("circle", "pk")[0]
    assert float(peak.attrs["cy"]) == pytest.approx(min(y for _, y in pts), abs=0.6)
    assert float(peak.attrs["cx"]) == pytest.approx(pts[1][0], abs=0.6)
    ck = svg.all("line", "ck")[0]
    assert float(ck.attrs["x1"]) == pytest.approx(pts[1][0], abs=0.1)
    label = svg.all("text", "ck")[0]
    assert label.content() == "checkpoint @80"
    # the label sits in the strip above the plot: no bound line can cross it
    assert float(label.attrs["y"]) < charts.Frame.Y0
    ta, tr = [u for u in svg.all("use") if u.attrs.get("class") in ("ta", "tr")]
    assert int(ta.attrs["y"]) < int(tr.attrs["y"])  # approved (0.7) drawn above review (0.5)
    labels = [t.content() for t in svg.all("text")]
    assert "0.7" in labels and "0.5" in labels
    assert [t.content() for t in svg.all("text", "x")] == ["40", "80", "120", "160"]
    y_ticks = [t.content() for t in svg.all("text", "y")]
    assert len(y_ticks) >= 3  # several labelled ticks, not only min and max
    assert [r.attrs["class"] for r in svg.all("rect")] == ["za", "zr", "zd"]


def test_nice_ticks_and_x_ticks() -> None:
    assert charts.nice_ticks(0.46, 0.74) == pytest.approx([0.5, 0.6, 0.7])
    assert charts.nice_ticks(0.46, 0.74, count=6) == pytest.approx([0.5, 0.55, 0.6, 0.65, 0.7])
    assert charts.nice_ticks(0, 1) == pytest.approx([0, 0.25, 0.5, 0.75, 1])
    assert charts.x_tick_indices(3) == [0, 1, 2]
    assert charts.x_tick_indices(100) == [0, 25, 50, 74, 99]


def test_chart_lower_is_better_and_gaps() -> None:
    cfg = config({"metrics": {"loss": {"key": "loss", "higher_is_better": False,
                                       "approved": 0.2, "review": 0.4}}})
    doc = document({"M_1": {"loss": [0.5, 0.45, None, 0.1, 0.15, float("nan"), 0.3]}},
                   cfg=cfg)
    m = doc["models"][0]
    svg = Tree(charts.history_chart(doc, m)).root.all("svg")[0]
    assert len(svg.all("polyline")) == 2  # gaps split the line
    assert len(svg.all("circle", "lone")) == 1  # a point between two gaps is still drawn
    ta, tr = [u for u in svg.all("use") if u.attrs.get("class") in ("ta", "tr")]
    assert int(ta.attrs["y"]) > int(tr.attrs["y"])  # lower is better: approved band at the bottom
    peak = svg.all("circle", "pk")[0]
    assert float(peak.attrs["cy"]) == pytest.approx(max(y for _, y in _points(svg)), abs=0.6)


def test_a_final_value_alone_is_one_point_no_value_is_said() -> None:
    doc = document({"D_1": model(0.3)})
    one = Tree(charts.history_chart(doc, doc["models"][0])).root.all("svg")[0]
    assert len(one.all("circle", "lone")) == 1 and len(one.all("circle", "fin")) == 1
    doc = document({"D_1": model(None)})
    assert charts.history_chart(doc, doc["models"][0]) == \
        '<p class="pt">no fitness value to draw</p>'


def test_long_history_thinned_keeps_extremes() -> None:
    history = [0.5 + 0.1 * ((i * 7919) % 13) / 13 for i in range(5000)]
    history[4321] = 0.99
    doc = document({"D_1": model(history, pf=1.0)})
    svg = Tree(charts.history_chart(doc, doc["models"][0])).root.all("svg")[0]
    pts = _points(svg)
    assert len(pts) <= charts.MAX_POLYLINE + 2
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
    for tag in ("img", "i"):
        assert not tree.root.all(tag), tag
    assert [s.content() for s in tree.root.all("script")] == [html_report.SCRIPT]
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
    figures = [f for f in tree.root.all("figure") if f.attrs.get("id", "").startswith("s1-c")]
    assert flagged > html_report.CHART_CAP and len(figures) == html_report.CHART_CAP
    heading = next(h.content() for h in tree.root.all("h3") if h.content().startswith("Charts"))
    assert f"the {html_report.CHART_CAP} most severe of {flagged} REVIEW and DROP" in heading
    summaries = [s.content() for s in tree.root.all("summary")]
    assert f"{html_report.CHART_CAP} charts (click to expand)" in summaries
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


# --- at a glance (issue 14) --------------------------------------------------------------------

def test_delta_coloured_by_the_metric_direction() -> None:
    """Δ-25% fitness is worse, Δ+25% drawdown is worse too: both say so; a rise in fitness or a
    fall in drawdown is better."""
    cfg = config({"baseline": {"max_decline": {"fitness": 0.5}}})
    rid = "20260101T000000.000000Z-000001"
    base = {"W_1": {"fitness": BaselineValue(0.8, rid), "max_drawdown": BaselineValue(0.04, rid)},
            "B_1": {"fitness": BaselineValue(0.6, rid), "max_drawdown": BaselineValue(0.06, rid)}}
    doc = document({"W_1": model([0.6], dd=0.05), "B_1": model([0.8], dd=0.05)}, cfg=cfg,
                   baselines=base)
    _, tree = render(ReportSection(doc))
    rows = {id_of(tr): tr for tr in tree.root.all("tr", "m")}

    def tone(row: Node, k: int) -> tuple[str, str]:
        mark = row.all("td")[k].all("span")[0]
        return mark.content(), mark.attrs["class"]

    assert tone(rows["W_1"], 0) == ("Δ-25.0%", "dn") and tone(rows["W_1"], 3) == ("Δ+25.0%", "dn")
    assert tone(rows["B_1"], 0) == ("Δ+33.3%", "up") and tone(rows["B_1"], 3) == ("Δ-16.7%", "up")


def test_red_means_drop_only() -> None:
    """The peak, the checkpoint, a regression and a trend dot of a metric that is fine are
    never drawn in the DROP red."""
    css = charts.SVG_CSS.replace(".dDROP{fill:#c62828}", "")
    assert "#c62828" not in css and "#c62828" not in html_report.CSS.replace(
        ".c-DROP{background:#c62828}", "")
    assert ".pk{fill:#fff;stroke:#1f5fa8" in charts.SVG_CSS
    hist = runs(4, 3)
    for m in hist[-1]["models"]:  # DROP for profit factor, fitness still APPROVED
        m["classification"] = "DROP"
    svg = Tree(charts.trend_chart("S00000", [hist[-1]["models"][0]["id"]], hist,
                                  [{m["id"]: m for m in r["models"]} for r in hist], "fitness",
                                  None)).root.all("svg")[0]
    dot_tiers = {c.attrs["class"] for c in svg.all("circle", "d")}
    fitness_tiers = {r["models"][0]["metrics"]["fitness"]["tier"] for r in hist}
    assert dot_tiers == {f"d d{t}" for t in fitness_tiers if t}


def test_why_models_were_dropped_grouped_with_links(examples_dir: Path) -> None:
    doc = example_document(examples_dir)
    _, tree = render(ReportSection(doc))
    lists = tree.root.all("ul", "why")
    first = lists[0].all("li")[0]
    assert first.all("b")[0].content() == "LOW_PF: profit_factor < its REVIEW bound"
    assert ": 2 models (" in first.text[0]
    assert [a.content() for a in first.all("a")] == ["MSFT_1Min", "SOLUSD_1Min"]
    rows = {tr.attrs["id"]: id_of(tr) for tr in tree.root.all("tr", "m")}
    for a in lists[0].all("a"):
        assert rows[a.attrs["href"][1:]] == a.content()  # each link lands on its model's row


def test_toolbar_filters_and_sortable_headers(examples_dir: Path) -> None:
    _, tree = render(ReportSection(example_document(examples_dir)))
    bar = tree.root.all("div", "tb")[0]
    assert "hidden" in bar.attrs  # shown by the script only: static without it
    assert [b.attrs["data-f"] for b in bar.all("button")] == ["DROP", "REVIEW", "APPROVED"]
    assert bar.all("input")[0].attrs["type"] == "search"
    heads = tree.root.all("div", "ct")[0].all("th")
    assert [h.attrs.get("data-k") for h in heads[:5]] == ["0", "1", "2", "3", "4"]
    assert {tr.attrs["data-c"] for tr in tree.root.all("tr", "m")} == {"DROP", "REVIEW",
                                                                         "APPROVED"}


def test_paths_shown_in_tables_and_charts() -> None:
    doc = document({"D_1": model([0.3], model_path="models/D_1.pt",
                                 checkpoint_path="ckpt/D_1/epoch=3-step=1200.ckpt")})
    m = doc["models"][0]
    assert (m["model_path"], m["checkpoint_path"]) == ("models/D_1.pt",
                                                      "ckpt/D_1/epoch=3-step=1200.ckpt")
    _, tree = render(ReportSection(doc))
    figure = tree.root.all("figure")[0].content()
    assert "model_path: models/D_1.pt" in figure
    assert "checkpoint_path: ckpt/D_1/epoch=3-step=1200.ckpt" in figure
    assert tree.root.all("tr", "m")[0].all("span", "mp")[0].content() == "models/D_1.pt"


def test_single_summary_shows_its_counts_once(examples_dir: Path) -> None:
    _, tree = render(ReportSection(example_document(examples_dir)))
    rows = [p for p in tree.root.all("p") if p.all("span", "badge")
            and p.all("span", "badge")[0].content().endswith("DROP")]
    assert len(rows) == 1


def test_structure_at_twenty_thousand_models() -> None:
    """20,000 models: every row present once, filterable (data-c) and searchable (.id), the
    charts capped at CHART_CAP most severe first, big tables folded, under 25 MB."""
    n = 20_000
    doc = document(synthetic(n, seed=9))
    text = html_report.render_html([ReportSection(doc)])
    assert len(text.encode()) < 25_000_000
    rows = re.findall(r'<tr class="m" data-c="(\w+)" id="s1-m(\d+)"><th>(?:<a [^>]*>)?'
                      r'<span class="id">([^<]*)</span>', text)
    assert len(rows) == n and len({r[1] for r in rows}) == n
    assert sorted(r[2] for r in rows) == sorted(m["id"] for m in doc["models"])
    assert [r[0] for r in rows] == sorted((r[0] for r in rows),
                                          key=("DROP", "REVIEW", "APPROVED").index)
    charts = re.findall(r'<figure id="s1-c(\d+)">', text)
    assert len(charts) == html_report.CHART_CAP
    worst = [m["id"] for m in by_severity(doc)][:html_report.CHART_CAP]
    assert [doc["models"][int(i)]["id"] for i in charts] == worst
    c = doc["counts"]
    for cls in ("DROP", "REVIEW"):
        if c[cls] > html_report.OPEN_ROWS_MAX:
            assert f"<summary>{c[cls]} {cls} models (click to expand)</summary>" in text
    assert text.count("<script>") == 1
