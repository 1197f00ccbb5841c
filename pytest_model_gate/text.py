"""Plain value formatting shared by the pytest messages, the CLI tables and the reports.

No package imports: anything may use it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from json.encoder import encode_basestring
from typing import Any, Literal, get_args

# --- the gate's vocabulary (defined once; the plugin entry point reads it without pydantic) ---

Tier = Literal["APPROVED", "REVIEW", "DROP"]
TIERS: tuple[Tier, ...] = get_args(Tier)
TIER_RANK: dict[str, int] = {t: i for i, t in enumerate(TIERS)}  # APPROVED < REVIEW < DROP

ReviewMode = Literal["xfail", "fail", "pass"]
REVIEW_MODES: tuple[ReviewMode, ...] = get_args(ReviewMode)  # what a REVIEW model is in pytest


def finite(value: Any) -> float | None:
    """A finite number as float; None for anything else (None, NaN, inf, bool, text)."""
    if type(value) is float:  # the usual case; x - x is 0.0 exactly when x is finite
        return value if value - value == 0.0 else None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        as_float = float(value)
    except OverflowError:  # an int too large for a float
        return None
    return as_float if math.isfinite(as_float) else None


def show_value(value: Any) -> str:
    """A value from a user's file as a message quotes it: JSON-like, at most 60 characters;
    an object or a list is named, not dumped."""
    if isinstance(value, str):  # what json.dumps(value, ensure_ascii=False) gives, faster
        text = encode_basestring(value)
    elif isinstance(value, bool):
        return "true" if value else "false"
    elif value is None:
        return "null"
    elif isinstance(value, (dict, list, tuple)):
        return "an object" if isinstance(value, dict) else "a list"
    else:
        try:
            text = json.dumps(value, ensure_ascii=False, default=str)
        except ValueError:  # e.g. an int beyond the str conversion limit
            text = "a number too large to show" if isinstance(value, int) else repr(value)
    if len(text) <= 60:
        return text
    return text[:57] + ('..."' if isinstance(value, str) else "...")


def fmt_value(value: float | None) -> str:
    """A metric value as users wrote it: up to 6 significant digits; 'missing', 'nan', 'inf'."""
    if value is None:
        return "missing"
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.6g}"


def fmt_change(change: float | None, limit: float | None, *, relative: bool = True
               ) -> tuple[str, str]:
    """A regression's change and limit: '20.0% worse', '10.0%'; from a zero baseline
    (absolute change) '0.05 worse (absolute, baseline 0)', '0.1'."""
    if not relative:
        return (f"{fmt_value(change)} worse (absolute, baseline 0)" if change is not None
                else "—", fmt_value(limit) if limit is not None else "—")
    return (f"{change:.1%} worse" if change is not None else "—",
            f"{limit:.1%}" if limit is not None else "—")


def table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> list[str]:
    """Left-aligned plain-text columns, two spaces apart, no trailing spaces.

    One %-format per row: `model-gate history` prints tens of thousands of rows."""
    n = len(header)
    if all(len(row) == n for row in rows):  # the usual case, column by column
        widths = [max(map(len, column)) for column in zip(header, *rows, strict=True)]
    else:  # ragged rows: a short row narrows the table to its columns
        widths = [len(h) for h in header]
        for row in rows:
            widths = [max(w, len(c)) for w, c in zip(widths, row, strict=False)]
        out = ["  ".join(map(str.ljust, header, widths)).rstrip()]
        out.extend("  ".join(map(str.ljust, row, widths)).rstrip() for row in rows)
        return out
    fmt = "  ".join(f"%-{w}s" for w in widths[:-1]) + ("  %s" if n > 1 else "%s")
    return [(fmt % tuple(row)).rstrip() for row in (header, *rows)]


_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_char(ch: str) -> str:
    named = _NAMED_ESCAPES.get(ch)
    if named is not None:
        return named
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def inert(text: str, *, edges: bool = True) -> str:
    """Text from data (an id, a metric name, metadata) made safe for a terminal or CI log.

    Control characters, ANSI escapes, line breaks, invisible and bidi format characters
    (zero-width space, U+061C, U+202E, ...) and non-ASCII spaces are shown as `\\xNN` /
    `\\uNNNN`, as are leading and trailing spaces (so `AAPL_1Hour ` is visibly not
    `AAPL_1Hour`); a leading `::` (a GitHub Actions workflow command) becomes `\\x3a:`.
    Printable text is returned unchanged. `edges=False` leaves leading and trailing spaces
    (a whole line of our own, indented)."""
    if text.isprintable() and (not edges or text.strip(" ") == text) \
            and not text.lstrip(" ").startswith("::"):
        return text  # the usual case
    out = "".join(ch if ch == " " or ch.isprintable() else _escape_char(ch) for ch in text)
    if not edges:
        body = out.lstrip(" ")
        indent = out[:len(out) - len(body)]
        return indent + ("\\x3a" + body[1:] if body.startswith("::") else body)
    stripped = out.lstrip(" ")
    if len(stripped) != len(out):
        out = "\\x20" * (len(out) - len(stripped)) + stripped
    stripped = out.rstrip(" ")
    if len(stripped) != len(out):
        out = stripped + "\\x20" * (len(out) - len(stripped))
    if out.startswith("::"):
        out = "\\x3a" + out[1:]
    return out

