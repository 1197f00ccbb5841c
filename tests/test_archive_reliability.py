"""Archive reliability with real processes: concurrent writers, and writers SIGKILLed mid-write.

Each writer is `archive_writer.py` in its own interpreter; it prints every run id it got back,
so "printed" runs are runs the API reported as archived.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from archive_checks import all_files, check_archive, expected_history
from archive_writer import make_summary

from pytest_model_gate.api import TrainingArchiveManager
from pytest_model_gate.archive.index import RUN_ID_RE
from pytest_model_gate.core.gating import assess_all, counts
from pytest_model_gate.core.summary import parse_summary

WRITER = Path(__file__).with_name("archive_writer.py")
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def _spawn(url: str, writer: int, count: int, *, crash_after: int = 0,
           seed: int = 0) -> subprocess.Popen[str]:
    argv = [sys.executable, str(WRITER), url, str(writer), str(count),
            "--crash-after", str(crash_after), "--seed", str(seed)]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ))


def _ids(out: str) -> set[str]:
    return {ln for ln in out.split() if RUN_ID_RE.match(ln)}


def _url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if backend == "local":
        return str(tmp_path / "archive")
    url: str = request.getfixturevalue("s3_url")
    return url


@pytest.mark.slow
@pytest.mark.parametrize("backend, writers, runs", [("local", 8, 25), ("s3", 4, 10)])
def test_concurrent_writers_lose_nothing(backend: str, writers: int, runs: int, tmp_path: Path,
                                         request: pytest.FixtureRequest) -> None:
    url = _url(backend, tmp_path, request)
    procs = [_spawn(url, w, runs) for w in range(writers)]
    printed: set[str] = set()
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        printed |= _ids(out)
    assert len(printed) == writers * runs
    manager = TrainingArchiveManager(url)
    ids = check_archive(manager)
    assert set(ids) == printed
    index = json.loads(manager.storage.read("index.json"))
    assert sorted(r["run_id"] for r in index["runs"]) == sorted(printed)  # index.json too
    if backend == "local":  # and the history shards cover every run
        projected = [line.split()[0] for line in
                     manager.storage.read("views/v3/projected.log").decode().splitlines()]
        assert sorted(projected) == sorted(printed)
    for rid in ids:  # counts right: each run's verdicts are those of its summary
        doc = manager.load_document(rid)
        meta = doc["summary"]
        expected = make_summary(meta["writer"], meta["i"])
        assert json.loads(manager.load_summary_bytes(rid)) == expected
        summary = parse_summary(expected)
        assert doc["counts"] == counts(assess_all(summary.models, manager.config))
    history = manager.get_symbol_history("AAPL")
    assert len(history) == writers * runs
    assert history == expected_history(manager)["AAPL"]
    assert manager.reindex() == writers * runs
    check_archive(manager, strict=True)


def _kill_round(url: str, rng: random.Random, n: int) -> tuple[set[str], str]:
    """One writer, killed either after a random delay or at a random storage operation."""
    if n % 2 == 0:
        proc = _spawn(url, 1000 + n, 0)
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, 0.3))
        proc.send_signal(signal.SIGKILL)
        how = "timer"
    else:
        proc = _spawn(url, 1000 + n, 0, crash_after=rng.randint(1, 40), seed=n)
        how = "operation"
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL, err
    return _ids(out), how


def _crash_rounds(url: str, rounds: int, seed: int, *, require_debris: bool) -> None:
    rng = random.Random(seed)
    printed: set[str] = set()
    kills = 0
    for n in range(rounds):
        got, _how = _kill_round(url, rng, n)
        kills += 1
        printed |= got
        manager = TrainingArchiveManager(url)  # the archive opens
        ids = check_archive(manager)  # only complete runs are listed
        assert printed <= set(ids)
        expected = expected_history(manager)
        for symbol in expected:
            assert manager.get_symbol_history(symbol) == expected[symbol]
    assert kills >= rounds
    manager = TrainingArchiveManager(url)
    before = manager.run_ids()
    files = all_files(manager)
    orphans = {k.split("/", 1)[0] for k in files if RUN_ID_RE.match(k.split("/", 1)[0])}
    orphans -= set(before)
    if require_debris:  # the kills did land mid-write: folders without a commit record
        assert orphans, "no kill interrupted a run: the test proves nothing"
    # reindex also adopts the runs whose writer died between its commit record and its
    # commit-log entry (complete runs): none is lost, the order of the others is kept
    count = manager.reindex()
    after = manager.run_ids()
    assert count == len(after) >= len(before) and after[:len(before)] == before
    before = after
    check_archive(manager, strict=True)
    assert json.loads(manager.storage.read("index.json"))["runs"]
    # and the archive keeps working: a clean writer appends, reindex is idempotent
    proc = _spawn(url, 1, 3)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert _ids(out) <= set(manager.run_ids())
    assert manager.reindex() == len(before) + 3
    check_archive(manager, strict=True)
    files = all_files(manager)
    assert not [k for k in files if k.endswith(".tmp")]


@pytest.mark.slow
def test_writers_killed_at_random_moments_local(tmp_path: Path) -> None:
    _crash_rounds(str(tmp_path / "archive"), rounds=24, seed=20261125, require_debris=True)


@pytest.mark.slow
def test_writers_killed_at_random_moments_s3(s3_url: str) -> None:
    _crash_rounds(s3_url, rounds=6, seed=7, require_debris=False)
