"""Error types and exit codes: every user-facing failure carries a file, a place and a plain
message, and maps to one exit code that CI can tell from a DROP."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """`model-gate` exit status (pytest sessions reuse OUTPUT_FAILED)."""

    OK = 0  # nothing dropped
    DROPPED = 1  # at least one model is DROP
    BAD_INPUT = 2  # summary, config or option rejected, with one clear line
    OUTPUT_FAILED = 3  # the archive or a report could not be written (verdicts still shown)
    INTERNAL = 70  # a crash of our own code: never 0 or 1, so CI never takes it for a verdict


class ModelGateError(Exception):
    """Base class of the errors a user is meant to read (never shown with a traceback)."""

    def __init__(self, message: str, *, file: str | None = None, place: str | None = None,
                 line: int | None = None) -> None:
        self.message = message
        self.file = file
        self.place = place
        self.line = line
        super().__init__(self.render())

    def render(self) -> str:
        where = ""
        if self.file:
            where = self.file
            if self.line is not None:
                where += f":{self.line}"
            where += ": "
        if self.place:
            where += f"{self.place}: "
        return where + self.message


class SummaryError(ModelGateError):
    """The training summary cannot be read or does not have an accepted shape."""


class ConfigError(ModelGateError):
    """gate.yaml (or an option) is invalid."""


class ArchiveError(ModelGateError):
    """The archive cannot be read or written."""


class NoArchiveError(ArchiveError):
    """A query names an archive location that holds no archive."""

    def __init__(self, location: str) -> None:
        self.location = location
        super().__init__(f"no archive at {location}")
