"""The error hierarchy shared by every layer.

One root, ``MlopsInfraError``. User errors (bad spec, bad flags, bad ledger) are
``UserError`` subclasses and are printed as one line by the CLI; API errors raised
by kinds are translated into ``ApiError`` subclasses here, so the engine can decide
"transient or permanent" without importing any Google library.
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


class PolicyViolation(SpecError):
    """A guardrail rule broken by the spec (see ``engine.guardrails``)."""


class LedgerError(UserError):
    """The ledger cannot be read or written safely (corrupt, newer schema, lost race)."""


class LedgerConflict(LedgerError):
    """A compare-and-swap write lost: someone else wrote the ledger first."""


class LockHeld(MlopsInfraError):
    """Another run holds the stack's lock (CLI exit code 3)."""

    def __init__(self, holder: dict) -> None:
        self.holder = holder
        who = ", ".join(f"{k}={holder[k]}" for k in ("owner", "host", "pid", "expires") if k in holder)
        super().__init__(f"the stack is locked by another run ({who}); "
                         "wait for it, or break a dead lock with `mlops_infra state unlock`")


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


class ApplyError(MlopsInfraError):
    """One or more changes failed while applying; carries per-resource errors."""

    def __init__(self, failures: dict[str, str]) -> None:
        self.failures = failures
        lines = "; ".join(f"{addr}: {msg}" for addr, msg in failures.items())
        super().__init__(f"{len(failures)} change(s) failed: {lines}")
