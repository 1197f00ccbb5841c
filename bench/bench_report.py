"""Benchmark (issue 14): the reports of a 20,000-model run, against baselines of the same run.

    .venv/bin/python bench/bench_report.py                  # 20,000 models, 5 repetitions
    .venv/bin/python bench/bench_report.py --models 2000 --repeat 3

The summary (bench/generate.py: 2/5 REVIEW, 1/5 DROP) is gated once; its run document is the
input of every measurement, with an earlier run (the same summary gated with stricter bounds)
as "previous" and history. In-process, interleaved, one untimed warm-up round:

    html     render_html (the whole page, charts, trends)                 goal < 3 s
    digest   render_digest (the step summary / PR comment)                goal < 0.5 s
    markdown render_markdown (recommendations.md)
    floor    json.dumps(document, indent=1): serialising the same document once

Then Chromium (when installed) loads the HTML page and a floor page of the same size class
(one plain <table> of every model id and class, no CSS, no SVG, no script) with --dump-dom,
interleaved, as fresh processes:

    chromium  load + layout + script + DOM dump of the report               goal < 10 s
    cfloor    the same for the floor page

Printed: median and minimum seconds of each, and ratios to the floors (medians). Exits
non-zero only when an output is wrong (row counts, size over 25 MB, digest over 64 KiB).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate import write

from pytest_model_gate.core.config import parse_config
from pytest_model_gate.core.document import RunDocument, run_document
from pytest_model_gate.core.gating import assess_all
from pytest_model_gate.core.summary import load_summary
from pytest_model_gate.report.digest import LIMIT, render_digest
from pytest_model_gate.report.html import render_html
from pytest_model_gate.report.markdown import render_markdown
from pytest_model_gate.report.view import ReportSection

OUT = Path(__file__).resolve().parent / "out"


def documents(n: int) -> tuple[RunDocument, RunDocument]:
    OUT.mkdir(exist_ok=True)
    path = OUT / f"summary_{n}.json"
    if not path.exists():
        write(path, n)
    docs = []
    for k, cfg in enumerate((parse_config({"metrics": {"fitness": {"approved": 0.75}}}),
                             parse_config({}))):
        summary = load_summary(path, cfg)
        docs.append(run_document(summary, assess_all(summary.models, cfg), cfg,
                                 run_id=f"2026120{k + 1}T120000.000000Z-bench{k}"))
    return docs[1], docs[0]


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def load(browser: str, page: Path, work: Path) -> tuple[float, str]:
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={work / f'profile-{time.monotonic_ns()}'}", "--dump-dom",
           page.as_uri()]
    start = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, timeout=300, check=True)
    return time.monotonic() - start, proc.stdout.decode("utf-8")


def report(name: str, times: list[float]) -> tuple[float, float]:
    med, low = statistics.median(times), min(times)
    print(f"{name:10} median {med:7.3f} s   min {low:7.3f} s")
    return med, low


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    doc, previous = documents(args.models)
    sections = [ReportSection(doc, previous=previous, history=[previous])]
    jobs: dict[str, Callable[[], object]] = {
        "html": lambda: render_html(sections),
        "digest": lambda: render_digest(sections),
        "markdown": lambda: render_markdown(sections),
        "floor": lambda: json.dumps(doc, indent=1),
    }
    for fn in jobs.values():  # warm-up, untimed
        fn()
    times: dict[str, list[float]] = {k: [] for k in jobs}
    for _ in range(args.repeat):
        for name, fn in jobs.items():
            times[name].append(timed(fn))
    page_text = render_html(sections)
    digest = render_digest(sections)
    print(f"{args.models} models: HTML {len(page_text.encode()) / 1e6:.1f} MB, digest "
          f"{len(digest.encode())} bytes")
    med = {k: report(k, v)[0] for k, v in times.items()}
    for k in ("html", "digest", "markdown"):
        print(f"{k}/floor {med[k] / med['floor']:.2f}")
    ok = len(page_text.encode()) < 25_000_000 and len(digest.encode()) <= LIMIT
    browser = chromium()
    if browser is None:
        print("no Chromium: browser load not measured")
        return 0 if ok else 1
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        page = work / "report.html"
        page.write_text(page_text, encoding="utf-8")
        floor = work / "floor.html"
        rows = "".join(f"<tr><td>{m['id']}</td><td>{m['classification']}</td></tr>"
                       for m in doc["models"])
        floor.write_text(f"<!doctype html><title>floor</title><table>{rows}</table>",
                         encoding="utf-8")
        load(browser, page, work)  # warm-up
        ctimes: dict[str, list[float]] = {"chromium": [], "cfloor": []}
        for _ in range(max(1, args.repeat // 2)):
            seconds, dom = load(browser, page, work)
            ctimes["chromium"].append(seconds)
            ok = ok and dom.count('<tr class="m"') == args.models
            ctimes["cfloor"].append(load(browser, floor, work)[0])
        cmed = {k: report(k, v)[0] for k, v in ctimes.items()}
        print(f"chromium/cfloor {cmed['chromium'] / cmed['cfloor']:.2f}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
