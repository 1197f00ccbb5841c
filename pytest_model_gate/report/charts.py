"""Inline SVG charts for the HTML report: no dependency, no script, deterministic bytes.

A metric chart shows one metric's validation history inside the model's own bands (green
APPROVED, amber REVIEW, red DROP: red means DROP and nothing else), its bounds labelled on the
right, 4-6 labelled ticks on each axis, the final point, and for the watched metric the peak
(a blue ring) and the checkpoint to restore (a purple line labelled with its step in a strip
above the plot, so no bound line crosses the label). A trend chart shows one symbol's models
over the last runs, each dot coloured by that metric's own tier in that run.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from functools import lru_cache

from pytest_model_gate.core.document import MetricRecord, ModelRecord, RunDocument
from pytest_model_gate.report.view import Bounds, all_finite_floats, plain
from pytest_model_gate.text import finite, fmt_value

MAX_POLYLINE = 300
"""Longer histories are drawn from per-bucket min and max (same picture, fewer bytes)."""
LINES = ("#1f5fa8", "#6a3d9a", "#00838f", "#5d4037", "#ad1457", "#37474f")
X_TICKS = 5
Y_TICKS = 4

FRAME_ID = "mg-frame"
HLINE_ID = "mg-h"


def esc(text: object) -> str:
    """Text from a run document, safe in element content and quoted attribute values."""
    value = plain(text)
    if "&" in value or "<" in value or ">" in value or '"' in value or "'" in value:
        return html.escape(value, quote=True)
    return value


def _num(x: float) -> str:
    """An SVG coordinate: one decimal, no trailing zeros."""
    text = f"{x:.1f}"
    return text[:-2] if text.endswith(".0") else text


class Frame:
    """Maps data to the chart box; y grows upwards. The strip above Y0 holds the checkpoint
    label, the margin right of X1 the bound labels, left of X0 the y ticks, below Y1 the x
    ticks."""

    W, H = 300, 132
    X0, X1, Y0, Y1 = 46.0, 258.0, 16.0, 108.0

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


# Drawn once per page and reused by every chart (<use>): the axes and a bound line.
FRAME_DEFS = (
    '<svg class="defs" width="0" height="0" aria-hidden="true"><defs>'
    f'<g id="{FRAME_ID}" class="ax"><line x1="{Frame.X0:g}" x2="{Frame.X0:g}" '
    f'y1="{Frame.Y0:g}" y2="{Frame.Y1:g}"/><line x1="{Frame.X0:g}" x2="{Frame.X1:g}" '
    f'y1="{Frame.Y1:g}" y2="{Frame.Y1:g}"/></g>'
    f'<line id="{HLINE_ID}" x1="{Frame.X0:g}" x2="{Frame.X1:g}" y1="0" y2="0"/></defs></svg>')
SVG_CSS = (
    "svg text{font:10px sans-serif;fill:#4a4f55}text.e{text-anchor:end}"
    "text.m{text-anchor:middle}.ax{stroke:#999}.gr{stroke:#e4e4e4}"
    ".za{fill:#e9f5ea}.zr{fill:#fff3dd}.zd{fill:#fdeaea}"
    ".ta,.tr{stroke-dasharray:4 3}.ta{stroke:#2e7d32}.tr{stroke:#b26a00}"
    "text.ta{fill:#2e7d32;stroke:none}text.tr{fill:#8a5200;stroke:none}"
    ".hl{stroke-width:1.6;stroke-linejoin:round}.tl{stroke-width:1.3}"
    ".pk{fill:#fff;stroke:#1f5fa8;stroke-width:2}.fin{fill:#1b1b1b}"
    ".ck{stroke:#6a1b9a;stroke-width:1.2;stroke-dasharray:2 2}text.ck{fill:#6a1b9a;stroke:none}"
    ".dAPPROVED{fill:#2e7d32}.dREVIEW{fill:#b26a00}.dDROP{fill:#c62828}.dother{fill:#555}"
    "circle.d{stroke:#fff;stroke-width:.8}"
    + "".join(f".l{i}{{stroke:{c}}}" for i, c in enumerate(LINES)))


def _svg_open(f: Frame, label: str) -> list[str]:
    return [f'<svg viewBox="0 0 {f.W} {f.H}" role="img"><title>{esc(label)}</title>']


def _zones(f: Frame, approved: float, review: float, hib: bool) -> list[str]:
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


def _thresholds(f: Frame, approved: float, review: float) -> list[str]:
    """Dashed bound lines, labelled right of the plot; labels pushed 11 px apart."""
    ya, yr = round(f.y(approved)), round(f.y(review))
    la, lr = ya + 3.5, yr + 3.5
    if abs(la - lr) < 11:
        mid = (la + lr) / 2
        la, lr = (mid - 5.5, mid + 5.5) if ya <= yr else (mid + 5.5, mid - 5.5)
    out = []
    for cls, value, y, label_y in (("ta", approved, ya, la), ("tr", review, yr, lr)):
        out.append(f'<use href="#{HLINE_ID}" y="{y}" class="{cls}"/>'
                   f'<text class="{cls}" x="{f.X1 + 3:g}" y="{_num(label_y)}">'
                   f"{_tick(value)}</text>")
    return out


def _tick(v: float) -> str:
    text = f"{v:.4g}"
    return "0" if text == "-0" else text


def nice_ticks(lo: float, hi: float, count: int = Y_TICKS) -> list[float]:
    """Round values (1, 2, 2.5, 5 x 10^k apart) inside [lo, hi], about `count` of them."""
    span = hi - lo
    if not span > 0 or not math.isfinite(span):
        return [lo]
    raw = span / count
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step - 1e-9)
    return [k * step for k in range(first, math.floor(hi / step + 1e-9) + 1)]


def _y_axis(f: Frame) -> list[str]:
    out = [f'<use href="#{FRAME_ID}"/>']
    for v in nice_ticks(f.lo, f.hi):
        y = _num(f.y(v))
        out.append(f'<line class="gr" x1="{f.X0 - 3:g}" x2="{f.X0:g}" y1="{y}" y2="{y}"/>'
                   f'<text x="{f.X0 - 5:g}" y="{_num(f.y(v) + 3.5)}" class="y e">{_tick(v)}'
                   "</text>")
    return out


def x_tick_indices(n: int, count: int = X_TICKS) -> list[int]:
    """Evenly spread indices, first and last included, never two alike."""
    if n <= count:
        return list(range(n))
    return sorted({round(k * (n - 1) / (count - 1)) for k in range(count)})


def _x_axis(f: Frame, labels: Sequence[str]) -> list[str]:
    out = []
    ticks = x_tick_indices(len(labels))
    for i in ticks:
        x = _num(f.x(i))
        # the end ticks' labels lean inwards: clear of the y labels and the bound labels
        anchor = (' class="x m"' if len(ticks) == 1 or 0 < i < len(labels) - 1
                  else ' class="x"' if i == 0 else ' class="x e"')
        out.append(f'<line class="ax" x1="{x}" x2="{x}" y1="{f.Y1:g}" y2="{f.Y1 + 3:g}"/>'
                   f'<text x="{x}" y="{f.Y1 + 14:g}"{anchor}>{esc(labels[i])}</text>')
    return out


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
    """`_num(f.x(i))` for i in range(n), for any Frame of n points (x depends on n only)."""
    f = Frame(n, 0.0, 1.0)
    return tuple(_num(f.x(i)) for i in range(n))


def _polyline(f: Frame, seg: Sequence[tuple[int, float]], cls: str, color: str) -> str:
    """A line through the points; a lone point (between gaps) as a small dot."""
    if len(seg) == 1:
        i, v = seg[0]
        return (f'<circle class="lone" cx="{_num(f.x(i))}" cy="{_num(f.y(v))}" r="2" '
                f'fill="{color}"/>')
    xs = _x_texts(f.n) if f.n > 1 else None
    y1, height, lo, span = f.Y1, f.Y1 - f.Y0, f.lo, f.hi - f.lo
    if xs is not None and seg[0][0] >= 0 and seg[-1][0] < f.n:
        pts = " ".join([xs[i] + "," + f"{y1 - height * (v - lo) / span:.1f}".removesuffix(".0")
                        for i, v in seg])
    else:
        pts = " ".join(f"{_num(f.x(i))},{_num(f.y(v))}" for i, v in seg)
    return f'<polyline class="{cls}" points="{pts}" fill="none" stroke="{color}"/>'


# --- one metric of one model ---------------------------------------------------------------

def metric_history(model: ModelRecord, name: str) -> list[float | None]:
    """What the document knows of a metric's history: its own, else the watched metric's
    (overfitting), else its final value alone."""
    metric = model["metrics"].get(name)
    if metric is not None and metric.get("history"):
        return list(metric["history"])
    if model["overfitting"]["metric"] == name and model["overfitting"]["history"]:
        return list(model["overfitting"]["history"])
    return [metric["value"]] if metric is not None else []


def step_labels(model: ModelRecord, n: int) -> list[str]:
    """x labels: the update of each validation point when the interval is known, else its
    number (1-based)."""
    interval = model["validation_interval"]
    if interval is not None and interval > 0:
        return [str(interval * (i + 1)) for i in range(n)]
    return [str(i + 1) for i in range(n)]


def metric_chart(model: ModelRecord, name: str, *, watched: bool = False) -> str:
    """One metric of one model: history in its bands; peak and checkpoint when `watched`."""
    metric: MetricRecord | None = model["metrics"].get(name)
    raw = metric_history(model, name)
    gaps = not all_finite_floats(raw)
    history: list[float | None] = [finite(v) for v in raw] if gaps else list(raw)
    real = [v for v in history if v is not None]
    if not real:
        return f'<p class="pt">no {esc(name)} value to draw</p>'
    approved = finite(metric["approved"]) if metric else None
    review = finite(metric["review"]) if metric else None
    hib = metric["higher_is_better"] if metric else True
    bounds = [b for b in (approved, review) if b is not None]
    f = Frame(len(history), min(real + bounds), max(real + bounds))
    out = _svg_open(f, f"{name} history of {plain(model['id'])}")
    if approved is not None and review is not None:
        out += _zones(f, approved, review, hib)
    out += _y_axis(f)
    if approved is not None and review is not None:
        out += _thresholds(f, approved, review)
    out += _x_axis(f, step_labels(model, len(history)))
    best = model["best_idx"] if watched else None
    if (watched and model["use_checkpoint"] and best is not None
            and 0 <= best < len(history)):
        x = f.x(best)
        where = model["checkpoint_update"]
        text = f"checkpoint @{where}" if where is not None else f"checkpoint #{best + 1}"
        left = x < (f.X0 + f.X1) / 2
        out.append(f'<line class="ck" x1="{_num(x)}" x2="{_num(x)}" y1="{f.Y0 - 4:g}" '
                   f'y2="{f.Y1:g}"/><text class="ck" x="{_num(x + (3 if left else -3))}" '
                   f'y="{f.Y0 - 5:g}" text-anchor="{"start" if left else "end"}">'
                   f"{esc(text)}</text>")
    points = list(enumerate(history))
    segments = _segments(points) if gaps else [points]
    for seg in segments:
        out.append(_polyline(f, _thin(seg), "hl", LINES[0]))  # type: ignore[arg-type]
    last = max(i for i, v in enumerate(history) if v is not None)
    out.append(f'<circle class="fin" cx="{round(f.x(last))}" '
               f'cy="{round(f.y(history[last] or 0.0))}" r="2.5"/>')
    if best is not None and 0 <= best < len(history) and history[best] is not None:
        peak = history[best] or 0.0
        out.append(f'<circle class="pk" cx="{round(f.x(best))}" cy="{round(f.y(peak))}" '
                   f'r="3.5"><title>peak {esc(fmt_value(peak))} at {best + 1}/{len(history)}'
                   "</title></circle>")
    out.append("</svg>")
    return "".join(out)


def charted_metrics(model: ModelRecord, watched: str) -> list[str]:
    """The metrics a model's chart shows: those that decided its class (in its DROP or REVIEW
    tier), then the watched metric when its history raised a flag; the watched metric alone
    when nothing else explains the class (a regression, `demote`)."""
    cls = model["classification"]
    names = [n for n, m in model["metrics"].items() if m["tier"] == cls and cls != "APPROVED"]
    overfit = {"FITNESS_DECLINE", "UNSTABLE_TRAINING"} & set(model["flags"])
    w = model["overfitting"]["metric"] or watched
    if w and w not in names and (overfit or not names) and w in model["metrics"]:
        names.append(w)
    return names


def history_chart(doc: RunDocument, model: ModelRecord) -> str:
    """The watched metric of one model (peak, bounds, checkpoint)."""
    watched = model["overfitting"]["metric"] or str(doc["config"]["overfitting"].get("metric"))
    return metric_chart(model, watched, watched=True)


# --- trends --------------------------------------------------------------------------------

def trend_chart(symbol: str, model_ids: Sequence[str], runs: Sequence[RunDocument],
                index: Sequence[Mapping[str, ModelRecord]], metric: str,
                bounds: Bounds | None) -> str:
    """One symbol over the last runs: the final `metric` of each of its models; each dot
    coloured by that metric's tier in that run (not the model's class: a model dropped for
    another metric keeps a green dot in the green band)."""
    series: list[list[tuple[int, float | None, str | None]]] = []
    values: list[float] = []
    for mid in model_ids:
        row: list[tuple[int, float | None, str | None]] = []
        for j, by_id in enumerate(index):
            m = by_id.get(mid)
            record = m["metrics"].get(metric) if m is not None else None
            v = finite(record["value"]) if record else None
            row.append((j, v, record["tier"] if record else None))
            if v is not None:
                values.append(v)
        series.append(row)
    if not values:
        return f'<p class="pt">no {esc(metric)} values in these runs</p>'
    extra = [bounds.approved, bounds.review] if bounds is not None else []
    f = Frame(len(runs), min(values + extra), max(values + extra))
    out = _svg_open(f, f"{metric} of {symbol} over the last {len(runs)} runs")
    if bounds is not None:
        out += _zones(f, bounds.approved, bounds.review, bounds.higher_is_better)
    out += _y_axis(f)
    if bounds is not None:
        out += _thresholds(f, bounds.approved, bounds.review)
    out += _x_axis(f, [f"#{j + 1}" for j in range(len(runs))])
    for k, row in enumerate(series):
        for seg in _segments([(j, v) for j, v, _ in row]):
            out.append(_polyline(f, seg, f"tl l{k % len(LINES)}", LINES[k % len(LINES)]))
        before: str | None = None
        for j, v, tier in row:  # a dot where the tier changed, and at this run
            if v is not None and tier is not None and (tier != before or j == len(runs) - 1):
                key = tier if tier in ("APPROVED", "REVIEW", "DROP") else "other"
                out.append(f'<circle class="d d{key}" cx="{round(f.x(j))}" '
                           f'cy="{round(f.y(v))}" r="3"/>')
            before = tier if tier is not None else before
    out.append("</svg>")
    return "".join(out)
