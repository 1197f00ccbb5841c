"""View models -> one self-contained HTML page (inline CSS, inline SVG, no script, no network).

The same content as the markdown report plus pictures: a chart per REVIEW/DROP model (watched
history, peak, APPROVED/REVIEW bounds, recommended checkpoint) and per-symbol trends over the
last archived runs. Charts are plain SVG written here: no dependency, no JavaScript (so the page
also works where scripts are blocked: CI artifact viewers with a strict CSP, mail, print),
deterministic bytes, and a few hundred bytes per chart, which keeps a 10,000-model page light.
Every piece of text from the run document goes through `html.escape`. Renders a string
only: writing it is the caller's (pytest_model_gate.files).
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from functools import lru_cache

from pytest_model_gate.core.document import ModelRecord, RunDocument
from pytest_model_gate.report.view import (
    CLASS_ORDER,
    COLLAPSE_AT,
    RANK,
    Bounds,
    Cell,
    ClassTable,
    ModelRow,
    ReportSection,
    SectionView,
    Spark,
    all_finite_floats,
    class_key,
    config_bounds,
    plain,
    plural,
    restore_text,
    section_view,
    total_counts,
    watched_metric,
)
from pytest_model_gate.text import finite, fmt_value

CHARTS_OPEN_MAX = 200
"""More REVIEW/DROP charts (or symbol trends) than this start folded (still all in the file)."""
TREND_RUNS = 10
"""Runs per symbol trend: this run and up to TREND_RUNS - 1 before it."""
MAX_POLYLINE = 300
"""Longer histories are drawn from per-bucket min and max (same picture, fewer bytes)."""
COLORS = {"APPROVED": "#2e7d32", "REVIEW": "#b26a00", "DROP": "#c62828"}
ZONES = {"APPROVED": "#e9f5ea", "REVIEW": "#fff3dd", "DROP": "#fdeaea"}
LINES = ("#1f5fa8", "#6a3d9a", "#00838f", "#5d4037", "#ad1457", "#37474f")

CSS = """
:root{--line:#dcdcdc;--muted:#5f6368}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;
color:#1b1b1b;background:#fff;margin:0 auto;max-width:1320px;padding:18px 24px 48px}
h1{font-size:22px;margin:0 0 6px}
h2{font-size:18px;margin:30px 0 8px;padding-bottom:4px;border-bottom:2px solid var(--line);
overflow-wrap:anywhere}
h3{font-size:15px;margin:22px 0 6px}
p{margin:6px 0}
code,.sp{font-family:"DejaVu Sans Mono",ui-monospace,Menlo,Consolas,monospace;font-size:12px}
code{overflow-wrap:anywhere}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:8px 0}
dl.meta dt{color:var(--muted)}dl.meta dd{margin:0;overflow-wrap:anywhere}
.badge{display:inline-block;border-radius:12px;padding:1px 10px;margin:0 6px 0 0;color:#fff;
font-weight:600;font-size:13px}
.c-APPROVED{background:#2e7d32}.c-REVIEW{background:#b26a00}.c-DROP{background:#c62828}
.c-other{background:#555}
table{border-collapse:collapse;margin:6px 0 10px;font-size:13px}
th,td{padding:3px 8px;border-bottom:1px solid #ececec;text-align:left;vertical-align:top}
thead th{position:sticky;top:0;background:#f4f5f7;border-bottom:1px solid var(--line);
white-space:nowrap}
tbody th{font-weight:500;max-width:30em;overflow-wrap:anywhere}
td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.r{background:#fff3dd;color:#6d4100}td.d{background:#fdeaea;color:#9b1c1c;font-weight:600}
td.f{color:var(--muted);font-size:12px;max-width:22em}
.sp{white-space:nowrap;color:#1f5fa8}.sp b{color:#c62828}.pt{color:var(--muted);font-size:12px}
.legend{color:var(--muted);font-size:12px}
details{margin:6px 0}summary{cursor:pointer;color:#1f5fa8}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(280px,1fr));gap:10px}
figure{margin:0;border:1px solid var(--line);border-radius:6px;padding:6px 8px 4px;
background:#fff}
figcaption{font-size:12px;overflow-wrap:anywhere;margin-bottom:2px}
figcaption .pt{display:block}
svg{display:block;width:100%;height:auto}
a{color:#1f5fa8}
@media print{thead th{position:static}}
""" + "".join(f".k{i}{{color:{c};font-weight:bold}}" for i, c in enumerate(LINES)) + "\n"


def esc(text: object) -> str:
    """Text from a run document, safe in element content and quoted attribute values."""
    value = plain(text)
    if ("&" in value or "<" in value or ">" in value or '"' in value
            or "'" in value):
        return html.escape(value, quote=True)
    return value


def _num(x: float) -> str:
    """An SVG coordinate: one decimal, no trailing zeros."""
    text = f"{x:.1f}"
    return text[:-2] if text.endswith(".0") else text


_TIER_CSS = {"DROP": "n d", "REVIEW": "n r"}
_TIER_MARK = {"DROP": " ✗", "REVIEW": " ⚠"}




# --- charts --------------------------------------------------------------------------------

class _Frame:
    """Maps data to the chart box; y grows upwards."""

    W, H = 280, 112
    X0, X1, Y0, Y1 = 36.0, 246.0, 10.0, 96.0

    def __init__(self, n: int, lo: float, hi: float) -> None:
        pad = (hi - lo) * 0.08 if hi != lo else (abs(hi) * 0.05 or 0.05)
        self.n, self.lo, self.hi = n, lo - pad, hi + pad

    def x(self, i: float) -> float:
        if self.n <= 1:
            return (self.X0 + self.X1) / 2
        return self.X0 + (self.X1 - self.X0) * i / (self.n - 1)

    def y(self, v: float) -> float:
        return self.Y1 - (self.Y1 - self.Y0) * (v - self.lo) / (self.hi - self.lo)

    def clamp_y(self, v: float) -> float:
        return min(max(self.y(v), self.Y0), self.Y1)


_FRAME_ID = "mg-frame"
_HLINE_ID = "mg-h"
# Drawn once per page and reused by every chart (<use>): the axes of the plot box.
FRAME_DEFS = (
    '<svg width="0" height="0" style="position:absolute" aria-hidden="true"><defs>'
    f'<g id="{_FRAME_ID}" class="ax"><line x1="{_Frame.X0:g}" x2="{_Frame.X0:g}" '
    f'y1="{_Frame.Y0:g}" y2="{_Frame.Y1:g}"/><line x1="{_Frame.X0:g}" x2="{_Frame.X1:g}" '
    f'y1="{_Frame.Y1:g}" y2="{_Frame.Y1:g}"/></g>'
    f'<line id="{_HLINE_ID}" x1="{_Frame.X0:g}" x2="{_Frame.X1:g}" y1="0" y2="0"/></defs></svg>')
SVG_CSS = (
    "svg text{font:9px sans-serif;fill:#5f6368}text.e{text-anchor:end}.ax{stroke:#bbb}"
    ".za{fill:#e9f5ea}.zr{fill:#fff3dd}.zd{fill:#fdeaea}"
    ".ta,.tr{stroke-dasharray:4 3}.ta{stroke:#2e7d32}.tr{stroke:#b26a00}"
    "text.ta{fill:#2e7d32;stroke:none}text.tr{fill:#b26a00;stroke:none}"
    ".hl{stroke-width:1.6;stroke-linejoin:round}.tl{stroke-width:1.3}"
    ".pk{fill:#c62828;stroke:#fff}.fin{fill:#1b1b1b}"
    ".ck{stroke:#6a1b9a;stroke-width:1.2;stroke-dasharray:2 2}text.ck{fill:#6a1b9a;stroke:none}"
    ".dAPPROVED{fill:#2e7d32}.dREVIEW{fill:#b26a00}.dDROP{fill:#c62828}.dother{fill:#555}"
    "circle.d{stroke:#fff;stroke-width:.8}"
    + "".join(f".l{i}{{stroke:{c}}}" for i, c in enumerate(LINES)))


def _svg_open(f: _Frame, label: str) -> list[str]:
    return [f'<svg viewBox="0 0 {f.W} {f.H}" role="img"><title>{esc(label)}</title>']


def _zones(f: _Frame, approved: float, review: float, hib: bool) -> list[str]:
    """Background bands: where a value would be APPROVED, REVIEW, DROP."""
    top, bottom = f.hi, f.lo
    if hib:
        bands = [("za", approved, top), ("zr", review, approved), ("zd", bottom, review)]
    else:
        bands = [("za", bottom, approved), ("zr", approved, review), ("zd", review, top)]
    out = []
    for cls, a, b in bands:
        y_top, y_bottom = round(f.clamp_y(max(a, b))), round(f.clamp_y(min(a, b)))
        if y_bottom > y_top:
            out.append(f'<rect class="{cls}" x="{f.X0:g}" y="{y_top}" '
                       f'width="{f.X1 - f.X0:g}" height="{y_bottom - y_top}"/>')
    return out


def _thresholds(f: _Frame, approved: float, review: float) -> list[str]:
    out = []
    for cls, value in (("ta", approved), ("tr", review)):
        y = round(f.y(value))
        out.append(f'<use href="#{_HLINE_ID}" y="{y}" class="{cls}"/>'
                   f'<text class="{cls}" x="{f.X1 + 3:g}" y="{y + 3}">{value:g}</text>')
    return out


def _axes(f: _Frame, left: str, right: str) -> list[str]:
    return [f'<use href="#{_FRAME_ID}"/>',
            f'<text x="{f.X0 - 3:g}" y="{f.Y0 + 6:g}" class="e">{esc(_tick(f.hi))}'
            f'</text><text x="{f.X0 - 3:g}" y="{f.Y1:g}" class="e">{esc(_tick(f.lo))}'
            f'</text><text x="{f.X0:g}" y="{f.Y1 + 12:g}">{esc(left)}</text>'
            f'<text x="{f.X1:g}" y="{f.Y1 + 12:g}" class="e">{esc(right)}</text>']


def _tick(v: float) -> str:
    return f"{v:.3g}"


def _segments(points: Sequence[tuple[int, float | None]]) -> list[list[tuple[int, float]]]:
    """Runs of consecutive finite points (a gap splits the line)."""
    out: list[list[tuple[int, float]]] = []
    current: list[tuple[int, float]] = []
    for i, v in points:
        if v is None:
            if current:
                out.append(current)
            current = []
        else:
            current.append((i, v))
    if current:
        out.append(current)
    return out


def _thin(seg: list[tuple[int, float]], limit: int = MAX_POLYLINE) -> list[tuple[int, float]]:
    """Keep each bucket's lowest and highest point, in order: the drawn shape is unchanged."""
    if len(seg) <= limit:
        return seg
    size = math.ceil(len(seg) / (limit // 2))
    out: list[tuple[int, float]] = []
    for start in range(0, len(seg), size):
        chunk = seg[start:start + size]
        lo = min(chunk, key=lambda p: p[1])
        hi = max(chunk, key=lambda p: p[1])
        out.extend(sorted({lo, hi}))
    return out


@lru_cache(maxsize=64)
def _x_texts(n: int) -> tuple[str, ...]:
    """`_num(f.x(i))` for i in range(n), for any _Frame of n points (x depends on n only)."""
    f = _Frame(n, 0.0, 1.0)
    return tuple(_num(f.x(i)) for i in range(n))


def _polyline(f: _Frame, seg: Sequence[tuple[int, float]], cls: str, color: str) -> str:
    """A line through the points; a lone point (between gaps) as a small dot."""
    if len(seg) == 1:
        i, v = seg[0]
        return (f'<circle class="lone" cx="{_num(f.x(i))}" cy="{_num(f.y(v))}" r="1.8" '
                f'fill="{color}"/>')
    # _num(f.x(i)) and _num(f.y(v)), inlined (same arithmetic, same text)
    xs = _x_texts(f.n) if f.n > 1 else None
    y1, height, lo, span = f.Y1, f.Y1 - f.Y0, f.lo, f.hi - f.lo
    if xs is not None and seg[0][0] >= 0 and seg[-1][0] < f.n:  # indices in order
        pts = " ".join([xs[i] + "," + f"{y1 - height * (v - lo) / span:.1f}".removesuffix(".0")
                        for i, v in seg])
    else:
        pts = " ".join(f"{_num(f.x(i))},{_num(f.y(v))}" for i, v in seg)
    return f'<polyline class="{cls}" points="{pts}" fill="none" stroke="{color}"/>'


def history_chart(doc: RunDocument, model: ModelRecord) -> str:
    """The watched history of one model, with peak, bounds and recommended checkpoint."""
    return _history_chart(model, watched_metric(doc) or "")


def _history_chart(model: ModelRecord, watched: str) -> str:
    of = model["overfitting"]
    name = of["metric"] or watched
    spec = model["metrics"].get(name)
    raw = of["history"]
    history: list[float | None]
    gaps = True
    if all_finite_floats(raw):
        history = list(raw)
        real: list[float] = history  # type: ignore[assignment]
        gaps = False
    else:
        history = [finite(v) for v in raw]
        real = [v for v in history if v is not None]
    if not real:
        return f'<p class="pt">no {esc(name)} history to draw</p>'
    approved = finite(spec["approved"]) if spec else None
    review = finite(spec["review"]) if spec else None
    hib = spec["higher_is_better"] if spec else True
    bounds = [b for b in (approved, review) if b is not None]
    f = _Frame(len(history), min(real + bounds), max(real + bounds))
    best = model["best_idx"]
    interval = model["validation_interval"]
    out = _svg_open(f, f"{name} history of {plain(model['id'])}")
    if approved is not None and review is not None:
        out += _zones(f, approved, review, hib)
        out += _thresholds(f, approved, review)
    if interval is not None and interval > 0:
        out += _axes(f, str(interval), str(interval * len(history)))
    else:
        out += _axes(f, "1", str(len(history)))
    if model["use_checkpoint"] and best is not None and 0 <= best < len(history):
        x = f.x(best)
        where = model["checkpoint_update"]
        text = f"restore @{where}" if where is not None else f"restore #{best + 1}"
        left = best < len(history) / 2
        out.append(f'<line class="ck" x1="{_num(x)}" x2="{_num(x)}" y1="{f.Y0:g}" '
                   f'y2="{f.Y1:g}"/><text class="ck" x="{_num(x + (3 if left else -3))}" '
                   f'y="{f.Y0 + 7:g}" text-anchor="{"start" if left else "end"}">'
                   f"{esc(text)}</text>")
    points = list(enumerate(history))
    segments = _segments(points) if gaps else [points]  # no gaps: one segment, all finite
    for seg in segments:
        out.append(_polyline(f, _thin(seg), "hl", LINES[0]))  # type: ignore[arg-type]
    last = max(i for i, v in enumerate(history) if v is not None) if gaps else len(history) - 1
    out.append(f'<circle class="fin" cx="{round(f.x(last))}" '
               f'cy="{round(f.y(history[last] or 0.0))}" r="2.5"/>')
    if best is not None and 0 <= best < len(history) and history[best] is not None:
        peak = history[best] or 0.0
        out.append(f'<circle class="pk" cx="{round(f.x(best))}" cy="{round(f.y(peak))}" '
                   f'r="3.8"><title>peak {esc(fmt_value(peak))} at {best + 1}/{len(history)}'
                   "</title></circle>")
    out.append("</svg>")
    return "".join(out)


def trend_chart(symbol: str, model_ids: Sequence[str], runs: Sequence[RunDocument],
                index: Sequence[Mapping[str, ModelRecord]], metric: str,
                bounds: Bounds | None) -> str:
    """One symbol over the last runs: the final `metric` of each of its models, dots coloured
    by the class it got in that run."""
    series: list[list[tuple[int, float | None, str | None]]] = []
    values: list[float] = []
    for mid in model_ids:
        row: list[tuple[int, float | None, str | None]] = []
        for j, by_id in enumerate(index):
            m = by_id.get(mid)
            if m is None:
                row.append((j, None, None))
                continue
            record = m["metrics"].get(metric)
            v = finite(record["value"]) if record else None
            row.append((j, v, m["classification"]))
            if v is not None:
                values.append(v)
        series.append(row)
    if not values:
        return f'<p class="pt">no {esc(metric)} values in these runs</p>'
    extra = [bounds.approved, bounds.review] if bounds is not None else []
    f = _Frame(len(runs), min(values + extra), max(values + extra))
    out = _svg_open(f, f"{metric} of {symbol} over the last {len(runs)} runs")
    if bounds is not None:
        out += _zones(f, bounds.approved, bounds.review, bounds.higher_is_better)
        out += _thresholds(f, bounds.approved, bounds.review)
    out += _axes(f, runs[0].get("run_id", "run 1")[:15], "this run")
    for k, row in enumerate(series):
        for seg in _segments([(j, v) for j, v, _ in row]):
            out.append(_polyline(f, seg, f"tl l{k % len(LINES)}", LINES[k % len(LINES)]))
        before: str | None = None
        for j, v, cls in row:  # a dot where the class changed, and at this run
            if v is not None and cls is not None and (cls != before or j == len(runs) - 1):
                out.append(f'<circle class="d d{class_key(cls)}" cx="{round(f.x(j))}" '
                           f'cy="{round(f.y(v))}" r="3"/>')
            before = cls if cls is not None else before
    out.append("</svg>")
    return "".join(out)


# --- page ----------------------------------------------------------------------------------

def render_html(sections: Sequence[ReportSection]) -> str:
    total = total_counts(sections)
    title = "Model gate report: " + ", ".join(f"{total[c]} {c}" for c in CLASS_ORDER)
    out = ["<!doctype html>", '<html lang="en"><head><meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width,initial-scale=1">',
           '<meta name="generator" content="pytest-model-gate">',
           f"<title>{esc(title)}</title><style>{CSS}{SVG_CSS}</style></head><body>",
           FRAME_DEFS,
           "<h1>Model gate report</h1>",
           f"<p>{_badges(total)}of {sum(total.values())} models in {len(sections)} "
           f"{'summary' if len(sections) == 1 else 'summaries'}</p>"]
    for k, section in enumerate(sections, 1):
        out += _Html(section_view(section), f"s{k}").render()
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def _badges(c: Mapping[str, int]) -> str:
    return "".join(f'<span class="badge c-{t}">{c.get(t, 0)} {t}</span>' for t in CLASS_ORDER)


def _fold(lines: list[str], count: int, what: str, limit: int = COLLAPSE_AT,
          open_: bool = False) -> list[str]:
    if count <= limit:
        return lines
    return [f"<details{' open' if open_ else ''}><summary>{count} {esc(what)} "
            "(click to expand)</summary>", *lines, "</details>"]


class _Html:
    """One section's HTML."""

    def __init__(self, view: SectionView, key: str) -> None:
        self.v = view
        self.key = key
        self.doc = view.section.document
        # position of a REVIEW/DROP model -> its chart anchor
        self.charted: dict[int, str] = {
            i: f"{key}-c{i}" for i, m in enumerate(self.doc["models"])
            if m["classification"] in ("REVIEW", "DROP")}

    def render(self) -> list[str]:
        out = [f'<section id="{self.key}">']
        out += self.header()
        out += self.nav()
        out += self.changes()
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
            rows = ["<table><thead><tr><th>change</th><th>model</th><th>was</th><th>now</th>"
                    "</tr></thead><tbody>"]
            for c in ch.rows:
                rows.append(f"<tr><td>{esc(c.kind)}</td><th>{esc(c.model_id)}</th>"
                            f"<td>{_pill(c.before)}</td><td>{_pill(c.after)}</td></tr>")
            rows.append("</tbody></table>")
            out += _fold(rows, len(ch.rows), "changes")
        return out

    def legend(self) -> list[str]:
        bounds = [f"{esc(name)} {'≥' if b.higher_is_better else '≤'} {b.approved:g} / "
                  f"{b.review:g}" for name, b in self.v.bounds]
        text = ('<p class="legend">Cells: <span class="badge c-REVIEW">⚠</span>misses the '
                'APPROVED bound, <span class="badge c-DROP">✗</span>misses the REVIEW bound; '
                "† bounds from an override; Δ change from the baseline run (bold: a "
                "regression); the red mark in a history is its peak.")
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
            text += f" <b>{cell.delta}</b>" if cell.regressed else f" {cell.delta}"
        return f'<td class="{_TIER_CSS.get(cell.tier, "n")}">{text}</td>'

    def class_table(self, table: ClassTable) -> list[str]:
        head = ("<table><thead><tr><th>model</th>"
                + "".join(f"<th>{esc(n)}</th>" for n in self.v.names)
                + f"<th>flags</th><th>{esc(self.v.watched)} history</th></tr></thead><tbody>")
        lines = [head]
        metric_cell = self.metric_cell
        flag_text: dict[str, str] = {}
        for row in table.rows:
            anchor = self.charted.get(row.position)
            name = esc(row.record["id"])
            if anchor:
                name = f'<a href="#{anchor}">{name}</a>'
            flags = flag_text.get(row.flags)
            if flags is None:
                flags = flag_text[row.flags] = esc(row.flags) or "—"
            lines.append(
                f'<tr class="m"><th>{name}</th>'
                + "".join([metric_cell(c) for c in row.cells])
                + f'<td class="f">{flags}</td><td>{_spark_html(row)}</td></tr>')
        lines.append("</tbody></table>")
        out = [f'<h3 id="{self.key}-{class_key(table.cls)}">{esc(table.cls)} '
               f"({len(table.rows)})</h3>"]
        if table.cls == "APPROVED":
            out += _fold(lines, len(table.rows), f"{table.cls} models")
        else:
            out += lines
        return out

    def charts(self) -> list[str]:
        todo = [row for t in self.v.tables for row in t.rows if row.position in self.charted]
        if not todo:
            return []
        todo.sort(key=lambda r: r.position)
        todo.sort(key=lambda r: -RANK.get(r.record["classification"], 0))
        cards = ['<div class="cards">']
        for row in todo:
            m = row.record
            advice = (f"<span class=\"pt\">restore {esc(restore_text(m))}</span>"
                      if m["use_checkpoint"] else "")
            cards.append(
                f'<figure id="{self.charted[row.position]}"><figcaption>'
                f'<span class="badge c-{class_key(m["classification"])}">'
                f'{esc(m["classification"])}</span>'
                f"<b>{esc(m['id'])}</b><span class=\"pt\">{esc(row.peak)}"
                f"</span>{advice}</figcaption>{_history_chart(m, self.v.watched)}</figure>")
        cards.append("</div>")
        w = esc(self.v.watched)
        out = [f'<h3 id="{self.key}-charts">Charts: {w} history of every '
               "REVIEW and DROP model</h3>",
               '<p class="legend">x: update (validation number when the interval is '
               f"unknown); y: {w}. Bands: green meets APPROVED, amber REVIEW, "
               "red DROP (the model's own bounds, dashed). Red dot: the peak; purple line: the "
               "checkpoint to restore; black dot: the final point.</p>"]
        return out + _fold(cards, len(todo), "charts", limit=CHARTS_OPEN_MAX)

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
        rows = ["<table><thead><tr><th>model</th><th>class</th><th>restore</th>"
                f"<th>peak {esc(v.watched)}</th><th>final</th><th>off peak</th></tr>"
                "</thead><tbody>"]
        for c in v.checkpoints:
            rows.append(f"<tr><th>{esc(c.model_id)}</th><td>{_pill(c.classification)}"
                        f"</td><td>{esc(c.restore)}{_path_html(c.path)}</td>"
                        f"<td class=\"n\">{c.peak}</td>"
                        f'<td class="n">{c.final}</td><td class="n">{c.off_peak}</td></tr>')
        rows.append("</tbody></table>")
        return out + _fold(rows, len(v.checkpoints), "checkpoint recommendations")

    def regressions(self) -> list[str]:
        if not self.v.regressions:
            return []
        rows = ["<h3>Regressions against the baseline</h3>",
                "<table><thead><tr><th>model</th><th>metric</th><th>baseline</th>"
                "<th>baseline run</th><th>now</th><th>change</th><th>limit</th></tr></thead>"
                "<tbody>"]
        for r in self.v.regressions:
            rows.append(
                f"<tr><th>{esc(r.model_id)}</th><td>{esc(r.metric)}</td>"
                f'<td class="n">{r.baseline}</td><td><code>{esc(r.run_id)}</code></td>'
                f'<td class="n">{r.value}</td>'
                f'<td class="n d">{esc(r.change)}</td><td class="n">{esc(r.limit)}</td></tr>')
        rows.append("</tbody></table>")
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
        bounds = config_bounds(self.doc, watched)
        cards = ['<div class="cards">']
        for sym in order:
            names = ", ".join(
                f'<span class="k{k % len(LINES)}">━</span> {esc(mid)} '
                f"({esc(index[-1][mid]['classification'])})"
                for k, mid in enumerate(symbols[sym]))
            cards.append(f'<figure><figcaption><b>{esc(sym)}</b><span class="pt">{names}'
                         f"</span></figcaption>"
                         f"{trend_chart(sym, symbols[sym], runs, index, watched, bounds)}"
                         "</figure>")
        cards.append("</div>")
        out.append(f'<p class="legend">{len(runs)} runs, oldest left, this run right; one line '
                   "per model; a dot, coloured by class, at this run and wherever the model's "
                   "class changed.</p>")
        return out + _fold(cards, len(order), "symbols", limit=CHARTS_OPEN_MAX)


def _pill(cls: str | None) -> str:
    if cls is None:
        return "—"
    return f'<span class="badge c-{class_key(cls)}">{esc(cls)}</span>'


def _spark_html(row: ModelRow) -> str:
    spark: Spark = row.spark
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
