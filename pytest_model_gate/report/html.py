"""Run documents -> one self-contained HTML file (inline CSS, inline SVG, no script, no network).

The same content as the markdown report plus pictures: a chart per REVIEW/DROP model (watched
history, peak, APPROVED/REVIEW bounds, recommended checkpoint) and per-symbol trends over the
last archived runs. Charts are plain SVG written here: no dependency, no JavaScript (so the page
also works where scripts are blocked: CI artifact viewers with a strict CSP, mail, print),
deterministic bytes, and a few hundred bytes per chart, which keeps a 10,000-model page light.
Every piece of text from the run document goes through `html.escape`.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from pytest_model_gate.report.markdown import (
    _FLOAT_ONLY,
    _RANK,
    CHANGE_KINDS,
    CLASS_ORDER,
    COLLAPSE_AT,
    ReportSection,
    _atomic_write,
    _DocFacts,
    _peak_text,
    by_class,
    change_counts,
    class_counts,
    compare_runs,
    default_bounds,
    metadata_items,
    metric_cell_facts,
    metric_names,
    models,
    plain,
    plural,
    regression_change,
    restore_text,
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


def esc(text: Any) -> str:
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


def _cls(name: Any) -> str:
    return str(name) if str(name) in _RANK else "other"


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


def history_chart(doc: Mapping[str, Any], model: Mapping[str, Any]) -> str:
    """The watched history of one model, with peak, bounds and recommended checkpoint."""
    return _history_chart(_DocFacts(doc), model)


def _history_chart(facts: _DocFacts, model: Mapping[str, Any]) -> str:
    of = model.get("overfitting") or {}
    name = str(of.get("metric") or facts.watched() or "")
    spec = (model.get("metrics") or {}).get(name) or {}
    raw = of.get("history") or []
    history: list[float | None]
    gaps = True
    if _FLOAT_ONLY.issuperset(map(type, raw)) and (total := sum(raw)) - total == 0.0:
        history = list(raw)  # all finite floats (a non-finite one makes the sum non-finite)
        real: list[float] = history  # type: ignore[assignment]
        gaps = False
    else:
        history = [finite(v) for v in raw]
        real = [v for v in history if v is not None]
    if not real:
        return f'<p class="pt">no {esc(name)} history to draw</p>'
    approved, review = finite(spec.get("approved")), finite(spec.get("review"))
    hib = bool(spec.get("higher_is_better", True))
    bounds = [b for b in (approved, review) if b is not None]
    f = _Frame(len(history), min(real + bounds), max(real + bounds))
    best = model.get("best_idx")
    interval = model.get("validation_interval")
    out = _svg_open(f, f"{name} history of {plain(model.get('id'))}")
    if approved is not None and review is not None:
        out += _zones(f, approved, review, hib)
        out += _thresholds(f, approved, review)
    if isinstance(interval, int) and interval > 0:
        out += _axes(f, str(interval), str(interval * len(history)))
    else:
        out += _axes(f, "1", str(len(history)))
    if model.get("use_checkpoint") and isinstance(best, int) and 0 <= best < len(history):
        x = f.x(best)
        where = model.get("checkpoint_update")
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
    if isinstance(best, int) and 0 <= best < len(history) and history[best] is not None:
        peak = history[best] or 0.0
        out.append(f'<circle class="pk" cx="{round(f.x(best))}" cy="{round(f.y(peak))}" '
                   f'r="3.8"><title>peak {esc(fmt_value(peak))} at {best + 1}/{len(history)}'
                   "</title></circle>")
    out.append("</svg>")
    return "".join(out)


def trend_chart(symbol: str, model_ids: Sequence[str], runs: Sequence[Mapping[str, Any]],
                index: Sequence[Mapping[str, Mapping[str, Any]]], metric: str,
                bounds: tuple[float, float, bool] | None) -> str:
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
            v = finite(((m.get("metrics") or {}).get(metric) or {}).get("value"))
            row.append((j, v, str(m.get("classification"))))
            if v is not None:
                values.append(v)
        series.append(row)
    if not values:
        return f'<p class="pt">no {esc(metric)} values in these runs</p>'
    extra = [bounds[0], bounds[1]] if bounds is not None else []
    f = _Frame(len(runs), min(values + extra), max(values + extra))
    out = _svg_open(f, f"{metric} of {symbol} over the last {len(runs)} runs")
    if bounds is not None:
        out += _zones(f, bounds[0], bounds[1], bounds[2])
        out += _thresholds(f, bounds[0], bounds[1])
    out += _axes(f, str(runs[0].get("run_id") or "run 1")[:15], "this run")
    for k, row in enumerate(series):
        for seg in _segments([(j, v) for j, v, _ in row]):
            out.append(_polyline(f, seg, f"tl l{k % len(LINES)}", LINES[k % len(LINES)]))
        before: str | None = None
        for j, v, cls in row:  # a dot where the class changed, and at this run
            if v is not None and cls is not None and (cls != before or j == len(runs) - 1):
                out.append(f'<circle class="d d{_cls(cls)}" cx="{round(f.x(j))}" '
                           f'cy="{round(f.y(v))}" r="3"/>')
            before = cls if cls is not None else before
    out.append("</svg>")
    return "".join(out)


# --- page ----------------------------------------------------------------------------------

def render_html(sections: Sequence[ReportSection]) -> str:
    total = dict.fromkeys(CLASS_ORDER, 0)
    for s in sections:
        for c, n in class_counts(s.document).items():
            total[c] += n
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
        out += _HtmlSection(section, f"s{k}").render()
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


class _HtmlSection:
    def __init__(self, section: ReportSection, key: str) -> None:
        self.s = section
        self.doc = section.document
        self.key = key
        self.facts = _DocFacts(self.doc)
        self.names = metric_names(self.doc)
        self.watched = watched_metric(self.doc) or "watched"
        self._sparks: dict[int, tuple[str, int | None, int, int]] = {}
        self._flag_text: dict[str, str] = {}
        self.charted: dict[int, str] = {}  # position of a REVIEW/DROP model -> its chart anchor
        for i, m in enumerate(models(self.doc)):
            if m.get("classification") in ("REVIEW", "DROP"):
                self.charted[i] = f"{key}-c{i}"

    def render(self) -> list[str]:
        out = [f'<section id="{self.key}">']
        out += self.header()
        out += self.nav()
        out += self.changes()
        out += self.legend()
        positions = {id(m): i for i, m in enumerate(models(self.doc))}
        groups = by_class(self.doc)
        for cls in [*CLASS_ORDER, *(c for c in groups if c not in _RANK)]:
            rows = groups.get(cls, [])
            if rows:
                out += self.class_table(cls, rows, positions)
        out += self.charts()
        out += self.checkpoints()
        out += self.regressions()
        out += self.trends()
        out.append("</section>")
        return out

    def header(self) -> list[str]:
        doc = self.doc
        info = doc.get("summary") or {}
        items = [("Run", f"<code>{esc(doc['run_id'])}</code>" if doc.get("run_id")
                  else "not archived"),
                 ("Summary", f"{esc(info.get('path', '?'))}, sha256 "
                             f"<code>{esc(info.get('sha256', '?'))}</code>"),
                 ("Config", f"sha256 <code>{esc(doc.get('config_sha256', '?'))}</code>")]
        items += [(k, esc(v)) for k, v in metadata_items(doc)]
        if self.s.previous is not None:
            items.append(("Previous run", f"<code>{esc(self.s.previous.get('run_id', '?'))}"
                                          "</code>"))
        c = class_counts(doc)
        return [f"<h2>{esc(info.get('path', 'summary'))}</h2>",
                f"<p>{_badges(c)}of {sum(c.values())} models</p>",
                '<dl class="meta">' + "".join(f"<dt>{esc(k)}</dt><dd>{v}</dd>"
                                              for k, v in items) + "</dl>"]

    def nav(self) -> list[str]:
        groups = by_class(self.doc)
        links = [(f"{self.key}-changes", "changes")]
        links += [(f"{self.key}-{_cls(c)}", f"{c} ({len(groups[c])})") for c in CLASS_ORDER
                  if groups.get(c)]
        if self.charted:
            links.append((f"{self.key}-charts", "charts"))
        links += [(f"{self.key}-checkpoints", "checkpoints"), (f"{self.key}-trends", "trends")]
        return ['<p class="legend">Jump to: ' + " · ".join(
            f'<a href="#{a}">{esc(t)}</a>' for a, t in links) + "</p>"]

    def changes(self) -> list[str]:
        out = [f'<h3 id="{self.key}-changes">Changes since the previous archived run</h3>']
        prev = self.s.previous
        if prev is None:
            text = ("No previous archived run to compare with." if self.doc.get("run_id")
                    else "Not archived: no previous run to compare with.")
            return [*out, f"<p>{text}</p>"]
        changes = compare_runs(self.doc, prev)
        n = change_counts(changes)
        unchanged = len(models(self.doc)) - sum(n[k] for k in CHANGE_KINDS if k != "vanished")
        out.append(f"<p>Compared with run <code>{esc(prev.get('run_id', '?'))}</code>: "
                   + ", ".join(esc(plural(n[k], k)) for k in CHANGE_KINDS)
                   + f"; {unchanged} unchanged.</p>")
        if prev.get("config_sha256") != self.doc.get("config_sha256"):
            out.append("<p>The gating config changed since then (sha256 "
                       f"<code>{esc(str(prev.get('config_sha256', '?'))[:12])}</code> → "
                       f"<code>{esc(str(self.doc.get('config_sha256', '?'))[:12])}</code>): "
                       "some changes may come from it.</p>")
        if changes:
            rows = ["<table><thead><tr><th>change</th><th>model</th><th>was</th><th>now</th>"
                    "</tr></thead><tbody>"]
            for c in changes:
                rows.append(f"<tr><td>{esc(c.kind)}</td><th>{esc(c.model_id)}</th>"
                            f"<td>{_pill(c.before)}</td><td>{_pill(c.after)}</td></tr>")
            rows.append("</tbody></table>")
            out += _fold(rows, len(changes), "changes")
        return out

    def legend(self) -> list[str]:
        bounds = []
        for name in self.names:
            b = self.facts.bounds(name)
            if b is not None:
                op = "≥" if b[2] else "≤"
                bounds.append(f"{esc(name)} {op} {b[0]:g} / {b[1]:g}")
        text = ('<p class="legend">Cells: <span class="badge c-REVIEW">⚠</span>misses the '
                'APPROVED bound, <span class="badge c-DROP">✗</span>misses the REVIEW bound; '
                "† bounds from an override; Δ change from the baseline run (bold: a "
                "regression); the red mark in a history is its peak.")
        if bounds:
            text += " Bounds (APPROVED / REVIEW): " + ", ".join(bounds) + "."
        return [text + "</p>"]

    def metric_cells(self, model: Mapping[str, Any],
                     names: list[tuple[str, tuple[float, float] | None]]) -> str:
        """The model's cells for each metric of `names` (`_DocFacts.name_bounds`)."""
        cells = []
        for facts in metric_cell_facts(model, names):
            if facts is None:
                cells.append('<td class="n">—</td>')
                continue
            text = facts.value if facts.status == "ok" else esc(facts.status)
            if facts.overridden:
                text += " †"
            tier = facts.tier if type(facts.tier) is str else str(facts.tier)
            text += _TIER_MARK.get(tier, "")
            if facts.delta is not None:
                text += f" <b>{facts.delta}</b>" if facts.regressed else f" {facts.delta}"
            cells.append(f'<td class="{_TIER_CSS.get(tier, "n")}">{text}</td>')
        return "".join(cells)

    def flags_cell(self, flags: Any) -> str:
        joined = ", ".join(map(str, flags or []))
        text = self._flag_text.get(joined)
        if text is None:
            text = self._flag_text[joined] = esc(joined) or "—"
        return text

    def spark(self, model: Mapping[str, Any]) -> tuple[str, int | None, int, int]:
        """`model_spark(doc, model)` as a tuple, computed once per model (table and chart)."""
        spark = self._sparks.get(id(model))
        if spark is None:
            spark = self._sparks[id(model)] = self.facts.spark(model)
        return spark

    def class_table(self, cls: str, rows: list[Mapping[str, Any]],
                    positions: Mapping[int, int]) -> list[str]:
        head = ("<table><thead><tr><th>model</th>"
                + "".join(f"<th>{esc(n)}</th>" for n in self.names)
                + f"<th>flags</th><th>{esc(self.watched)} history</th></tr></thead><tbody>")
        lines = [head]
        names = self.facts.name_bounds(self.names)
        for model in rows:
            anchor = self.charted.get(positions.get(id(model), -1))
            name = esc(model.get("id"))
            if anchor:
                name = f'<a href="#{anchor}">{name}</a>'
            spark = self.spark(model)
            lines.append(
                f'<tr class="m"><th>{name}</th>'
                + self.metric_cells(model, names)
                + f'<td class="f">{self.flags_cell(model.get("flags"))}'
                + f"</td><td>{_spark_html(model, spark)}</td></tr>")
        lines.append("</tbody></table>")
        out = [f'<h3 id="{self.key}-{_cls(cls)}">{esc(cls)} ({len(rows)})</h3>']
        out += _fold(lines, len(rows), f"{cls} models") if cls == "APPROVED" else lines
        return out

    def charts(self) -> list[str]:
        todo = [(i, m) for i, m in enumerate(models(self.doc)) if i in self.charted]
        if not todo:
            return []
        todo.sort(key=lambda p: -_RANK.get(str(p[1].get("classification")), 0))
        cards = ['<div class="cards">']
        for i, m in todo:
            cls = _cls(m.get("classification"))
            spark = self.spark(m)
            advice = (f"<span class=\"pt\">restore {esc(restore_text(m))}</span>"
                      if m.get("use_checkpoint") else "")
            cards.append(
                f'<figure id="{self.charted[i]}"><figcaption>'
                f'<span class="badge c-{cls}">{esc(m.get("classification"))}</span>'
                f"<b>{esc(m.get('id'))}</b><span class=\"pt\">{esc(_peak_text(m, *spark[1:]))}"
                f"</span>{advice}</figcaption>{_history_chart(self.facts, m)}</figure>")
        cards.append("</div>")
        out = [f'<h3 id="{self.key}-charts">Charts: {esc(self.watched)} history of every '
               "REVIEW and DROP model</h3>",
               '<p class="legend">x: update (validation number when the interval is '
               f"unknown); y: {esc(self.watched)}. Bands: green meets APPROVED, amber REVIEW, "
               "red DROP (the model's own bounds, dashed). Red dot: the peak; purple line: the "
               "checkpoint to restore; black dot: the final point.</p>"]
        return out + _fold(cards, len(todo), "charts", limit=CHARTS_OPEN_MAX)

    def checkpoints(self) -> list[str]:
        advice = [m for m in models(self.doc) if m.get("use_checkpoint")]
        out = [f'<h3 id="{self.key}-checkpoints">Checkpoints</h3>']
        if not advice:
            return [*out, "<p>No model needs an earlier checkpoint.</p>"]
        threshold = finite(((self.doc.get("config") or {}).get("overfitting") or {})
                           .get("decline_threshold"))
        by = f"more than {threshold:.0%}" if threshold is not None else "too far"
        out.append(f"<p>{plural(len(advice), 'model')} ended {by} below their peak "
                   f"{esc(self.watched)}: restore the checkpoint of the peak before "
                   "deploying.</p>")
        rows = ["<table><thead><tr><th>model</th><th>class</th><th>restore</th>"
                f"<th>peak {esc(self.watched)}</th><th>final</th><th>off peak</th></tr>"
                "</thead><tbody>"]
        for m in advice:
            of = m.get("overfitting") or {}
            name = of.get("metric") or self.watched
            final = finite(((m.get("metrics") or {}).get(name) or {}).get("value"))
            decline = finite(of.get("decline"))
            rows.append(f"<tr><th>{esc(m.get('id'))}</th><td>{_pill(m.get('classification'))}"
                        f"</td><td>{esc(restore_text(m))}</td>"
                        f'<td class="n">{fmt_value(finite(of.get("peak")))}</td>'
                        f'<td class="n">{fmt_value(final)}</td><td class="n">'
                        f"{f'{decline:.1%}' if decline is not None else '—'}</td></tr>")
        rows.append("</tbody></table>")
        return out + _fold(rows, len(advice), "checkpoint recommendations")

    def regressions(self) -> list[str]:
        found = [(m, r) for m in models(self.doc) for r in m.get("regressions") or []]
        if not found:
            return []
        rows = ["<h3>Regressions against the baseline</h3>",
                "<table><thead><tr><th>model</th><th>metric</th><th>baseline</th>"
                "<th>baseline run</th><th>now</th><th>change</th><th>limit</th></tr></thead>"
                "<tbody>"]
        for m, r in found:
            change, limit = regression_change(r)
            rows.append(
                f"<tr><th>{esc(m.get('id'))}</th><td>{esc(r.get('metric'))}</td>"
                f'<td class="n">{fmt_value(finite(r.get("baseline")))}</td>'
                f"<td><code>{esc(r.get('run_id', '?'))}</code></td>"
                f'<td class="n">{fmt_value(finite(r.get("value")))}</td>'
                f'<td class="n d">{esc(change)}</td><td class="n">{esc(limit)}</td></tr>')
        rows.append("</tbody></table>")
        return rows

    def trends(self) -> list[str]:
        out = [f'<h3 id="{self.key}-trends">Trends per symbol: final {esc(self.watched)} over '
               "the last archived runs</h3>"]
        runs = [*list(self.s.history)[-(TREND_RUNS - 1):], self.doc]
        if len(runs) < 2:
            return [*out, "<p>No earlier archived runs: trends start with the second archived "
                          "run.</p>"]
        index = [{str(m.get("id")): m for m in models(r)} for r in runs]
        symbols: dict[str, list[str]] = {}
        worst: dict[str, int] = {}
        for m in models(self.doc):
            mid = str(m.get("id"))
            sym = str(m.get("symbol") or mid.split("_", 1)[0])
            symbols.setdefault(sym, []).append(mid)
            worst[sym] = max(worst.get(sym, 0), _RANK.get(str(m.get("classification")), 0))
        order = sorted(symbols, key=lambda s: (-worst[s], s))
        bounds = default_bounds(self.doc, self.watched)
        cards = ['<div class="cards">']
        for sym in order:
            names = ", ".join(
                f'<span class="k{k % len(LINES)}">━</span> {esc(mid)} '
                f"({esc(index[-1][mid].get('classification'))})"
                for k, mid in enumerate(symbols[sym]))
            cards.append(f'<figure><figcaption><b>{esc(sym)}</b><span class="pt">{names}'
                         f"</span></figcaption>"
                         f"{trend_chart(sym, symbols[sym], runs, index, self.watched, bounds)}"
                         "</figure>")
        cards.append("</div>")
        out.append(f'<p class="legend">{len(runs)} runs, oldest left, this run right; one line '
                   "per model; a dot, coloured by class, at this run and wherever the model's "
                   "class changed.</p>")
        return out + _fold(cards, len(order), "symbols", limit=CHARTS_OPEN_MAX)


def _pill(cls: Any) -> str:
    if cls is None:
        return "—"
    return f'<span class="badge c-{_cls(cls)}">{esc(cls)}</span>'


def _spark_html(model: Mapping[str, Any], spark: tuple[str, int | None, int, int]) -> str:
    chars, peak_pos, points, bucket = spark
    if not points:
        return '<span class="pt">no history</span>'
    if peak_pos is not None:
        p = peak_pos
        chars = f"{chars[:p]}<b>{chars[p]}</b>{chars[p + 1:]}"
    peak = esc(_peak_text(model, peak_pos, points, bucket))
    return f'<span class="sp">{chars}</span> <span class="pt">{peak}</span>'


def write_html(path: str | Path, sections: Sequence[ReportSection]) -> None:
    _atomic_write(path, render_html(sections))
