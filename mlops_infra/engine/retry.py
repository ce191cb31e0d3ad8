"""The one retry layer: tenacity around every API call the engine makes.

Client-library retries are switched off (kinds pass ``retry=None``), so deadlines
are ours. What is transient is decided here, once: ``TransientError`` always, and
``PreconditionFailed`` only for callers that re-read before redoing (read-modify-write).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TypeVar

from tenacity import (
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_after_delay,
    wait_random_exponential,
)

from mlops_infra.engine.errors import PreconditionFailed, TransientError

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff settings; ``MLOPS_INFRA_RETRY_SCALE`` (a float) scales the waits (tests use 0.05)."""

    attempts: int = 10
    initial: float = 0.5
    maximum: float = 10.0
    deadline: float = 300.0

    @classmethod
    def from_env(cls) -> RetryPolicy:
        scale = float(os.environ.get("MLOPS_INFRA_RETRY_SCALE", "1") or 1)
        base = cls()
        return replace(base, initial=base.initial * scale, maximum=base.maximum * scale)


def call_with_retries(fn: Callable[[], T], *, policy: RetryPolicy,
                      retry_preconditions: bool = False) -> T:
    """Run ``fn``, retrying transient errors (and 412s when asked) with jittered backoff."""
    kinds: tuple[type[BaseException], ...] = (TransientError,)
    if retry_preconditions:
        kinds += (PreconditionFailed,)
    retrying = Retrying(
        retry=retry_if_exception_type(kinds),
        stop=stop_after_attempt(policy.attempts) | stop_after_delay(policy.deadline),
        wait=wait_random_exponential(multiplier=policy.initial, max=policy.maximum),
        reraise=True,
    )
    return retrying(fn)
