"""Error types: every user-facing failure carries a file, a place and a plain message."""

from __future__ import annotations


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
