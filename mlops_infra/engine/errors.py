"""The error hierarchy shared by every layer.

One root, ``MlopsInfraError``. User errors (bad spec, bad flags, bad ledger) are
``UserError`` subclasses and are printed as one line by the CLI; API errors raised
by kinds are translated into ``ApiError`` subclasses here, so the engine can decide
"transient or permanent" without importing any Google library.
"""

from __future__ import annotations

# The root and the spec's errors live in the lowest layer that raises them (spec).
from mlops_infra.spec.errors import (
    MlopsInfraError,
    SourceLocation,
    SpecError,
    UserError,
)

__all__ = ["ApiError", "Conflict", "LedgerConflict", "LedgerError", "LockHeld", "LockLost",
           "MlopsInfraError", "NotFound", "PermanentError", "PlanStale", "PolicyViolation",
           "PreconditionFailed", "SourceLocation", "SpecError", "StoppedWaiting", "TransientError",
           "UserError"]


class PolicyViolation(SpecError):
    """A guardrail rule broken by the spec (see ``engine.guardrails``)."""


class LedgerError(UserError):
    """The ledger cannot be read or written safely (corrupt, newer schema, lost race)."""


class LedgerConflict(LedgerError):
    """A compare-and-swap write lost: someone else wrote the ledger first."""


class LockHeld(MlopsInfraError):
    """Another run holds the stack's lock (CLI exit code 3).

    ``hint`` is set by whoever knows how the user reached this stack (the exact
    ``state unlock`` command with its spec path and ``--env``).
    """

    def __init__(self, holder: dict, *, seconds_left: float | None = None) -> None:
        self.holder = holder
        self.seconds_left = seconds_left
        self.hint = "wait for it, or break a dead lock with `python -m mlops_infra state unlock SPEC`"
        super().__init__(self.describe())

    def describe(self) -> str:
        who = ", ".join(f"{k}={self.holder[k]}" for k in ("owner", "host", "pid")
                        if k in self.holder)
        left = (f"; its lease has {self.seconds_left:.0f} s left"
                if self.seconds_left is not None else "")
        return f"the stack is locked by another run ({who}){left}"

    def __str__(self) -> str:
        return f"{self.describe()}; {self.hint}"


class LockLost(MlopsInfraError):
    """This run no longer surely holds the stack's lock: it makes no further change."""


class PlanStale(UserError):
    """A saved plan no longer matches the ledger it was computed against."""


class ApiError(MlopsInfraError):
    """An error returned by a Google API, already classified."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)


class TransientError(ApiError):
    """Worth retrying: 429, 5xx, connection resets, timeouts."""


class EventuallyConsistent(TransientError):
    """Google has not caught up with a change yet (an API just enabled, an IAM grant, a new
    service account): worth retrying for longer than other transient errors, with its own
    time budget (``engine.retry``). ``waiting_for`` says what, for a person:
    "the Compute Engine API to finish enabling in project p"."""

    def __init__(self, message: str, *, waiting_for: str, status: int | None = None) -> None:
        self.waiting_for = waiting_for
        super().__init__(message, status=status)


class ServiceDisabled(EventuallyConsistent):
    """403 SERVICE_DISABLED / accessNotConfigured: ``api`` is off (or still enabling) in
    ``project``. Reads during planning take it as "nothing there yet"."""

    def __init__(self, message: str, *, api: str, project: str | None,
                 status: int | None = 403) -> None:
        self.api = api
        self.project = project
        where = f" in project {project}" if project else ""
        super().__init__(message, status=status,
                         waiting_for=f"the {api} API to finish enabling{where} (enable it with "
                                     "a serviceusage.Service resource if the spec does not)")


class NotFound(ApiError):
    """404."""


class Conflict(ApiError):
    """409 (already exists, or a concurrent modification)."""


class PreconditionFailed(ApiError):
    """412 (etag / generation precondition did not hold)."""


class PermanentError(ApiError):
    """Any other API error: retrying will not help."""


class GaveUpWaiting(PermanentError):
    """An ``EventuallyConsistent`` error outlasted its budget: says what was awaited and how long."""

    def __init__(self, message: str, *, waiting_for: str, waited: float,
                 status: int | None = None) -> None:
        self.waiting_for = waiting_for
        self.waited = waited
        super().__init__(message, status=status)



class StoppedWaiting(MlopsInfraError):
    """The run was interrupted (Ctrl-C) while a kind waited on a long-running operation: the
    operation goes on at Google, the next run finds it and waits on it. Never retried, never
    taken for an API error."""
