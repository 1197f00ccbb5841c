"""View models -> one self-contained HTML page that opens offline from a CI artifact.

The same content as the markdown report, plus: why models were dropped (grouped, with links),
a chart per REVIEW / DROP model (the metrics that decided it, in their bands; up to
CHART_CAP, most severe first), per-symbol trends over the last archived runs, and, for
20,000-model runs, a class filter, a search by id and sortable columns. Those come from one
small inline script allowed by a strict Content-Security-Policy (hashes, nothing else: no
network, no framework); without it the page is complete, only static. Every text from the
run document goes through `esc`. Renders a string only.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping, Sequence

from pytest_model_gate.report.charts import (
    FRAME_DEFS,
    LINES,
    SVG_CSS,
    charted_metrics,
    esc,
    history_chart,
    metric_chart,
    trend_chart,
)
from pytest_model_gate.report.view import (
    CLASS_ORDER,
    COLLAPSE_AT,
    RANK,
    Cell,
    ClassTable,
    ModelRow,
    ReportSection,
    SectionView,
    by_severity,
    class_key,
    config_bounds,
    plural,
    reasons,
    restore_text,
    section_view,
    total_counts,
)

__all__ = ["CHART_CAP", "history_chart", "render_html", "trend_chart"]

CHART_CAP = 400
"""REVIEW / DROP models charted, most severe first (the tables hold every model)."""
CHARTS_OPEN_MAX = 200
"""More charts (or symbol trends) than this start folded (still all in the file)."""
TREND_RUNS = 10
"""Runs per symbol trend: this run and up to TREND_RUNS - 1 before it."""
TREND_CAP = 200
"""Symbols with a trend chart, those with the worst models first."""
TREND_LINES = 8
"""Models drawn per symbol trend, the worst first (the caption counts the others)."""
OPEN_ROWS_MAX = 1000
"""A DROP or REVIEW table longer than this starts folded (APPROVED folds past COLLAPSE_AT):
the browser lays out only what is open, so a 20,000-model page loads in seconds; the search
opens what it finds."""
REASON_LINKS = 12
"""Models linked per reason (the rest counted; the search finds them)."""

CSS = """
:root{--line:#dcdcdc;--muted:#5f6368}
*{box-sizing:border-box}[hidden]{display:none!important}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;
color:#1b1b1b;background:#fff;margin:0 auto;max-width:1320px;padding:18px 24px 48px}
h1{font-size:22px;margin:0 0 6px}
h2{font-size:18px;margin:30px 0 8px;padding-bottom:4px;border-bottom:2px solid var(--line);
overflow-wrap:break-word}
h3{font-size:15px;margin:22px 0 6px}
p{margin:6px 0}
code,.sp,.id,.mp{font-family:"DejaVu Sans Mono",ui-monospace,Menlo,Consolas,monospace;
font-size:12px}
code{overflow-wrap:break-word}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:8px 0}
dl.meta dt{color:var(--muted)}dl.meta dd{margin:0;overflow-wrap:break-word;min-width:0}
.badge{display:inline-block;border-radius:12px;padding:1px 10px;margin:0 6px 0 0;color:#fff;
font-weight:600;font-size:13px;white-space:nowrap}
.c-APPROVED{background:#2e7d32}.c-REVIEW{background:#b26a00}.c-DROP{background:#c62828}
.c-other{background:#555}
.tw{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;margin:6px 0 10px;font-size:13px}
th,td{padding:3px 8px;border-bottom:1px solid #ececec;text-align:left;vertical-align:top}
thead th{position:sticky;top:0;background:#f4f5f7;border-bottom:1px solid var(--line);
white-space:nowrap}
thead th[data-k]{cursor:pointer}thead th[aria-sort=ascending]::after{content:" ▲"}
thead th[aria-sort=descending]::after{content:" ▼"}
tbody th{font-weight:500}
.id{white-space:nowrap;font-size:13px}
.mp{display:block;color:var(--muted);font-size:11px;max-width:34em;overflow-wrap:anywhere}
td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.r{background:#fff3dd;color:#6d4100}td.d{background:#fdeaea;color:#9b1c1c}
.up{color:#1b6e20}.dn{color:#8a4b00}b.dn,b.up{font-weight:700}
td.f{color:var(--muted);font-size:12px;max-width:22em}
.sp{white-space:nowrap;color:#1f5fa8}.sp b{color:#0b2e59}.pt{color:var(--muted);font-size:12px}
.legend{color:var(--muted);font-size:12px}
details{margin:6px 0}summary{cursor:pointer;color:#1f5fa8}
.tb{display:flex;flex-wrap:wrap;gap:6px;align-items:center;margin:10px 0;padding:6px 8px;
background:#f4f5f7;border-radius:6px;position:sticky;top:0;z-index:2}
.tb button{border:0;cursor:pointer;opacity:.45}.tb button[aria-pressed=true]{opacity:1}
.tb input{font:inherit;padding:2px 6px;min-width:16em}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:10px}
figure{margin:0;border:1px solid var(--line);border-radius:6px;padding:6px 8px 4px;
background:#fff;min-width:0}
figcaption{font-size:12px;margin-bottom:2px}
figcaption b{display:block;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
figcaption .pt{display:block;overflow-wrap:anywhere}
.mt{font-size:12px;font-weight:600;margin:4px 0 0}
svg{display:block;width:100%;height:auto}.defs{position:absolute}
ul.why{margin:4px 0 8px;padding-left:20px}ul.why li{margin:2px 0}ul.why a{white-space:nowrap}
ol.runs{font-size:12px;color:var(--muted);columns:2}
a{color:#1f5fa8}
@media print{thead th{position:static}.tb{display:none}}
""" + "".join(f".k{i}{{color:{c};font-weight:bold}}" for i, c in enumerate(LINES)) + "\n"

SCRIPT = r"""
(function(){
"use strict";
function num(t){var v=parseFloat(t);return isNaN(v)?null:v;}
document.querySelectorAll("section").forEach(function(sec){
  var tb=sec.querySelector(".tb");if(!tb)return;tb.hidden=false;
  var rows=Array.prototype.slice.call(sec.querySelectorAll("tr.m"));
  var ids=rows.map(function(r){return r.querySelector(".id").textContent.toLowerCase();});
  var q=tb.querySelector("input"),out=tb.querySelector("output"),on={};
  tb.querySelectorAll("button[data-f]").forEach(function(b){
    on[b.getAttribute("data-f")]=true;
    b.addEventListener("click",function(){
      var v=b.getAttribute("aria-pressed")!=="true";
      b.setAttribute("aria-pressed",v?"true":"false");on[b.getAttribute("data-f")]=v;apply();});
  });
  function apply(){
    var s=q.value.trim().toLowerCase(),n=0;
    rows.forEach(function(r,i){
      var v=on[r.getAttribute("data-c")]!==false&&(!s||ids[i].indexOf(s)>=0);
      r.hidden=!v;if(v)n++;});
    sec.querySelectorAll(".ct").forEach(function(ct){
      var c=ct.getAttribute("data-c");
      var any=ct.querySelector("tr.m:not([hidden])");ct.hidden=!any;
      var d=ct.querySelector("details");if(d&&s&&any)d.open=true;});
    out.textContent=n+" of "+rows.length+" models shown";
  }
  q.addEventListener("input",apply);apply();
});
document.querySelectorAll("th[data-k]").forEach(function(th){
  th.addEventListener("click",function(){
    var k=+th.getAttribute("data-k"),body=th.closest("table").tBodies[0];
    var asc=th.getAttribute("aria-sort")!=="ascending";
    th.closest("tr").querySelectorAll("th").forEach(function(h){h.removeAttribute("aria-sort");});
    th.setAttribute("aria-sort",asc?"ascending":"descending");
    var rows=Array.prototype.slice.call(body.rows),keys=rows.map(function(r){
      var c=r.cells[k],t=c?c.textContent:"";return k===0?t.toLowerCase():num(t);});
    var order=rows.map(function(_,i){return i;});
    order.sort(function(a,b){var x=keys[a],y=keys[b];
      if(x===y)return a-b;if(x===null)return 1;if(y===null)return -1;
      return (x<y?-1:1)*(asc?1:-1);});
    var frag=document.createDocumentFragment();
    order.forEach(function(i){frag.appendChild(rows[i]);});body.appendChild(frag);
  });
});
})();
"""


def _sha256(text: str) -> str:
    return base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


_STYLE = CSS + SVG_CSS
CSP = (f"default-src 'none'; style-src 'sha256-{_sha256(_STYLE)}'; "
       f"script-src 'sha256-{_sha256(SCRIPT)}'; img-src 'none'; base-uri 'none'; "
       "form-action 'none'")
"""Only our own style and script run: no network, no injected markup can execute."""

_TIER_CSS = {"DROP": "n d", "REVIEW": "n r"}
_TIER_MARK = {"DROP": " ✗", "REVIEW": " ⚠"}


def render_html(sections: Sequence[ReportSection]) -> str:
    total = total_counts(sections)
    title = "Model gate report: " + ", ".join(f"{total[c]} {c}" for c in CLASS_ORDER)
    out = ["<!doctype html>", '<html lang="en"><head><meta charset="utf-8">',
           f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
           '<meta name="viewport" content="width=device-width,initial-scale=1">',
           '<meta name="generator" content="pytest-model-gate">',
           f"<title>{esc(title)}</title><style>{_STYLE}</style></head><body>",
           FRAME_DEFS, "<h1>Model gate report</h1>"]
    if len(sections) > 1:  # one summary: its own header has the counts
        out.append(f"<p>{_badges(total)}of {sum(total.values())} models in "
                   f"{len(sections)} summaries</p>")
    for k, section in enumerate(sections, 1):
        out += _Html(section_view(section), f"s{k}").render()
    out.append(f"<script>{SCRIPT}</script></body></html>")
    return "\n".join(out) + "\n"


def _badges(c: Mapping[str, int]) -> str:
    return "".join(f'<span class="badge c-{t}">{c.get(t, 0)} {t}</span>' for t in CLASS_ORDER)


def _fold(lines: list[str], count: int, what: str, limit: int = COLLAPSE_AT) -> list[str]:
    if count <= limit:
        return lines
    return [f"<details><summary>{count} {esc(what)} (click to expand)</summary>", *lines,
            "</details>"]


def _pill(cls: str | None) -> str:
    if cls is None:
        return "—"
    return f'<span class="badge c-{class_key(cls)}">{esc(cls)}</span>'


_RUN_TIME = re.compile(r"(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)")


def run_time(run_id: str) -> str:
    """'2026-12-01 21:26 UTC' from a run id (its writer's clock at commit), else the id."""
    m = _RUN_TIME.match(run_id)
    return f"{m[1]}-{m[2]}-{m[3]} {m[4]}:{m[5]} UTC" if m else run_id


class _Html:
    """One section's HTML."""

    def __init__(self, view: SectionView, key: str) -> None:
        self.v = view
        self.key = key
        self.doc = view.section.document
        worst = by_severity(self.doc)
        self.flagged = len(worst)
        # position of a charted model (the CHART_CAP most severe) -> its chart anchor
        pos = {id(m): i for i, m in enumerate(self.doc["models"])}
        self.charted: dict[int, str] = {pos[id(m)]: f"{key}-c{pos[id(m)]}"
                                        for m in worst[:CHART_CAP]}
        self.chart_order = [pos[id(m)] for m in worst[:CHART_CAP]]

    def render(self) -> list[str]:
        out = [f'<section id="{self.key}">']
        out += self.header()
        out += self.nav()
        out += self.changes()
        out += self.why()
        out += self.toolbar()
        out += self.legend()
        for table in self.v.tables:
            out += self.class_table(table)
        out += self.charts()
        out += self.checkpoints()
        out += self.regressions()
        out += self.trends()
        out.append("</section>")
        return out

    def header(self) -> list[str]:
        v = self.v
        items = [("Run", f"<code>{esc(v.run_id)}</code>" if v.run_id else "not archived"),
                 ("Summary", f"{esc(v.title)}, sha256 <code>{esc(v.summary_sha256)}</code>"),
                 ("Config", f"sha256 <code>{esc(v.config_sha256)}</code>")]
        items += [(k, esc(t)) for k, t in v.metadata]
        if v.changes.previous_id is not None:
            items.append(("Previous run", f"<code>{esc(v.changes.previous_id)}</code>"))
        c = v.counts
        return [f"<h2>{esc(v.title)}</h2>",
                f"<p>{_badges(c)}of {sum(c.values())} models</p>",
                '<dl class="meta">' + "".join(f"<dt>{esc(k)}</dt><dd>{t}</dd>"
                                              for k, t in items) + "</dl>"]

    def nav(self) -> list[str]:
        links = [(f"{self.key}-changes", "changes")]
        if self.flagged:
            links.append((f"{self.key}-why", "why"))
        links += [(f"{self.key}-{class_key(t.cls)}", f"{t.cls} ({len(t.rows)})")
                  for t in self.v.tables if t.cls in CLASS_ORDER]
        if self.charted:
            links.append((f"{self.key}-charts", "charts"))
        links += [(f"{self.key}-checkpoints", "checkpoints"), (f"{self.key}-trends", "trends")]
        return ['<p class="legend">Jump to: ' + " · ".join(
            f'<a href="#{a}">{esc(t)}</a>' for a, t in links) + "</p>"]

    def changes(self) -> list[str]:
        out = [f'<h3 id="{self.key}-changes">Changes since the previous archived run</h3>']
        ch = self.v.changes
        if ch.previous_id is None:
            text = ("No previous archived run to compare with." if ch.archived
                    else "Not archived: no previous run to compare with.")
            return [*out, f"<p>{text}</p>"]
        out.append(f"<p>Compared with run <code>{esc(ch.previous_id)}</code>: "
                   f"{esc(ch.summary_line())}; {ch.unchanged} unchanged.</p>")
        if ch.config_before is not None:
            out.append("<p>The gating config changed since then (sha256 "
                       f"<code>{esc(ch.config_before)}</code> → "
                       f"<code>{esc(ch.config_now)}</code>): some changes may come from it.</p>")
        if ch.rows:
            rows = ['<div class="tw"><table><thead><tr><th>change</th><th>model</th>'
                    "<th>was</th><th>now</th></tr></thead><tbody>"]
            for c in ch.rows:
                rows.append(f'<tr><td>{esc(c.kind)}</td><th><span class="id">{esc(c.model_id)}'
                            f"</span></th><td>{_pill(c.before)}</td><td>{_pill(c.after)}</td>"
                            "</tr>")
            rows.append("</tbody></table></div>")
            out += _fold(rows, len(ch.rows), "changes")
        return out

    def why(self) -> list[str]:
        """Reasons grouped across models (LOW_PF: 180 models), each model linked."""
        out: list[str] = []
        rows = {id(r.record): r.position for t in self.v.tables for r in t.rows}
        pos = {m["id"]: rows[id(m)] for m in self.doc["models"]}
        for cls, title in (("DROP", "Why models were dropped"),
                           ("REVIEW", "Why models need review")):
            groups = reasons(self.doc, cls)
            if not groups:
                continue
            out.append(f'<h3 id="{self.key}-why{"" if cls == "DROP" else "-review"}">'
                       f"{title}</h3>")
            items = []
            for r in groups:
                links = ", ".join(f'<a href="#{self.key}-m{pos[mid]}">{esc(mid)}</a>'
                                  for mid in r.model_ids[:REASON_LINKS])
                more = len(r.model_ids) - REASON_LINKS
                if more > 0:
                    links += f" and {more} more"
                items.append(f"<li><b>{esc(r.text)}</b>: {plural(len(r.model_ids), 'model')}"
                             f" ({links})</li>")
            out.append('<ul class="why">' + "".join(items) + "</ul>")
        if out:  # the nav's "why" anchor lands on the first list
            out[0] = out[0].replace(f'id="{self.key}-why-review"', f'id="{self.key}-why"')
        return out

    def toolbar(self) -> list[str]:
        """Filter by class, search by id (shown by the script; without it, all is shown)."""
        c = self.v.counts
        buttons = "".join(
            f'<button type="button" class="badge c-{t}" data-f="{t}" aria-pressed="true">'
            f"{t} {c.get(t, 0)}</button>" for t in CLASS_ORDER)
        return [f'<div class="tb" hidden><span class="pt">Show:</span>{buttons}'
                '<input type="search" placeholder="search model id" '
                'aria-label="search model id"><output class="pt"></output>'
                '<span class="pt">· click a column title to sort</span></div>']

    def legend(self) -> list[str]:
        bounds = [f"{esc(name)} {'≥' if b.higher_is_better else '≤'} {b.approved:g} / "
                  f"{b.review:g}" for name, b in self.v.bounds]
        text = ('<p class="legend">Cells: <span class="badge c-REVIEW">⚠</span>misses the '
                'APPROVED bound, <span class="badge c-DROP">✗</span>misses the REVIEW bound '
                "(red is DROP, nothing else); † bounds from an override; Δ change from the "
                'baseline run, <span class="up">better</span> or <span class="dn">worse</span>'
                " in the metric's own direction (bold: a regression); the bold mark in a "
                "history is its peak.")
        if bounds:
            text += " Bounds (APPROVED / REVIEW): " + ", ".join(bounds) + "."
        return [text + "</p>"]

    @staticmethod
    def metric_cell(cell: Cell | None) -> str:
        if cell is None:
            return '<td class="n">—</td>'
        text = cell.value if cell.status == "ok" else esc(cell.status)
        if cell.overridden:
            text += " †"
        text += _TIER_MARK.get(cell.tier, "")
        if cell.delta is not None:
            tone = "" if cell.better is None else (' class="up"' if cell.better
                                                   else ' class="dn"')
            tag = "b" if cell.regressed else "span"
            text += f" <{tag}{tone}>{cell.delta}</{tag}>"
        return f'<td class="{_TIER_CSS.get(cell.tier, "n")}">{text}</td>'

    def class_table(self, table: ClassTable) -> list[str]:
        v = self.v
        head = ('<div class="tw"><table><thead><tr><th data-k="0">model</th>'
                + "".join(f'<th data-k="{k}">{esc(n)}</th>' for k, n in enumerate(v.names, 1))
                + f"<th>flags</th><th>{esc(v.watched)} history</th></tr></thead><tbody>")
        lines = [head]
        metric_cell = self.metric_cell
        flag_text: dict[str, str] = {}
        key = self.key
        cls_attr = esc(table.cls)
        for row in table.rows:
            m = row.record
            anchor = self.charted.get(row.position)
            name = f'<span class="id">{esc(m["id"])}</span>'
            if anchor:
                name = f'<a href="#{anchor}">{name}</a>'
            path = m.get("model_path")
            if path:
                name += f'<span class="mp">{esc(path)}</span>'
            flags = flag_text.get(row.flags)
            if flags is None:
                flags = flag_text[row.flags] = esc(row.flags) or "—"
            lines.append(
                f'<tr class="m" data-c="{cls_attr}" id="{key}-m{row.position}"><th>{name}</th>'
                + "".join([metric_cell(c) for c in row.cells])
                + f'<td class="f">{flags}</td><td>{_spark_html(row)}</td></tr>')
        lines.append("</tbody></table></div>")
        out = [f'<div class="ct" data-c="{cls_attr}">',
               f'<h3 id="{key}-{class_key(table.cls)}">{esc(table.cls)} ({len(table.rows)})</h3>']
        limit = COLLAPSE_AT if table.cls == "APPROVED" else OPEN_ROWS_MAX
        out += _fold(lines, len(table.rows), f"{table.cls} models", limit=limit)
        return [*out, "</div>"]

    def charts(self) -> list[str]:
        if not self.charted:
            return []
        models = self.doc["models"]
        watched = self.v.watched
        cards = ['<div class="cards">']
        for i in self.chart_order:
            m = models[i]
            panels = []
            for name in charted_metrics(m, watched):
                panels.append(f'<p class="mt">{esc(name)}</p>'
                              + metric_chart(m, name, watched=name == (
                                  m["overfitting"]["metric"] or watched)))
            extra = []
            if m["use_checkpoint"]:
                extra.append(f"restore {esc(restore_text(m))}")
            for label in ("model_path", "checkpoint_path"):
                value = m.get(label)
                if value:
                    extra.append(f"{label}: {esc(value)}")
            info = "".join(f'<span class="pt">{e}</span>' for e in extra)
            cards.append(
                f'<figure id="{self.charted[i]}"><figcaption>'
                f'<span class="badge c-{class_key(m["classification"])}">'
                f'{esc(m["classification"])}</span>'
                f"<b title=\"{esc(m['id'])}\">{esc(m['id'])}</b>{info}</figcaption>"
                + "".join(panels) + "</figure>")
        cards.append("</div>")
        n = len(self.chart_order)
        cap = (f"the {n} most severe of {self.flagged} REVIEW and DROP models (the cap is "
               f"{CHART_CAP}; the tables hold every model)" if self.flagged > n
               else "every REVIEW and DROP model, most severe first")
        out = [f'<h3 id="{self.key}-charts">Charts: {cap}</h3>',
               '<p class="legend">One panel per metric that decided the class, plus the '
               "watched metric when its history raised a flag. x: update (validation number "
               "when the interval is unknown); y: the metric. Bands: green meets APPROVED, "
               "amber REVIEW, red DROP (the model's own bounds, dashed and labelled right). "
               "Blue ring: the peak; purple line: the checkpoint to restore, with its step; "
               "black dot: the final value.</p>"]
        return out + _fold(cards, n, "charts", limit=CHARTS_OPEN_MAX)

    def checkpoints(self) -> list[str]:
        v = self.v
        out = [f'<h3 id="{self.key}-checkpoints">Checkpoints</h3>']
        if not v.checkpoints:
            return [*out, "<p>No model needs an earlier checkpoint.</p>"]
        t = v.decline_threshold
        by = f"more than {t:.0%}" if t is not None else "too far"
        out.append(f"<p>{plural(len(v.checkpoints), 'model')} ended {by} below their peak "
                   f"{esc(v.watched)}: restore the checkpoint of the peak before "
                   "deploying.</p>")
        paths = {m["id"]: m.get("model_path") for m in self.doc["models"] if m["use_checkpoint"]}
        rows = ['<div class="tw"><table><thead><tr><th>model</th><th>class</th><th>restore</th>'
                f"<th>peak {esc(v.watched)}</th><th>final</th><th>off peak</th><th>model_path</th>"
                "</tr></thead><tbody>"]
        for c in v.checkpoints:
            path = paths.get(c.model_id)
            rows.append(f'<tr><th><span class="id">{esc(c.model_id)}</span></th>'
                        f"<td>{_pill(c.classification)}</td>"
                        f"<td>{esc(c.restore)}{_path_html(c.path)}</td>"
                        f'<td class="n">{c.peak}</td><td class="n">{c.final}</td>'
                        f'<td class="n">{c.off_peak}</td>'
                        f'<td><span class="mp">{esc(path) if path else "—"}</span></td></tr>')
        rows.append("</tbody></table></div>")
        return out + _fold(rows, len(v.checkpoints), "checkpoint recommendations")

    def regressions(self) -> list[str]:
        if not self.v.regressions:
            return []
        rows = ["<h3>Regressions against the baseline</h3>",
                '<div class="tw"><table><thead><tr><th>model</th><th>metric</th>'
                "<th>baseline</th><th>baseline run</th><th>now</th><th>change</th>"
                "<th>limit</th></tr></thead><tbody>"]
        for r in self.v.regressions:
            rows.append(
                f'<tr><th><span class="id">{esc(r.model_id)}</span></th>'
                f"<td>{esc(r.metric)}</td>"
                f'<td class="n">{r.baseline}</td><td><code>{esc(r.run_id)}</code></td>'
                f'<td class="n">{r.value}</td>'
                f'<td class="n dn">{esc(r.change)}</td><td class="n">{esc(r.limit)}</td></tr>')
        rows.append("</tbody></table></div>")
        return rows

    def trends(self) -> list[str]:
        watched = self.v.watched
        out = [f'<h3 id="{self.key}-trends">Trends per symbol: final {esc(watched)} over '
               "the last archived runs</h3>"]
        runs = [*list(self.v.section.history)[-(TREND_RUNS - 1):], self.doc]
        if len(runs) < 2:
            return [*out, "<p>No earlier archived runs: trends start with the second archived "
                          "run.</p>"]
        index = [{m["id"]: m for m in r["models"]} for r in runs]
        symbols: dict[str, list[str]] = {}
        worst: dict[str, int] = {}
        for m in self.doc["models"]:
            mid = m["id"]
            sym = m["symbol"] or mid.split("_", 1)[0]
            symbols.setdefault(sym, []).append(mid)
            worst[sym] = max(worst.get(sym, 0), RANK.get(m["classification"], 0))
        order = sorted(symbols, key=lambda s: (-worst[s], s))
        shown = order[:TREND_CAP]
        bounds = config_bounds(self.doc, watched)
        cards = ['<div class="cards">']
        for sym in shown:
            ids = symbols[sym]
            drawn = sorted(ids, key=lambda i: -RANK.get(index[-1][i]["classification"], 0)
                           )[:TREND_LINES] if len(ids) > TREND_LINES else ids
            names = ", ".join(
                f'<span class="k{k % len(LINES)}">━</span> {esc(mid)} '
                f"({esc(index[-1][mid]['classification'])})"
                for k, mid in enumerate(drawn))
            if len(ids) > len(drawn):
                names += f" and {len(ids) - len(drawn)} more models"
            cards.append(f'<figure><figcaption><b>{esc(sym)}</b><span class="pt">{names}'
                         f"</span></figcaption>"
                         f"{trend_chart(sym, drawn, runs, index, watched, bounds)}"
                         "</figure>")
        cards.append("</div>")
        legend = []
        for j, r in enumerate(runs):
            when = run_time(r.get("run_id", "")) if "run_id" in r else "not archived"
            stamp = r["summary"].get("timestamp")
            date = f", summary {esc(stamp)}" if stamp is not None else ""
            this = " (this run)" if j == len(runs) - 1 else ""
            legend.append(f"<li>#{j + 1}: {esc(when)}{date}{this}</li>")
        if len(order) > len(shown):
            out.append(f'<p class="legend">The {len(shown)} symbols with the worst models of '
                       f"{len(order)} (the cap is {TREND_CAP}).</p>")
        out.append(f'<p class="legend">{len(runs)} runs in commit order (#1 oldest, '
                   f"#{len(runs)} this run); one line per model; a dot, coloured by the "
                   f"{esc(watched)} tier in that run, at this run and wherever that tier "
                   "changed.</p>")
        out.append('<ol class="runs">' + "".join(legend) + "</ol>")
        return out + _fold(cards, len(shown), "symbols", limit=CHARTS_OPEN_MAX)


def _spark_html(row: ModelRow) -> str:
    spark = row.spark
    if not spark.points:
        return '<span class="pt">no history</span>'
    chars = spark.chars
    if spark.peak_pos is not None:
        p = spark.peak_pos
        chars = f"{chars[:p]}<b>{chars[p]}</b>{chars[p + 1:]}"
    return f'<span class="sp">{chars}</span> <span class="pt">{esc(row.peak)}</span>'


def _path_html(path: str | None) -> str:
    """The checkpoint folder / file a source named, as code (it is data: escaped)."""
    return f" <code>{esc(path)}</code>" if path else ""
