"""The part of MLflow's search filter syntax the local stores apply themselves.

`metrics.acc > 0.9 AND params.lr = '0.01' AND tags.team != 'x' AND attributes.status =
'FINISHED'`: clauses of one comparison joined by AND, as in MLflow's own search syntax.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .canonical import fail


@dataclass
class RunFacts:
    attributes: dict[str, Any] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, str] = field(default_factory=dict)
    metrics: Mapping[str, float] = field(default_factory=dict)


_CLAUSE = re.compile(
    r"""\s*(?P<kind>attributes|attribute|attr|run|tags|tag|params|param|metrics|metric)\."""
    r"""(?P<name>`[^`]+`|"[^"]+"|[\w.\-/]+)\s*"""
    r"""(?P<op>!=|>=|<=|=|<|>|(?i:not\s+like)|(?i:ilike)|(?i:like))\s*"""
    r"""(?P<value>'(?:[^']|'')*'|"[^"]*"|[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*""")
_AND = re.compile(r"\s+and\s+", re.IGNORECASE)
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
    ">": operator.gt, ">=": operator.ge}
_KINDS = {"attributes": "attributes", "attribute": "attributes", "attr": "attributes",
          "run": "attributes", "tags": "tags", "tag": "tags", "params": "params",
          "param": "params", "metrics": "metrics", "metric": "metrics"}


def _like(pattern: str, text: str, flags: int = 0) -> bool:
    regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text, flags) is not None


def _literal(raw: str) -> Any:
    if raw[0] in "'\"":
        return raw[1:-1].replace("''", "'")
    return float(raw)


def parse_filter(spec: str, text: str) -> Callable[[RunFacts], bool]:
    tests: list[Callable[[RunFacts], bool]] = []
    for part in _AND.split(text.strip()):
        match = _CLAUSE.fullmatch(part)
        if match is None:
            raise fail(spec, f"cannot read filter clause {part.strip()!r} (expected e.g. "
                             "metrics.acc > 0.9 or tags.team = 'x', joined by AND)")
        kind = _KINDS[match["kind"]]
        name = match["name"].strip('`"')
        op = " ".join(match["op"].lower().split())
        value = _literal(match["value"])
        tests.append(_clause(kind, name, op, value))
    return lambda facts: all(t(facts) for t in tests)


def _clause(kind: str, name: str, op: str, value: Any) -> Callable[[RunFacts], bool]:
    def test(facts: RunFacts) -> bool:
        table: Mapping[str, Any] = getattr(facts, kind)
        if name not in table:
            return False
        have = table[name]
        if op in ("like", "ilike", "not like"):
            hit = _like(str(value), str(have), re.IGNORECASE if op == "ilike" else 0)
            return not hit if op == "not like" else hit
        if isinstance(value, float):
            try:
                have = float(have)
            except (TypeError, ValueError):
                return False
        else:
            have = str(have)
        try:
            return bool(_OPS[op](have, value))
        except TypeError:
            return False
    return test
