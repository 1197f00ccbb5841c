"""Benchmark (issue 2): `model-gate check --format json` against plain-Python JSON round trip.

    .venv/bin/python bench/bench_check.py                 # 50,000 models, 5 repetitions
    .venv/bin/python bench/bench_check.py --models 5000 --repeat 3

Every command runs as a fresh subprocess with stdout to /dev/null, in an empty temporary
directory (so no gate.yaml is picked up: the built-in thresholds gate), interleaved so that
machine noise hits all of them alike:

    check   model-gate check S --format json --no-archive --report <tmp>/report.md
    floor   python -c "import json,sys; json.dump(json.load(open(S)), sys.stdout)"
    dumps   python -c "import json,sys; sys.stdout.write(json.dumps(json.load(open(S))))"

`--before DIR` adds `before`: the check command again with PYTHONPATH=DIR (another version of
the package, a checkout's root folder), in the same rounds. `floor` is the issue's baseline;
`dumps` (one C-encoder call, no chunked writes) is a stricter one, shown for information.
Ratios are of the medians (and of the minima). Goal: check/floor <= 3. `--cpu` times the
children's CPU seconds instead of wall time (steadier on a loaded machine).

PYTHONDONTWRITEBYTECODE is removed from the children's environment (as on a normal machine,
compiled modules are cached) unless --keep-env is given; one warm-up round runs untimed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate import expected_counts, write

GOAL = 3.0
OUT = Path(__file__).resolve().parent / "out"


def model_gate_command() -> list[str]:
    script = Path(sys.executable).parent / "model-gate"
    return [str(script)] if script.exists() else [sys.executable, "-m", "pytest_model_gate.cli"]


def summary_file(n: int) -> Path:
    """The generated summary, cached in bench/out/ (same arguments, same bytes)."""
    OUT.mkdir(exist_ok=True)
    path = OUT / f"summary_{n}.json"
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        write(tmp, n)
        tmp.replace(path)
    return path


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


def run(cmd: list[str], cwd: Path, env: dict[str, str], ok: tuple[int, ...] = (0,)) -> float:
    start = clock()
    proc = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE)
    elapsed = clock() - start
    if proc.returncode not in ok:
        sys.exit(f"{' '.join(cmd)}: exit {proc.returncode}\n{proc.stderr.decode()}")
    return elapsed


def verify(summary: Path, n: int, work: Path, env: dict[str, str]) -> None:
    """One checked run first: the verdicts must be the ones the generator intended."""
    proc = subprocess.run([*model_gate_command(), "check", str(summary), "--format", "json",
                           "--no-archive", "--report", str(work / "report.md")],
                          cwd=work, env=env, capture_output=True)
    doc = json.loads(proc.stdout)
    if proc.returncode not in (0, 1) or doc["counts"] != expected_counts(n):
        sys.exit(f"unexpected verdicts: exit {proc.returncode}, counts {doc.get('counts')}, "
                 f"expected {expected_counts(n)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep-env", action="store_true",
                        help="keep PYTHONDONTWRITEBYTECODE in the children's environment")
    parser.add_argument("--before", metavar="DIR",
                        help="also run check with PYTHONPATH=DIR (another version), paired")
    parser.add_argument("--cpu", action="store_true",
                        help="time the children's CPU seconds (user + system), not wall time")
    args = parser.parse_args(argv)
    global clock
    clock = cpu_clock if args.cpu else wall_clock

    env = child_env(args.keep_env)
    envs = {name: env for name in ("check", "floor", "dumps")}
    if args.before:
        envs["before"] = {**env, "PYTHONPATH": os.path.abspath(args.before)}
    summary = summary_file(args.models)
    with tempfile.TemporaryDirectory(prefix="bench-check-") as tmp:
        work = Path(tmp)
        verify(summary, args.models, work, env)  # also the warm-up of model-gate
        commands = {
            "check": ([*model_gate_command(), "check", str(summary), "--format", "json",
                       "--no-archive", "--report", str(work / "report.md")], (0, 1)),
            "floor": ([sys.executable, "-c", "import json,sys; "
                       f"json.dump(json.load(open({str(summary)!r})), sys.stdout)"], (0,)),
            "dumps": ([sys.executable, "-c", "import json,sys; "
                       f"sys.stdout.write(json.dumps(json.load(open({str(summary)!r}))))"], (0,)),
        }
        if args.before:
            commands["before"] = commands["check"]
        for name, (cmd, ok) in list(commands.items())[1:]:  # warm-up of the others
            run(cmd, work, envs[name], ok)
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.repeat):
            for name, (cmd, ok) in commands.items():
                times[name].append(run(cmd, work, envs[name], ok))

    size = summary.stat().st_size / 1e6
    print(f"model-gate check --format json: {args.models} models, 10-point histories, "
          f"{size:.1f} MB, {args.repeat} repetitions")
    print(f"{'command':<8} {'median s':>9} {'min s':>7} {'median/floor':>13} {'min/floor':>10}")
    floor_med, floor_min = statistics.median(times["floor"]), min(times["floor"])
    for name, ts in times.items():
        med, low = statistics.median(ts), min(ts)
        print(f"{name:<8} {med:>9.2f} {low:>7.2f} {med / floor_med:>12.2f}x "
              f"{low / floor_min:>9.2f}x")
    ratio = statistics.median(times["check"]) / floor_med
    strict = statistics.median(times["check"]) / statistics.median(times["dumps"])
    verdict = "met" if ratio <= GOAL else "NOT met"
    print(f"check/floor = {ratio:.2f}x (goal <= {GOAL:g}x: {verdict}); "
          f"check/dumps = {strict:.2f}x")
    if args.before:
        before = statistics.median(times["before"])
        print(f"before/dumps = {before / statistics.median(times['dumps']):.2f}x; "
              f"check/before = {statistics.median(times['check']) / before:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
