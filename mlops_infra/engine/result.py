"""What an apply did: per-resource outcomes, for renderers and exit codes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from mlops_infra.engine.plan import Action


@dataclass(frozen=True)
class Outcome:
    """The result of one planned change: ``status`` is ``done``, ``failed``, ``skipped`` (a
    dependency failed) or ``not started`` (the apply was interrupted first)."""

    address: str
    kind: str
    action: Action
    status: str
    error: str | None = None
    seconds: float = 0.0
    adopted: bool = False


@dataclass(frozen=True)
class ApplyResult:
    """Outcomes in completion order, plus the stack outputs after the apply."""

    outcomes: tuple[Outcome, ...]
    outputs: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    interrupted: bool = False           # stopped by Ctrl-C: a rerun continues
    in_flight: tuple[str, ...] = ()     # addresses that were running when it was interrupted

    @property
    def ok(self) -> bool:
        return all(o.status == "done" for o in self.outcomes)

    @property
    def failures(self) -> dict[str, str]:
        return {o.address: o.error or o.status for o in self.outcomes if o.status != "done"}


class ProgressListener(Protocol):
    """Receives executor events; the terminal progress display implements it."""

    def started(self, *, address: str, kind: str, action: Action) -> None: ...

    def finished(self, outcome: Outcome) -> None: ...

    def operation(self, *, address: str, status: str) -> None:
        """What the long-running operation of the change at ``address`` is doing now (its
        status as the kind reports it; ``engine.waiting.report_progress``). Optional."""
