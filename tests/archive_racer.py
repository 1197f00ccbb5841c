"""A process for the archive race tests (run as a script, not collected).

    python archive_racer.py ARCHIVE SUMMARY BARRIER

Opens the archive, prints "ready", waits until the file BARRIER exists (so every racer
starts at the same moment), archives SUMMARY and prints the run id it got back and whether
the run was reused.
"""

from __future__ import annotations

import os
import sys
import time

from pytest_model_gate.api import TrainingArchiveManager


def main() -> None:
    archive, summary, barrier = sys.argv[1:4]
    manager = TrainingArchiveManager(archive)
    print("ready", flush=True)
    while not os.path.exists(barrier):
        time.sleep(0.001)
    run = manager.archive_training_run(summary)
    print(run.run_id, "reused" if run.reused else "new", flush=True)


if __name__ == "__main__":
    main()
