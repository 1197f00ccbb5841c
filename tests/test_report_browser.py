"""The HTML report in a real browser: headless Chromium loads the file (no network) and the
DOM it builds holds every model; a screenshot is taken. Skipped, with the reason shown, where
no Chromium is installed (Debian: `apt-get install chromium`; or set MODEL_GATE_CHROMIUM)."""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from report_support import example_document, runs

from pytest_model_gate.files import write_text
from pytest_model_gate.report import html as html_report
from pytest_model_gate.report.view import ReportSection

BIG = 10_000
TIMEOUT = 180  # seconds for Chromium to load, lay out and dump the 10,000-model page


def _chromium() -> str | None:
    configured = os.environ.get("MODEL_GATE_CHROMIUM")
    if configured:
        return configured
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


CHROMIUM = _chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium found: install the Debian package `chromium` "
                             "(or set MODEL_GATE_CHROMIUM) to run the browser tests")


def chromium(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[bytes], float]:
    assert CHROMIUM is not None
    profile = tmp_path / f"profile-{time.monotonic_ns()}"
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
           "--no-first-run", "--disable-background-networking", "--disable-component-update",
           "--disable-sync", "--hide-scrollbars", f"--user-data-dir={profile}", *args]
    start = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, timeout=TIMEOUT, check=False)
    return proc, time.monotonic() - start


def dump_dom(tmp_path: Path, page: Path) -> tuple[str, float]:
    proc, seconds = chromium(tmp_path, "--dump-dom", page.as_uri())
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-2000:]
    return proc.stdout.decode("utf-8"), seconds


def screenshot(tmp_path: Path, page: Path, name: str) -> tuple[int, int]:
    png = tmp_path / name
    proc, _ = chromium(tmp_path, "--window-size=1400,2000", f"--screenshot={png}", page.as_uri())
    assert proc.returncode == 0 and png.exists(), proc.stderr.decode(errors="replace")[-2000:]
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert len(data) > 20_000, "the screenshot is (nearly) blank"
    return width, height


def test_example_report_renders(tmp_path: Path, examples_dir: Path) -> None:
    hist = runs(24, 3)
    doc = example_document(examples_dir)
    page = tmp_path / "report.html"
    write_text(page, html_report.render_html([ReportSection(doc, previous=hist[-1], history=hist)]))
    dom, _ = dump_dom(tmp_path, page)
    assert "<title>Model gate report: 2 DROP, 9 REVIEW, 13 APPROVED</title>" in dom
    assert dom.count('<tr class="m">') == 24
    assert len(re.findall(r'<figure id="s1-c\d+">', dom)) == 11  # a chart per REVIEW/DROP
    assert dom.count("<svg") >= 11
    assert "<script" not in dom
    assert screenshot(tmp_path, page, "report.png") == (1400, 2000)


def test_ten_thousand_models_render(tmp_path: Path,
                                    record_property: Callable[[str, object], None]) -> None:
    hist = runs(BIG, 4)
    doc = hist[-1]
    page = tmp_path / "big.html"
    start = time.monotonic()
    write_text(page, html_report.render_html(
        [ReportSection(doc, previous=hist[-2], history=hist[:-1])]))
    write_seconds = time.monotonic() - start
    dom, load_seconds = dump_dom(tmp_path, page)
    size = page.stat().st_size
    record_property("html_bytes", size)
    record_property("python_render_seconds", round(write_seconds, 2))
    record_property("chromium_dump_dom_seconds", round(load_seconds, 2))
    print(f"\n10,000-model HTML report: {size / 1e6:.1f} MB, rendered by Python in "
          f"{write_seconds:.1f} s, loaded and dumped by Chromium in {load_seconds:.1f} s")
    c = doc["counts"]
    assert (f"<title>Model gate report: {c['DROP']} DROP, {c['REVIEW']} REVIEW, "
            f"{c['APPROVED']} APPROVED</title>") in dom
    assert dom.count('<tr class="m">') == BIG
    assert dom.count("<figure id=") == c["DROP"] + c["REVIEW"]
    screenshot(tmp_path, page, "big.png")
