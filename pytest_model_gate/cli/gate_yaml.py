"""`model-gate schema` (the JSON Schema of gate.yaml) and `model-gate init` (a commented
gate.yaml to start from, never overwriting one)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from pytest_model_gate.cli.common import EXIT_OK, EXIT_OUTPUT_FAILED, fail
from pytest_model_gate.core.config import GateConfig


def cmd_schema(args: argparse.Namespace) -> int:
    schema = GateConfig.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "pytest-model-gate gate.yaml"
    print(json.dumps(schema, indent=2))
    return EXIT_OK


def cmd_init(args: argparse.Namespace) -> int:
    from importlib.resources import files

    target = Path(args.path)
    text = files("pytest_model_gate").joinpath("gate.yaml.example").read_text(encoding="utf-8")
    try:
        with open(target, "x", encoding="utf-8") as f:
            f.write(text)
    except FileExistsError:
        return fail(f"{target}: already exists; not overwritten")
    except OSError as exc:
        return fail(f"{target}: cannot write: {exc.strerror or exc}", EXIT_OUTPUT_FAILED)
    print(f"wrote {target}")
    return EXIT_OK


def add_commands(sub: Any) -> None:
    """Register `schema` and `init` on the `model-gate` subcommand parser."""
    schema = sub.add_parser("schema", help="print the JSON Schema of gate.yaml")
    schema.set_defaults(func=cmd_schema)

    init = sub.add_parser("init", help="write a commented gate.yaml (never overwrites)")
    init.add_argument("path", nargs="?", default="gate.yaml")
    init.set_defaults(func=cmd_init)
