"""Shared reading of the CSV logs of Lightning and Keras (UTF-8, header row, sparse cells)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from .canonical import Digests, fail


def read_rows(spec: str, path: Path, digests: Digests) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a CSV log; the delimiter is sniffed among `,` `;` tab."""
    try:
        text = digests.read(path).decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(spec, f"{path}: cannot read ({exc})") from None
    first = text.split("\n", 1)[0]
    delimiter = max(",;\t", key=first.count)
    try:
        rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    except csv.Error as exc:
        raise fail(spec, f"{path}: not a CSV file ({exc})") from None
    rows = [r for r in rows if r]
    if not rows:
        raise fail(spec, f"{path}: empty CSV file (no header row)")
    return [h.strip() for h in rows[0]], rows[1:]


def header_of(path: Path) -> list[str]:
    """The header cells of a CSV file, cheaply (for detection); [] when unreadable."""
    try:
        with path.open(encoding="utf-8-sig", errors="replace") as fh:
            first = fh.readline()
    except OSError:
        return []
    delimiter = max(",;\t", key=first.count)
    return [h.strip() for h in first.strip().split(delimiter)]
