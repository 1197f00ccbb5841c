"""Plain value formatting shared by the pytest messages, the CLI tables and the reports.

No package imports: anything may use it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


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
    """Left-aligned plain-text columns."""
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
