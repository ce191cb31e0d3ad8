"""The root of the error hierarchy, and the errors the spec layer raises.

They live here, in the lowest layer that raises them; ``engine.errors`` re-exports them
with the rest of the hierarchy. User errors are printed as one line by the CLI.
"""

from __future__ import annotations

from dataclasses import dataclass


class MlopsInfraError(Exception):
    """Root of every error this package raises on purpose."""


class UserError(MlopsInfraError):
    """Something the user can fix: printed as one line, exit code 1."""


@dataclass(frozen=True)
class SourceLocation:
    """Where in a file a value came from (1-based line)."""

    file: str
    line: int | None = None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


class SpecError(UserError):
    """A spec problem, carrying file, line and the dotted field path."""

    def __init__(self, message: str, *, location: SourceLocation | None = None,
                 field: str | None = None) -> None:
        self.location = location
        self.field = field
        self.detail = message
        prefix = f"{location}: " if location else ""
        where = f"{field}: " if field else ""
        super().__init__(f"{prefix}{where}{message}")
