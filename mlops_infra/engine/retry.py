"""The one retry layer: tenacity around every API call the engine makes.

Client-library retries are switched off (kinds pass ``retry=None``), so deadlines
are ours. What is transient is decided here, once: ``TransientError`` always, and
``PreconditionFailed`` only for callers that re-read before redoing (read-modify-write).

A ``PreconditionFailed`` retried for a read-modify-write is progress (the caller re-read and
redoes its change), not a failed attempt: it is bounded by the deadline only, so writers racing
on one shared policy never exhaust their attempts on each other.

``EventuallyConsistent`` errors (an API still enabling, an IAM grant or a new service account
still propagating) get their own, longer, time-based budget: Google documents propagation
"typically 2 minutes, potentially 7 minutes or longer"
(https://cloud.google.com/iam/docs/access-change-propagation), so they are retried for up to
``consistency_deadline`` seconds (10 minutes) with waits growing to ``consistency_maximum``;
they do not use up the attempts of other errors (``attempts`` bounds the transient failures
since the API last answered "not yet"). Past the budget the call fails with
``GaveUpWaiting``, naming what it waited for and for how long.

Ordinary transient errors (429, 5xx) stop after ``attempts`` failures or ``deadline`` seconds.
Google's client libraries bound these retries by a deadline alone (``google.api_core.retry``:
exponential backoff until the timeout); we keep a cap as well, high enough for a unit of work
that makes several calls (a policy edit reads, then writes: at a 30 % fault rate each try fails
half the time, so 10 tries still gave up about once in a thousand edits, 20 once in a million). ``MLOPS_INFRA_RETRY_SCALE``
(a float; tests use 0.02) scales every wait and the consistency budget.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, TypeVar

from mlops_infra.engine.errors import (
    EventuallyConsistent,
    GaveUpWaiting,
    PreconditionFailed,
    TransientError,
)

if TYPE_CHECKING:
    from tenacity import RetryCallState

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff settings; ``MLOPS_INFRA_RETRY_SCALE`` (a float) scales the waits (tests use 0.05)."""

    attempts: int = 20
    initial: float = 0.5
    maximum: float = 10.0
    deadline: float = 300.0
    consistency_deadline: float = 600.0
    consistency_initial: float = 2.0
    consistency_maximum: float = 15.0
    scale: float = 1.0                  # what the waits were scaled by (``from_env``)

    @classmethod
    def from_env(cls) -> RetryPolicy:
        scale = float(os.environ.get("MLOPS_INFRA_RETRY_SCALE", "1") or 1)
        base = cls()
        return replace(base, scale=scale, initial=base.initial * scale, maximum=base.maximum * scale,
                       consistency_deadline=base.consistency_deadline * scale,
                       consistency_initial=base.consistency_initial * scale,
                       consistency_maximum=base.consistency_maximum * scale)


@dataclass
class _Budget:
    """Counts attempts of ordinary transient errors and times the eventually-consistent ones."""

    policy: RetryPolicy
    started: float = field(default_factory=time.monotonic)
    ordinary: int = 0
    redone: int = 0
    waiting_since: float | None = None
    waiting_tries: int = 0

    def note(self, exc: BaseException | None) -> None:
        if isinstance(exc, EventuallyConsistent):
            self.waiting_since = self.waiting_since or time.monotonic()
            self.waiting_tries += 1
            self.ordinary = 0      # the API answered: count the blips since the last answer
        elif isinstance(exc, PreconditionFailed):
            self.redone += 1
        else:
            self.ordinary += 1

    def exhausted(self, exc: BaseException | None) -> bool:
        if isinstance(exc, EventuallyConsistent):
            return self.waited() >= self.policy.consistency_deadline
        return (self.ordinary >= self.policy.attempts
                or time.monotonic() - self.started >= self.policy.deadline)

    def pause(self, exc: BaseException | None) -> float:
        if isinstance(exc, EventuallyConsistent):
            cap = min(self.policy.consistency_maximum,
                      self.policy.consistency_initial * 1.5 ** (self.waiting_tries - 1))
            left = self.policy.consistency_deadline - self.waited()
            return max(0.0, min(random.uniform(cap / 2, cap), left))
        tries = self.ordinary + min(self.redone, 4)
        cap = min(self.policy.maximum, self.policy.initial * 2 ** max(tries - 1, 0))
        return random.uniform(0, cap)

    # tenacity's hooks
    def stop(self, state: RetryCallState) -> bool:
        exc = _failure(state)
        self.note(exc)
        return self.exhausted(exc)

    def wait(self, state: RetryCallState) -> float:
        return self.pause(_failure(state))

    def waited(self) -> float:
        return 0.0 if self.waiting_since is None else time.monotonic() - self.waiting_since


def _failure(state: RetryCallState) -> BaseException | None:
    return state.outcome.exception() if state.outcome else None


def call_with_retries(fn: Callable[[], T], *, policy: RetryPolicy,
                      retry_preconditions: bool = False) -> T:
    """Run ``fn``, retrying transient errors (and 412s when asked) with jittered backoff.

    The first try runs bare: most calls succeed at once, and tenacity (whose import pulls in
    asyncio, a tenth of a second of a command's start) is only needed once one has not."""
    kinds: tuple[type[BaseException], ...] = (TransientError,)
    if retry_preconditions:
        kinds += (PreconditionFailed,)
    budget = _Budget(policy)
    try:
        return fn()
    except kinds as exc:
        first: BaseException = exc
    try:
        return _retried(fn, first, kinds, budget)
    except EventuallyConsistent as exc:
        waited = budget.waited()
        raise GaveUpWaiting(f"gave up after waiting {waited:.0f}s (limit "
                            f"{policy.consistency_deadline:.0f}s) for {exc.waiting_for}: {exc}",
                            waiting_for=exc.waiting_for, waited=waited,
                            status=exc.status) from exc


def _retried(fn: Callable[[], T], first: BaseException,
             kinds: tuple[type[BaseException], ...], budget: _Budget) -> T:
    """The tries after a ``first`` failure, counted in the same ``budget``."""
    from tenacity import Retrying, retry_if_exception_type

    budget.note(first)
    if budget.exhausted(first):
        raise first
    time.sleep(budget.pause(first))
    retrying = Retrying(retry=retry_if_exception_type(kinds), stop=budget.stop,
                        wait=budget.wait, reraise=True)
    return retrying(fn)
