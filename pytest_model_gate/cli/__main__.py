"""`python -m pytest_model_gate.cli` runs `model-gate`."""

import sys

from pytest_model_gate.cli import main

sys.exit(main())
