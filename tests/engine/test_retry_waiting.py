"""The retry layer's classification and the long-running-operation wait."""

from __future__ import annotations

import pytest

from mlops_infra.engine.errors import PermanentError, PreconditionFailed, TransientError
from mlops_infra.engine.retry import RetryPolicy, call_with_retries
from mlops_infra.engine.waiting import wait_until_done

FAST = RetryPolicy(attempts=4, initial=0.001, maximum=0.002, deadline=5)


def _flaky(errors: list[Exception], value: str = "ok"):  # type: ignore[no-untyped-def]
    calls: list[int] = []

    def fn() -> str:
        calls.append(1)
        if errors:
            raise errors.pop(0)
        return value
    return fn, calls


def test_transient_errors_are_retried_until_success() -> None:
    fn, calls = _flaky([TransientError("503"), TransientError("429")])
    assert call_with_retries(fn, policy=FAST) == "ok" and len(calls) == 3


def test_permanent_errors_are_not_retried() -> None:
    fn, calls = _flaky([PermanentError("400")])
    with pytest.raises(PermanentError):
        call_with_retries(fn, policy=FAST)
    assert len(calls) == 1


def test_preconditions_retry_only_when_asked() -> None:
    fn, calls = _flaky([PreconditionFailed("412")])
    with pytest.raises(PreconditionFailed):
        call_with_retries(fn, policy=FAST)
    fn, calls = _flaky([PreconditionFailed("412")])
    assert call_with_retries(fn, policy=FAST, retry_preconditions=True) == "ok"


def test_attempts_are_bounded() -> None:
    fn, calls = _flaky([TransientError("503")] * 10)
    with pytest.raises(TransientError):
        call_with_retries(fn, policy=FAST)
    assert len(calls) == FAST.attempts


def test_wait_until_done_returns_the_first_result() -> None:
    polls = iter([None, None, {"done": True}])
    assert wait_until_done(lambda: next(polls), what="op", deadline=5, interval=0.001) == {"done": True}


def test_wait_until_done_gives_up_at_the_deadline() -> None:
    with pytest.raises(TransientError, match="op-1: not done"):
        wait_until_done(lambda: None, what="op-1", deadline=0.01, interval=0.002)
