"""The lake table (issue 13): rows round-trip, concurrent writers keep every row on a local
folder and on moto's S3 server, SIGKILL during an append or a compact leaves the table readable
and backfill repairs it, and the bad inputs give one readable line."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

pytest.importorskip("deltalake", reason="the lake table needs the `lake` extra (deltalake)")
pytest.importorskip("pyarrow", reason="the lake table needs the `lake` extra (pyarrow)")

from lake_support import T0, run

from pytest_model_gate.archive.lake import LakeTable, parse_age, rows_of, table_url
from pytest_model_gate.errors import ArchiveError

TESTS = Path(__file__).resolve().parent


def _writer(url: str, writer: int, runs: int, models: int, *extra: str
            ) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), str(TESTS.parent)])}
    return subprocess.Popen([sys.executable, "-m", "lake_support", url, str(writer), str(runs),
                             str(models), *extra], env=env, cwd=TESTS, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _comparable(row: dict[str, object]) -> dict[str, object]:
    out = dict(row)
    out["committed_at"] = out["committed_at"].isoformat()  # type: ignore[union-attr]
    return out


def test_rows_round_trip(tmp_path: Path) -> None:
    table = LakeTable(str(tmp_path / "t"))
    runs = [run(0, 6), run(1, 6, shift=0.1)]
    assert table.append(runs) == 12
    expected = [r for x in runs for r in rows_of(x)]
    got = table.rows()
    maps = ("metrics", "tiers", "baseline", "baseline_run")
    assert [_comparable(r) for r in got] == [
        {**r, "committed_at": r["committed_at"].isoformat(), **{k: dict(r[k]) for k in maps}}
        for r in expected]
    first = got[0]
    assert first["metrics"] == {"fitness": 0.5, "profit_factor": None}
    assert first["baseline"] == {"fitness": 0.4} and first["regressions"] == ["fitness"]
    assert first["seq"] == 0 and first["committed_at"].isoformat() == T0.isoformat()


def test_history_and_baselines(tmp_path: Path) -> None:
    table = LakeTable(str(tmp_path / "t"))
    table.append([run(0, 4, approved_every=1)])
    table.append([run(1, 4, approved_every=1, shift=0.2)])
    table.append([run(2, 4, approved_every=4, shift=0.4)])  # only M0 approved
    hist = table.history(model_id="SYM1_M1")
    assert [h["seq"] for h in hist] == [0, 1, 2]
    assert [h["classification"] for h in hist] == ["APPROVED", "APPROVED", "REVIEW"]
    assert {h["model_id"] for h in table.history(symbol="SYM1")} == {"SYM1_M1"}
    got = table.baseline_values(["SYM1_M1", "SYM0_M0", "nope"], against="last_approved",
                                window=1, metrics=["fitness", "profit_factor"])
    assert got["nope"] == {}
    assert got["SYM1_M1"]["fitness"].value == pytest.approx(0.725)  # run 1, not run 2
    assert got["SYM1_M1"]["fitness"].run_id == run(1).run_id
    assert math.isnan(got["SYM1_M1"]["profit_factor"].value)
    assert got["SYM0_M0"]["fitness"].value == pytest.approx(0.9)
    last = table.baseline_values(["SYM1_M1"], against="last", window=2, metrics=["fitness"])
    assert last["SYM1_M1"]["fitness"].value == pytest.approx((0.925 + 0.725) / 2)
    cut = table.baseline_values(["SYM1_M1"], against="last", window=1, metrics=["fitness"],
                                before_seq=1)
    assert cut["SYM1_M1"]["fitness"].run_id == run(0).run_id


def test_compact_keeps_rows_and_reads_fewer_files(tmp_path: Path) -> None:
    table = LakeTable(str(tmp_path / "t"))
    for n in range(12):
        table.append([run(n, 20)])
    before = table.rows()
    result = table.compact()
    assert result.files_before == 12 and result.files_after == 1
    assert table.rows() == before
    assert len(table.history(model_id="SYM3_M3")) == 12


def test_backfill_merges_only_missing_runs(tmp_path: Path) -> None:
    table = LakeTable(str(tmp_path / "t"))
    table.append([run(0), run(2)])
    added = table.backfill([run(n) for n in range(4)])
    assert added == [run(1).run_id, run(3).run_id]
    assert table.backfill([run(n) for n in range(4)]) == []
    assert [r["seq"] for r in table.rows()][::5] == [0, 1, 2, 3]
    assert len(table.rows()) == 20


def test_prune_keep_and_older_than(tmp_path: Path) -> None:
    table = LakeTable(str(tmp_path / "t"))
    table.append([run(n, 3, age_days=300 if n < 2 else 0) for n in range(5)])
    removed = table.prune(older_than=parse_age("180d"), now=T0)
    assert removed == [run(0).run_id, run(1).run_id]
    assert sorted(table.run_ids()) == [run(n).run_id for n in (2, 3, 4)]
    assert table.prune(keep=2) == [run(2).run_id]
    assert table.prune(keep=5) == []


def test_prune_everything_is_refused_without_yes(tmp_path: Path) -> None:
    table = LakeTable(str(tmp_path / "t"))
    table.append([run(0), run(1)])
    with pytest.raises(ArchiveError) as err:
        table.prune(keep=0)
    assert str(err.value) == (f"prune would remove all 2 runs of table {tmp_path / 't'}; "
                              f"pass --yes (yes=True) to remove them")
    assert len(table.run_ids()) == 2  # nothing lost
    assert len(table.prune(keep=0, yes=True)) == 2
    assert table.rows() == []


def test_table_with_another_schema(tmp_path: Path) -> None:
    import pyarrow as pa
    from deltalake import write_deltalake

    write_deltalake(str(tmp_path / "other"), pa.table({"a": [1], "b": ["x"]}))
    table = LakeTable(str(tmp_path / "other"))
    for call in (table.rows, lambda: table.append([run(0)])):
        with pytest.raises(ArchiveError) as err:
            call()
        assert str(err.value) == (f"table {tmp_path / 'other'} has another schema (columns a, "
                                  f"b), not the gate history table of schema 1")


def test_unreachable_table_url(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    table = LakeTable("s3://no-such-bucket/t", {"max_retries": "0", "retry_timeout": "1s"})
    with pytest.raises(ArchiveError) as err:
        table.rows()
    msg = str(err.value)
    assert msg.startswith("cannot reach table s3://no-such-bucket/t: ") and "\n" not in msg


def test_bad_age_and_bad_arguments() -> None:
    assert parse_age("180d") == timedelta(days=180)
    assert parse_age("12h") == timedelta(hours=12)
    with pytest.raises(ArchiveError, match=r"^--older-than: '180 days' is not an age such"):
        parse_age("180 days")
    with pytest.raises(ArchiveError, match="exactly one of --older-than and --keep"):
        LakeTable("/nonexistent").prune_selection()


def test_table_url() -> None:
    assert table_url("training_archives/", True) == "training_archives/table"
    assert table_url("s3://b/a", True) == "s3://b/a/table"
    assert table_url("s3://b/a", "s3://c/t") == "s3://c/t"
    assert table_url("a", None) is None and table_url("a", False) is None


def _concurrent(url: str) -> None:
    procs = [_writer(url, w, 5, 10) for w in range(4)]
    for p in procs:
        _out, err = p.communicate(timeout=240)
        assert p.returncode == 0, err
    rows = LakeTable(url).rows()
    assert len(rows) == 4 * 5 * 10
    assert {r["run_id"] for r in rows} == {run(n, writer=w).run_id
                                           for w in range(4) for n in range(5)}


@pytest.mark.slow
def test_four_concurrent_writers_local(tmp_path: Path) -> None:
    _concurrent(str(tmp_path / "t"))


@pytest.mark.slow
def test_four_concurrent_writers_s3(s3_url: str) -> None:
    _concurrent(f"{s3_url}/table")


def _kill_after(proc: subprocess.Popen[str], marker: str, delay: float) -> None:
    assert proc.stdout is not None
    while True:
        line = proc.stdout.readline()
        assert line, proc.stderr.read() if proc.stderr else "writer ended"
        if line.strip() == marker:
            break
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)


@pytest.mark.slow
@pytest.mark.parametrize("delay", [0.0, 0.05, 0.2])
def test_sigkill_during_append_then_backfill(tmp_path: Path, delay: float) -> None:
    url = str(tmp_path / "t")
    proc = _writer(url, 1, 200, 30)
    _kill_after(proc, "1", delay)  # killed while appending run 2 or a later one
    table = LakeTable(url)
    rows = table.rows()  # readable
    have = {r["run_id"] for r in rows}
    assert len(rows) == 30 * len(have) and run(0, writer=1).run_id in have
    wanted = [run(n, 30, writer=1) for n in range(200)]
    table.backfill(wanted)
    assert len(table.rows()) == 200 * 30


@pytest.mark.slow
@pytest.mark.parametrize("delay", [0.0, 0.1, 0.3])
def test_sigkill_during_compact(tmp_path: Path, delay: float) -> None:
    url = str(tmp_path / "t")
    table = LakeTable(url)
    for n in range(15):
        table.append([run(n, 40)])
    before = table.rows()
    proc = _writer(url, 0, 0, 0, "compact")
    _kill_after(proc, "compacting", delay)
    assert table.rows() == before  # readable, nothing lost or doubled
    assert table.backfill([run(n, 40) for n in range(15)]) == []
    table.compact()  # a later compact finishes the job
    assert table.rows() == before and table.file_stats()[0] == 1


def test_gate_yaml_table_key(tmp_path: Path) -> None:
    from pytest_model_gate.core.config import GateConfig

    assert GateConfig().table is None
    assert GateConfig(table=True).table is True
    assert GateConfig(table="s3://b/t").table == "s3://b/t"
    assert GateConfig(table=True).digest() == GateConfig().digest()  # not a verdict setting


def test_compact_removes_orphans_older_than_the_retention(tmp_path: Path) -> None:
    table = LakeTable(str(tmp_path / "t"))
    table.append([run(0)])
    data = next((tmp_path / "t").glob("*.parquet")).read_bytes()
    old, fresh = tmp_path / "t" / "part-orphan-old.parquet", tmp_path / "t" / "part-new.parquet"
    old.write_bytes(data)  # as a writer killed before its commit leaves it
    fresh.write_bytes(data)  # as a live writer's file, not yet committed
    two_hours_ago = time.time() - 7200
    os.utime(old, (two_hours_ago, two_hours_ago))
    table.compact()
    assert not old.exists() and fresh.exists()
    assert len(table.rows()) == 5
