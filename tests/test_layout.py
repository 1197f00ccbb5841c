"""The package layout's import contracts (DESIGN.md "Package layout"), checked on the source.

Every import counts, including those inside functions and under TYPE_CHECKING: a lazy import
is still a dependency a reader has to follow. The graph is read with `ast`, so nothing is
imported to check it.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = "pytest_model_gate"
ROOT = Path(__file__).resolve().parent.parent / PACKAGE

# part -> the parts it may import (besides itself). A part is a top-level module or folder.
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "text": set(),
    "files": set(),
    "core": {"errors", "text"},
    "sources": {"core", "errors", "text"},
    "archive": {"core", "errors", "text", "files"},
    "report": {"core", "errors", "text"},
    "pipeline": {"core", "sources", "archive", "report", "errors", "text", "files"},
    "api": {"pipeline", "core", "sources", "archive", "report", "errors", "text", "files"},
    "plugin": {"pipeline", "core", "sources", "archive", "report", "errors", "text", "files"},
    "cli": {"pipeline", "core", "sources", "archive", "report", "errors", "text", "files"},
    # the package root re-exports the public API lazily, by name
    "__init__": {"api", "core", "archive", "errors"},
}
# Breaks of the contracts still being removed by the redesign (issue 9): each entry is
# "file: what". The tests fail on any break not listed here, and on any listed break that is
# gone (so the list only shrinks). Empty when the redesign is done.
PENDING: set[str] = set()


def check_against_pending(broken: list[str], kind: str) -> None:
    """Fail on a new break, and on a pending entry that is fixed (remove it from PENDING)."""
    found = {_without_line(b) for b in broken}
    pending = {p for p in PENDING if p.startswith("cycle:") == (kind == "cycle")
               and (kind != "private" or " from " in p)
               and (kind != "imports" or " imports " in p)}
    new = sorted(found - PENDING)
    fixed = sorted(pending - found)
    assert not new, "new contract breaks:\n" + "\n".join(new)
    assert not fixed, "fixed: remove from PENDING in tests/test_layout.py:\n" + "\n".join(fixed)


def _without_line(entry: str) -> str:
    head, _, rest = entry.partition(": ")
    return head.rsplit(":", 1)[0] + ": " + rest if not entry.startswith("cycle:") else entry


# Third-party modules a part must never load (report renders without pydantic or storage).
FORBIDDEN_THIRD_PARTY: dict[str, set[str]] = {
    "report": {"pydantic", "fsspec", "s3fs", "filelock", "yaml"},
    "errors": {"pydantic", "yaml"},
    "text": {"pydantic", "yaml"},
    "files": {"pydantic", "yaml"},
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def part_of(module: str) -> str:
    """`pytest_model_gate.core.config` -> `core`; the package itself -> `__init__`."""
    pieces = module.split(".")
    return pieces[1] if len(pieces) > 1 else "__init__"


def imports_of(path: Path) -> Iterator[tuple[str, int, list[str]]]:
    """(absolute module imported, line, names imported from it) for every import in a file."""
    module = module_name(path)
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno, []
        elif isinstance(node, ast.ImportFrom):
            names = [a.name for a in node.names]
            if node.level:
                base = module.split(".")
                if not is_package:
                    base = base[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            yield target, node.lineno, names
            # `from pkg import sub` imports the submodule pkg.sub
            for name in names:
                candidate = f"{target}.{name}"
                if _is_module(candidate):
                    yield candidate, node.lineno, []


def _is_module(name: str) -> bool:
    if not name.startswith(PACKAGE + "."):
        return False
    rel = Path(*name.split(".")[1:])
    return (ROOT / rel).with_suffix(".py").is_file() or (ROOT / rel / "__init__.py").is_file()


def package_files() -> list[Path]:
    return sorted(ROOT.rglob("*.py"))


def graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for path in package_files():
        edges[module_name(path)] = {
            target for target, _, _ in imports_of(path)
            if (target.startswith(PACKAGE + ".") or target == PACKAGE)
            and target != module_name(path)}
    return edges


def test_every_part_imports_only_what_it_may() -> None:
    broken = []
    for path in package_files():
        source = module_name(path)
        part = part_of(source)
        allowed = ALLOWED.get(part)
        assert allowed is not None, f"{source}: part {part!r} is not in the layout (ALLOWED)"
        for target, line, _ in imports_of(path):
            top = target.split(".")[0]
            if top == PACKAGE:
                target_part = part_of(target)
                if target_part != part and target_part not in allowed:
                    broken.append(f"{path.relative_to(ROOT.parent)}:{line}: "
                                  f"{part} imports {target}")
            elif top in FORBIDDEN_THIRD_PARTY.get(part, set()):
                broken.append(f"{path.relative_to(ROOT.parent)}:{line}: {part} imports {top}")
    check_against_pending(broken, "imports")


def test_no_import_cycles() -> None:
    edges = graph()
    # a package's __init__ is imported with any of its submodules: that edge is no cycle
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in edges:
                continue
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt):], nxt])
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [])
    check_against_pending(["cycle: " + " -> ".join(c) for c in cycles], "cycle")


def test_no_import_of_another_modules_private_names() -> None:
    broken = []
    for path in package_files():
        source = module_name(path)
        for target, line, names in imports_of(path):
            if not target.startswith(PACKAGE) or target == source:
                continue
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            if private:
                broken.append(f"{path.relative_to(ROOT.parent)}:{line}: "
                              f"{', '.join(private)} from {target}")
    check_against_pending(broken, "private")


def test_the_checker_sees_imports_inside_functions(tmp_path: Path) -> None:
    """The contract test would be worthless if lazy imports escaped it."""
    fake = ROOT / "archive" / "storage.py"
    found = {t for t, _, _ in imports_of(fake)}
    assert found, "no imports found at all"
    code = ("def f():\n    from pytest_model_gate.report import markdown\n"
            "    from ..report.html import render\n")
    sample = tmp_path / "sample.py"
    sample.write_text(code)
    tree = ast.parse(code)
    inner = [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert len(inner) == 2


@pytest.mark.parametrize("module", [PACKAGE, f"{PACKAGE}.plugin"])
def test_importing_the_package_loads_no_pydantic(module: str) -> None:
    code = (f"import sys, {module}; "
            "print(sorted(m for m in ('pydantic', 'yaml', 'fsspec') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_the_tests_collect_under_importlib_mode() -> None:
    """Helpers are imported by name (pythonpath = tests), so --import-mode=importlib works."""
    repo = ROOT.parent
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--co", "-q", "--import-mode=importlib",
         "-p", "no:cacheprovider", "tests/test_layout.py", "tests/test_archive.py",
         "tests/test_report.py"],
        cwd=repo, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "error" not in proc.stdout.lower().split("\n")[-2]
