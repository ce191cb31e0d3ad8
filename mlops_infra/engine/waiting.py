"""Waiting on long-running operations with a deadline (generic over how to poll)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from mlops_infra.engine.errors import TransientError

T = TypeVar("T")


def wait_until_done(poll: Callable[[], T | None], *, what: str, deadline: float,
                    interval: float = 0.5, max_interval: float = 5.0) -> T:
    """Call ``poll`` until it returns non-``None``; raise ``TransientError`` past ``deadline`` seconds."""
    end = time.monotonic() + deadline
    while True:
        result = poll()
        if result is not None:
            return result
        if time.monotonic() >= end:
            raise TransientError(f"{what}: not done after {deadline:.0f}s")
        time.sleep(interval)
        interval = min(interval * 1.5, max_interval)
