"""Reading untrusted input files within bounds: time, memory and stack stay small whatever
the file holds (a device, a FIFO, gigabytes, a YAML alias bomb, 100,000 nested lists).

Each function raises `InputLimit` with a plain message; callers wrap it into their own
error type (SummaryError, ConfigError) naming the file.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

DEFAULT_MAX_BYTES = 256 * 1024 * 1024  # a summary of 500,000 models is about 250 MB
MAX_BYTES_ENV = "MODEL_GATE_MAX_SUMMARY_BYTES"
MAX_DEPTH = 100  # nesting levels of a summary or gate.yaml (real ones use fewer than 10)
MAX_YAML_NODES_PER_BYTE = 20  # aliases may repeat a node; its expanded size stays bounded
MIN_YAML_NODE_BUDGET = 100_000


class InputLimit(Exception):
    """The input is refused by a bound (kind, size, nesting, aliases, numbers)."""


def max_bytes_from_env(default: int = DEFAULT_MAX_BYTES) -> int:
    value = os.environ.get(MAX_BYTES_ENV)
    if not value:
        return default
    try:
        limit = int(value)
    except ValueError:
        raise InputLimit(f"{MAX_BYTES_ENV}={value!r} is not a whole number of bytes") from None
    if limit < 1:
        raise InputLimit(f"{MAX_BYTES_ENV}={value!r} must be at least 1")
    return limit


def read_bounded(path: str | Path, max_bytes: int, *, what: str = "file",
                 setting: str = MAX_BYTES_ENV) -> bytes:
    """The bytes of a regular file of at most `max_bytes`.

    A device (/dev/zero), a FIFO or a socket is refused before it is read (one would never
    end, the other blocks forever); a larger file is refused after reading one byte more
    than the limit, never in full. OSError (not found, a directory, no permission) passes
    through for the caller's message."""
    st = os.stat(path)  # follows symlinks: a linked summary is read as its target
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(21, "Is a directory", str(path))
    if not stat.S_ISREG(st.st_mode):
        raise InputLimit(f"not a regular {what} (a device, FIFO or socket): refused")
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # swapped between stat and open
            raise InputLimit(f"not a regular {what} (a device, FIFO or socket): refused")
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(max_bytes + 1)
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise InputLimit(f"larger than the limit of {max_bytes:,} bytes: refused (raise it "
                         f"with {setting} if the file is genuine)")
    return data


@contextlib.contextmanager
def bounded_recursion(levels: int) -> Iterator[None]:
    """Let the code inside recurse at most about `levels` frames deeper than here, so a
    deeply nested input fails fast with RecursionError instead of exhausting the stack."""
    depth = 0
    frame = sys._getframe()
    while frame is not None:
        depth += 1
        frame = frame.f_back  # type: ignore[assignment]
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(min(old, depth + levels))
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def load_yaml(text: str, loader: type[yaml.SafeLoader] = yaml.SafeLoader
              ) -> tuple[Any, yaml.Node | None]:
    """(data, root node) of a YAML document, with aliases and nesting bounded.

    The node graph is composed once; its size with every alias expanded is counted (each
    distinct node once, so the count itself is cheap) and refused beyond a budget in
    proportion to the text, before anything walks it expanded. Raises InputLimit, or
    yaml.YAMLError for bad syntax; a number PyYAML cannot convert becomes InputLimit."""
    budget = max(MIN_YAML_NODE_BUDGET, MAX_YAML_NODES_PER_BYTE * len(text))
    instance = loader(text)
    try:
        with bounded_recursion(8 * MAX_DEPTH):
            try:
                node = instance.get_single_node()
            except RecursionError:
                raise InputLimit(f"nested more than {MAX_DEPTH} levels deep") from None
            if node is None:
                return None, None
            size = expanded_size(node, budget)
            if size > budget:
                raise InputLimit(f"YAML aliases expand to more than {budget:,} nodes (an "
                                 "alias bomb?): refused")
            try:
                return instance.construct_document(node), node
            except RecursionError:
                raise InputLimit(f"nested more than {MAX_DEPTH} levels deep") from None
            except (ValueError, OverflowError) as exc:  # e.g. int beyond 4,300 digits
                raise InputLimit(f"a number cannot be read: {number_problem(exc)}") from None
    finally:
        instance.dispose()


def expanded_size(root: yaml.Node, budget: int) -> int:
    """Nodes in the document with aliases expanded (stops counting past `budget`); also
    refuses nesting deeper than MAX_DEPTH. Iterative: no recursion on hostile input."""
    sizes: dict[int, int] = {}
    stack: list[tuple[yaml.Node, int, bool]] = [(root, 1, False)]
    while stack:
        node, depth, done = stack.pop()
        if id(node) in sizes and not done:
            continue
        if depth > MAX_DEPTH:
            raise InputLimit(f"nested more than {MAX_DEPTH} levels deep")
        children = _children(node)
        if done or not children:
            total = 1 + sum(sizes.get(id(c), 1) for c in children)
            sizes[id(node)] = min(total, budget + 1)
            continue
        stack.append((node, depth, True))
        stack.extend((c, depth + 1, False) for c in children if id(c) not in sizes)
    return sizes[id(root)]


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def number_problem(exc: BaseException) -> str:
    """A conversion error in words: Python's own message names a function users never call."""
    text = str(exc).split("\n", 1)[0]
    if "digits" in text:
        return f"an integer has more than {sys.get_int_max_str_digits():,} digits"
    return text if len(text) <= 100 else text[:97] + "..."
