"""Report targets (pytest_model_gate.files): regular files replaced atomically, symlinks
followed to their target, FIFOs and devices written through and never replaced, and a target
that is the summary being gated refused with exit 2 and one line."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from pytest_model_gate.files import TargetError, refuse_inputs, write_text

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file types")


def test_regular_file_replaced_atomically_keeping_its_mode(tmp_path: Path) -> None:
    target = tmp_path / "r.md"
    target.write_text("old", encoding="utf-8")
    target.chmod(0o640)
    before = target.stat().st_ino
    write_text(target, "néw ✓\n")
    assert target.read_bytes() == "néw ✓\n".encode()
    assert target.stat().st_ino != before  # a new file renamed over the old one
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.md"]  # no temp file left


def test_new_file_in_new_folders_with_the_umask_mode(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "r.html"
    old = os.umask(0o022)
    try:
        write_text(target, "x")
    finally:
        os.umask(old)
    assert target.read_text(encoding="utf-8") == "x"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


def test_symlink_target_replaced_the_link_kept(tmp_path: Path) -> None:
    real = tmp_path / "real" / "report.md"
    real.parent.mkdir()
    real.write_text("old", encoding="utf-8")
    link = tmp_path / "link.md"
    link.symlink_to(real)
    write_text(link, "new")
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_text(encoding="utf-8") == "new"
    assert sorted(p.name for p in real.parent.iterdir()) == ["report.md"]


def test_fifo_written_through_never_replaced(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []

    def reader() -> None:
        with open(fifo, "rb") as f:
            got.append(f.read())

    thread = threading.Thread(target=reader)
    thread.start()
    write_text(fifo, "through the pipe ✓\n")
    thread.join(timeout=10)
    assert got == ["through the pipe ✓\n".encode()]
    assert stat.S_ISFIFO(fifo.stat().st_mode)  # still a FIFO: not renamed over
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe"]


def test_symlink_to_a_fifo_writes_through(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    link = tmp_path / "out.md"
    link.symlink_to(fifo)
    got: list[bytes] = []
    thread = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    thread.start()
    write_text(link, "x")
    thread.join(timeout=10)
    assert got == [b"x"] and link.is_symlink() and stat.S_ISFIFO(fifo.stat().st_mode)


def test_character_device_written_through(tmp_path: Path) -> None:
    """/dev/null through a symlink: written, and still a character device afterwards."""
    null = Path(os.devnull)
    if not stat.S_ISCHR(null.stat().st_mode):
        pytest.skip("no character device at os.devnull")
    link = tmp_path / "report.md"
    link.symlink_to(null)
    write_text(link, "discarded")
    assert stat.S_ISCHR(null.stat().st_mode)
    assert link.is_symlink() and sorted(p.name for p in tmp_path.iterdir()) == ["report.md"]


def test_directory_target_is_an_oserror_naming_it(tmp_path: Path) -> None:
    with pytest.raises(IsADirectoryError) as err:
        write_text(tmp_path, "x")
    assert err.value.filename == str(tmp_path)


def test_unwritable_folder_names_the_target_not_a_temp_file(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root ignores folder permissions")
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(PermissionError) as err:
            write_text(folder / "r.md", "x")
    finally:
        folder.chmod(0o700)
    assert err.value.filename == str(folder / "r.md")


def test_refuse_inputs_through_symlinks_and_dots(tmp_path: Path) -> None:
    summary = tmp_path / "s.json"
    summary.write_text("{}", encoding="utf-8")
    (tmp_path / "link.json").symlink_to(summary)
    refuse_inputs([("report", str(tmp_path / "r.md")), ("HTML report", None)], [summary])
    for target in (summary, tmp_path / "link.json", tmp_path / "x" / ".." / "s.json"):
        with pytest.raises(TargetError) as err:
            refuse_inputs([("report", str(target))], [summary])
        assert "the report target is the summary being gated" in str(err.value)
        assert "\n" not in str(err.value)


@pytest.mark.parametrize("option", ["--report", "--html"])
def test_cli_refuses_the_summary_as_a_target(tmp_path: Path, trading_summary: Path,
                                             option: str) -> None:
    summary = tmp_path / "s.json"
    original = trading_summary.read_bytes()
    summary.write_bytes(original)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest_model_gate.cli", "check", str(summary), "--no-archive",
         option, str(summary)], capture_output=True, text=True, cwd=tmp_path, check=False)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "is the summary being gated" in lines[0], proc.stderr
    assert summary.read_bytes() == original


def test_pytest_refuses_the_summary_as_report(pytester: pytest.Pytester,
                                              trading_summary: Path) -> None:
    summary = pytester.path / "s.json"
    original = trading_summary.read_bytes()
    summary.write_bytes(original)
    result = pytester.runpytest("--model-gate", str(summary), "--no-model-gate-archive",
                                "--model-gate-report", str(summary))
    assert result.ret == 2
    result.stdout.fnmatch_lines(["*the report target is the summary being gated*"])
    assert summary.read_bytes() == original
