"""The HTML report in a real browser: headless Chromium loads the file (no network) and the
DOM it builds holds every model; a screenshot is taken. Skipped, with the reason shown, where
no Chromium is installed (Debian: `apt-get install chromium`; or set MODEL_GATE_CHROMIUM)."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import struct
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from report_support import example_document, runs

from pytest_model_gate.files import write_text
from pytest_model_gate.report import html as html_report
from pytest_model_gate.report.view import ReportSection

BIG = 20_000
TIMEOUT = 180  # seconds for Chromium to load, lay out and dump the 20,000-model page


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


def screenshot(tmp_path: Path, page: Path, name: str, width: int = 1400) -> tuple[int, int]:
    png = tmp_path / name
    proc, _ = chromium(tmp_path, f"--window-size={width},2000", f"--screenshot={png}",
                       page.as_uri())
    assert proc.returncode == 0 and png.exists(), proc.stderr.decode(errors="replace")[-2000:]
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    size = struct.unpack(">II", data[16:24])
    assert len(data) > 20_000, "the screenshot is (nearly) blank"
    return size


# Runs after the page's own script, in a copy of the page whose CSP lets it run: clicks the
# class filter, types a search, sorts a column, and measures the layout (id boxes, SVG text
# boxes); the results land in <pre id="probe"> for --dump-dom to return.
PROBE = r"""
<script>
(function(){
var R={};
var sec=document.querySelector("section");
function shown(){return Array.prototype.filter.call(sec.querySelectorAll("tr.m"),
  function(r){return !r.hidden;}).length;}
R.toolbar=!sec.querySelector(".tb").hidden;
R.all=shown();
var drop=sec.querySelector('.tb button[data-f="DROP"]');drop.click();
R.without_drop=shown();R.output=sec.querySelector(".tb output").textContent;
R.drop_table_hidden=sec.querySelector('.ct[data-c="DROP"]').hidden;
drop.click();R.drop_back=shown();
var q=sec.querySelector(".tb input");q.value="msft";
q.dispatchEvent(new Event("input"));R.search_msft=shown();
R.search_ids=Array.prototype.filter.call(sec.querySelectorAll("tr.m"),function(r){
  return !r.hidden;}).map(function(r){return r.querySelector(".id").textContent;});
q.value="";q.dispatchEvent(new Event("input"));
var th=sec.querySelector('.ct th[data-k="1"]');th.click();
R.sorted=Array.prototype.map.call(th.closest("table").tBodies[0].rows,function(r){
  return parseFloat(r.cells[1].textContent);});
R.sort_state=th.getAttribute("aria-sort");
var wrapped=[];
sec.querySelectorAll(".id, figcaption b, ul.why a").forEach(function(e){
  if(e.getClientRects().length>1||(e.getClientRects().length===1&&
     e.getClientRects()[0].height>24))wrapped.push(e.textContent);});
R.ids_checked=sec.querySelectorAll(".id, figcaption b, ul.why a").length;R.wrapped=wrapped;
var overlaps=[],texts=0;
sec.querySelectorAll("figure svg").forEach(function(svg){
  var boxes=Array.prototype.map.call(svg.querySelectorAll("text"),function(t){
    var b=t.getBBox();return [b.x,b.y,b.x+b.width,b.y+b.height,t.textContent];});
  texts+=boxes.length;
  for(var i=0;i<boxes.length;i++)for(var j=i+1;j<boxes.length;j++){
    var a=boxes[i],b=boxes[j];
    if(a[0]<b[2]-0.5&&b[0]<a[2]-0.5&&a[1]<b[3]-0.5&&b[1]<a[3]-0.5)
      overlaps.push(svg.querySelector("title").textContent+": "+a[4]+" / "+b[4]);}
});
R.svg_texts=texts;R.overlaps=overlaps;
var pre=document.createElement("pre");pre.id="probe";pre.textContent=JSON.stringify(R);
document.body.appendChild(pre);
})();
</script>
"""


def probe(tmp_path: Path, page: Path, width: int) -> dict[str, Any]:
    """Load a copy of `page` with PROBE at the end of its body, at `width` px, and return
    what the probe found."""
    text = page.read_text(encoding="utf-8")
    text = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", text)
    copy = tmp_path / f"probe-{width}-{page.name}"
    copy.write_text(text.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    proc, _ = chromium(tmp_path, f"--window-size={width},3000", "--dump-dom", copy.as_uri())
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-2000:]
    found = re.search(r'<pre id="probe">(.*?)</pre>', proc.stdout.decode("utf-8"), re.S)
    assert found, "the probe did not run"
    data: dict[str, Any] = json.loads(html.unescape(found.group(1)))
    return data


def test_example_report_renders(tmp_path: Path, examples_dir: Path) -> None:
    hist = runs(24, 3)
    doc = example_document(examples_dir)
    page = tmp_path / "report.html"
    write_text(page, html_report.render_html([ReportSection(doc, previous=hist[-1], history=hist)]))
    dom, _ = dump_dom(tmp_path, page)
    assert "<title>Model gate report: 2 DROP, 9 REVIEW, 13 APPROVED</title>" in dom
    assert len(re.findall(r'<tr class="m"', dom)) == 24
    assert len(re.findall(r'<figure id="s1-c\d+">', dom)) == 11  # a chart per REVIEW/DROP
    assert dom.count("<svg") >= 11
    assert dom.count("<script") == 1  # ours, allowed by the CSP hash
    assert 'class="tb"' in dom and '<div class="tb" hidden' not in dom  # the script ran
    for width in (1024, 1400):
        assert screenshot(tmp_path, page, f"report-{width}.png", width) == (width, 2000)


@pytest.mark.parametrize("width", [1024, 1400])
def test_filter_search_sort_and_layout_in_the_browser(tmp_path: Path, examples_dir: Path,
                                                      width: int) -> None:
    doc = example_document(examples_dir)
    page = tmp_path / "report.html"
    write_text(page, html_report.render_html([ReportSection(doc)]))
    r = probe(tmp_path, page, width)
    assert r["toolbar"] is True and r["all"] == 24
    assert r["without_drop"] == 22 and r["drop_table_hidden"] is True
    assert r["output"] == "22 of 24 models shown"
    assert r["drop_back"] == 24
    assert r["search_ids"] == [m["id"] for cls in ("DROP", "REVIEW", "APPROVED")
                               for m in doc["models"]
                               if m["classification"] == cls and "msft" in m["id"].lower()]
    assert r["search_msft"] == len(r["search_ids"]) == 2
    assert r["sorted"] == sorted(r["sorted"]) and r["sort_state"] == "ascending"
    assert r["ids_checked"] >= 24 + 11 and r["wrapped"] == []  # no id breaks inside a word
    assert r["svg_texts"] > 11 * 10 and r["overlaps"] == []  # no label covers another
def test_twenty_thousand_models_render(tmp_path: Path,
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
    print(f"\n20,000-model HTML report: {size / 1e6:.1f} MB, rendered by Python in "
          f"{write_seconds:.1f} s, loaded and dumped by Chromium in {load_seconds:.1f} s")
    c = doc["counts"]
    assert (f"<title>Model gate report: {c['DROP']} DROP, {c['REVIEW']} REVIEW, "
            f"{c['APPROVED']} APPROVED</title>") in dom
    assert len(re.findall('<tr class="m"', dom)) == BIG
    assert dom.count("<figure id=") == min(c["DROP"] + c["REVIEW"], html_report.CHART_CAP)
    assert size < 25_000_000
    screenshot(tmp_path, page, "big.png")
    r = probe(tmp_path, page, 1400)
    assert r["all"] == BIG and r["without_drop"] == BIG - c["DROP"]
    assert r["search_msft"] == 0 and r["sorted"] == sorted(r["sorted"])
    assert r["wrapped"] == [] and r["overlaps"] == []
