"""Benchmark (issue 3): `pytest --model-gate` against two hand-written pytest equivalents.

    .venv/bin/python bench/bench_plugin.py                     # 2,000 models, 5 repetitions
    .venv/bin/python bench/bench_plugin.py --repeat 9 --profile

One generated summary (a fifth DROP, two fifths REVIEW, the rest APPROVED with the built-in
thresholds). Four fresh `python -m pytest -p no:cacheprovider -q` sessions, each in its own
temporary directory (with an empty pytest.ini, so nothing around it leaks in), interleaved:

    a  plugin    pytest --model-gate s.json --no-model-gate-archive, gate.yaml `archive: null`,
                 `report: null`: the gate alone
    b  +outputs  the same with the archive (a fresh folder every repetition) and the markdown
                 report written
    c  user      what a user would write instead: one @pytest.mark.parametrize test over the
                 models of the same JSON, pytest.xfail() for REVIEW, pytest.fail() for DROP;
                 `-p no:model_gate`
    d  floor     pytest's own floor: a conftest.py with a minimal pytest.File / pytest.Item pair
                 that only computes the tier and fails with a one-line message (REVIEW xfailed
                 through a marker); `-p no:model_gate`

`--before DIR` adds `a0` (and `b0` when b runs): (a) / (b) again with PYTHONPATH=DIR, i.e. another
version of the package (a checkout's root folder) measured paired with this one, in the same
rounds; `--only ad` runs only some of the sessions (the floor d always runs); `--cpu` times the
children's CPU seconds (user + system) instead of wall time, steadier on a loaded machine.

All four must report the same passed / xfailed / failed counts (checked on every run). Printed:
median and minimum wall time of each and the ratios a/d, b/d, a/c. Goals: a/d <= 1.10,
b/d <= 1.25. `--profile` also runs (a) and (b) once under cProfile and lists where the time
spent in pytest_model_gate goes.

PYTHONDONTWRITEBYTECODE is removed from the children's environment unless --keep-env is given:
with it, pytest re-compiles the assertion-rewritten plugin modules (xdist, hypothesis, ...) in
every session, a fixed cost that a normal CI machine does not pay and that would flatter the
ratios. One warm-up round runs untimed.
"""

from __future__ import annotations

import argparse
import os
import pstats
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate import expected_counts, write

GOALS = {"a/d": 1.10, "b/d": 1.25}

# The built-in thresholds, as a user would copy them: key -> (higher is better, approved, review)
THRESHOLDS = '''THRESHOLDS = {
    "fitness_score": (True, 0.70, 0.50),
    "profit_factor": (True, 1.8, 1.3),
    "consistency": (True, 0.85, 0.65),
    "max_drawdown": (False, 0.08, 0.15),
}


def tier(metrics):
    """(tier, reason): the worst tier over the metrics' final values."""
    worst, reasons = "APPROVED", []
    for key, (higher, approved, review) in THRESHOLDS.items():
        values = metrics.get(key)
        value = values[-1] if isinstance(values, list) else values
        ok = (lambda v, b: v >= b) if higher else (lambda v, b: v <= b)
        if value is not None and ok(value, approved):
            continue
        if value is not None and ok(value, review):
            reasons.append(f"{key} {value} misses approved {approved}")
            worst = "DROP" if worst == "DROP" else "REVIEW"
        else:
            reasons.append(f"{key} {value} misses review {review}")
            worst = "DROP"
    return worst, "; ".join(reasons)
'''

USER_TEST = '''import json
from pathlib import Path

import pytest

SUMMARY = json.loads((Path(__file__).parent / "s.json").read_text(encoding="utf-8"))
MODELS = list(SUMMARY["models"].items())

''' + THRESHOLDS + '''

@pytest.mark.parametrize("model_id, model", MODELS, ids=[model_id for model_id, _ in MODELS])
def test_model(model_id, model):
    verdict, reason = tier(model["metrics"])
    if verdict == "DROP":
        pytest.fail(f"{model_id}: DROP: {reason}", pytrace=False)
    if verdict == "REVIEW":
        pytest.xfail(f"{model_id}: REVIEW: {reason}")
'''

FLOOR_CONFTEST = '''import json

import pytest

''' + THRESHOLDS + '''

class GateFailure(Exception):
    pass


def pytest_collect_file(file_path, parent):
    if file_path.suffix == ".json":
        return SummaryFile.from_parent(parent, path=file_path)
    return None


class SummaryFile(pytest.File):
    def collect(self):
        data = json.loads(self.path.read_text(encoding="utf-8"))
        for model_id, model in data["models"].items():
            verdict, reason = tier(model["metrics"])
            yield ModelItem.from_parent(self, name=model_id, verdict=verdict, reason=reason)


class ModelItem(pytest.Item):
    def __init__(self, *, verdict, reason, **kwargs):
        super().__init__(**kwargs)
        self.verdict, self.reason = verdict, reason
        if verdict == "REVIEW":
            self.add_marker(pytest.mark.xfail(reason=reason, raises=GateFailure))

    def runtest(self):
        if self.verdict != "APPROVED":
            raise GateFailure(f"{self.name}: {self.verdict}: {self.reason}")

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, GateFailure):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self):
        return self.path, None, self.name
'''

PYTEST = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q"]
OUTCOME = re.compile(r"(\d+) (passed|failed|xfailed|xpassed|skipped|errors?)\b")


def setup(root: Path, summary: Path) -> dict[str, tuple[Path, list[str]]]:
    """The four session directories and their pytest arguments."""
    variants: dict[str, tuple[Path, list[str]]] = {}
    files = {
        "a": {"gate.yaml": "archive: null\nreport: null\n"},
        "b": {"gate.yaml": "archive: archive\nreport: report.md\n"},
        "c": {"test_models.py": USER_TEST},
        "d": {"conftest.py": FLOOR_CONFTEST},
    }
    args = {
        "a": ["--model-gate", "s.json", "--no-model-gate-archive"],
        "b": ["--model-gate", "s.json"],
        "c": ["-p", "no:model_gate", "test_models.py"],
        "d": ["-p", "no:model_gate", "s.json"],
    }
    for name, extra in files.items():
        folder = root / name
        folder.mkdir()
        shutil.copyfile(summary, folder / "s.json")
        (folder / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
        for fname, text in extra.items():
            (folder / fname).write_text(text, encoding="utf-8")
        variants[name] = (folder, args[name])
    return variants


def outcomes(stdout: str) -> dict[str, int]:
    last = stdout.strip().splitlines()[-1]
    return {kind: int(count) for count, kind in OUTCOME.findall(last)}


def wall_clock() -> float:
    return time.perf_counter()


def cpu_clock() -> float:
    """CPU seconds (user + system) of the finished children: far steadier than wall time
    on a machine that other jobs load, and what a process costs on an idle machine."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


clock = wall_clock


def child_env(keep: bool) -> dict[str, str]:
    env = dict(os.environ)
    if not keep:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def run(name: str, folder: Path, args: list[str], expected: dict[str, int],
        env: dict[str, str]) -> float:
    if name.startswith("b"):  # a fresh archive every time: archiving the same summary is a no-op
        shutil.rmtree(folder / "archive", ignore_errors=True)
        (folder / "report.md").unlink(missing_ok=True)
    start = clock()
    proc = subprocess.run([*PYTEST, *args], cwd=folder, env=env, capture_output=True,
                          text=True)
    elapsed = clock() - start
    got = outcomes(proc.stdout) if proc.stdout.strip() else {}
    if proc.returncode != 1 or got != expected:
        sys.exit(f"({name}) exit {proc.returncode}, outcomes {got}, expected {expected}\n"
                 f"{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    wrote = (folder / "report.md").is_file() and (folder / "archive").is_dir()
    if name.startswith("b") and not wrote:
        sys.exit("(b) wrote no report or archive")
    return elapsed


def profile(name: str, folder: Path, args: list[str], top: int, env: dict[str, str]) -> None:
    """One run of (name) under cProfile; the pytest_model_gate functions by cumulative time."""
    if name == "b":
        shutil.rmtree(folder / "archive", ignore_errors=True)
    prof = folder / f"{name}.prof"
    cmd = [sys.executable, "-m", "cProfile", "-o", str(prof), *PYTEST[1:], *args]
    subprocess.run(cmd, cwd=folder, env=env, capture_output=True, check=False)
    stats = pstats.Stats(str(prof))
    total = stats.total_tt  # type: ignore[attr-defined]
    rows = [(ct, tt, nc, f"{Path(file).name}:{line}({func})")
            for (file, line, func), (_, nc, tt, ct, _) in stats.stats.items()  # type: ignore[attr-defined]
            if "pytest_model_gate" in file]
    rows.sort(reverse=True)
    own = sum(tt for _, tt, _, _ in rows)
    print(f"\nprofile ({name}): total {total:.2f}s under cProfile; tottime inside "
          f"pytest_model_gate {own:.3f}s. Top {top} by cumulative time:")
    print(f"  {'cum s':>7} {'own s':>7} {'calls':>7}  function")
    for ct, tt, nc, where in rows[:top]:
        print(f"  {ct:>7.3f} {tt:>7.3f} {nc:>7}  {where}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="also profile (a) and (b)")
    parser.add_argument("--top", type=int, default=25, help="profile rows to show")
    parser.add_argument("--keep-env", action="store_true",
                        help="keep PYTHONDONTWRITEBYTECODE in the children's environment")
    parser.add_argument("--before", metavar="DIR",
                        help="also run (a) / (b) with PYTHONPATH=DIR (another version), paired")
    parser.add_argument("--only", default="abcd", help="which sessions to run (d always)")
    parser.add_argument("--cpu", action="store_true",
                        help="time the children's CPU seconds (user + system), not wall time")
    args = parser.parse_args(argv)
    global clock
    clock = cpu_clock if args.cpu else wall_clock
    env = child_env(args.keep_env)
    envs = {name: env for name in "abcd"}
    if args.before:
        before_env = {**env, "PYTHONPATH": os.path.abspath(args.before)}
        envs.update({"a0": before_env, "b0": before_env})

    counts = expected_counts(args.models)
    expected = {"passed": counts["APPROVED"], "xfailed": counts["REVIEW"],
                "failed": counts["DROP"]}
    expected = {k: v for k, v in expected.items() if v}
    labels = {"a": "plugin", "b": "+outputs", "c": "user", "d": "floor",
              "a0": "before", "b0": "+out, bef"}
    with tempfile.TemporaryDirectory(prefix="bench-plugin-") as tmp:
        root = Path(tmp)
        summary = write(root / "s.json", args.models)
        variants = {name: v for name, v in setup(root, summary).items()
                    if name in args.only or name == "d"}
        if args.before:
            for name in [n for n in variants if n in "ab"]:
                folder = root / f"{name}0"
                shutil.copytree(variants[name][0], folder)
                variants[f"{name}0"] = (folder, variants[name][1])
        for name, (folder, extra) in variants.items():  # warm-up (disk cache, .pyc files)
            run(name, folder, extra, expected, envs[name])
        times: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(args.repeat):
            for name, (folder, extra) in variants.items():
                times[name].append(run(name, folder, extra, expected, envs[name]))

        print(f"pytest --model-gate: {args.models} models ({counts['APPROVED']} APPROVED, "
              f"{counts['REVIEW']} REVIEW, {counts['DROP']} DROP), {args.repeat} repetitions, "
              f"same outcomes in all four: {expected}")
        med = {n: statistics.median(ts) for n, ts in times.items()}
        low = {n: min(ts) for n, ts in times.items()}
        print(f"{'':<3}{'session':<10} {'median s':>9} {'min s':>7} {'median/d':>9}")
        for name in variants:
            print(f"{name:<3}{labels[name]:<10} {med[name]:>9.3f} {low[name]:>7.3f} "
                  f"{med[name] / med['d']:>8.3f}x")
        pairs = {"a/d": ("a", "d"), "b/d": ("b", "d"), "a/c": ("a", "c"),
                 "a0/d": ("a0", "d"), "b0/d": ("b0", "d"), "a/a0": ("a", "a0")}
        for pair, (x, y) in pairs.items():
            if x not in med or y not in med:
                continue
            over = [tx - ty for tx, ty in zip(times[x], times[y], strict=True)]
            goal = GOALS.get(pair)
            note = "" if goal is None else (
                f"  (goal <= {goal:.2f}: {'met' if med[x] / med[y] <= goal else 'NOT met'})")
            print(f"{pair} = {med[x] / med[y]:.3f} median, {low[x] / low[y]:.3f} min; "
                  f"{x} - {y} = {statistics.median(over):+.3f} s median of the paired "
                  f"differences, {min(over):+.3f} s min{note}")

        if args.profile:
            for name in [n for n in ("a", "b") if n in variants]:
                folder, extra = variants[name]
                profile(name, folder, extra, args.top, env)
    return 0


if __name__ == "__main__":
    sys.exit(main())
