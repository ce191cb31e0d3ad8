"""The retry layer's classification and the long-running-operation wait."""

from __future__ import annotations

import pytest

from mlops_infra.engine.errors import (
    EventuallyConsistent,
    GaveUpWaiting,
    PermanentError,
    PreconditionFailed,
    TransientError,
)
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
    fn, _calls = _flaky([PreconditionFailed("412")])
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


# --- eventual consistency ---------------------------------------------------------------------

SLOW = RetryPolicy(attempts=2, initial=0.001, maximum=0.002, deadline=5,
                   consistency_deadline=0.3, consistency_initial=0.01, consistency_maximum=0.02)


def _waiting(what: str = "the thing to propagate") -> EventuallyConsistent:
    return EventuallyConsistent("403 not yet", waiting_for=what, status=403)


def test_eventual_consistency_outlasts_the_ordinary_attempts() -> None:
    fn, calls = _flaky([_waiting()] * 6)
    assert call_with_retries(fn, policy=SLOW) == "ok"
    assert len(calls) == 7 > SLOW.attempts


def test_eventual_consistency_does_not_use_up_ordinary_attempts() -> None:
    fn, calls = _flaky([_waiting(), TransientError("503"), _waiting()])
    assert call_with_retries(fn, policy=SLOW) == "ok" and len(calls) == 4


def test_giving_up_says_what_was_awaited_and_for_how_long() -> None:
    fn, _calls = _flaky([_waiting("the Compute Engine API to finish enabling")] * 10_000)
    with pytest.raises(GaveUpWaiting) as caught:
        call_with_retries(fn, policy=SLOW)
    error = caught.value
    assert error.waiting_for == "the Compute Engine API to finish enabling"
    assert error.waited >= SLOW.consistency_deadline
    assert "gave up after waiting" in str(error) and "limit 0s" in str(error)
    assert not isinstance(error, TransientError)


def test_the_scale_shortens_the_consistency_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLOPS_INFRA_RETRY_SCALE", "0.01")
    policy = RetryPolicy.from_env()
    assert policy.consistency_deadline == pytest.approx(6.0)
    assert policy.deadline == RetryPolicy().deadline


def test_read_modify_write_redos_do_not_use_up_attempts() -> None:
    fn, calls = _flaky([PreconditionFailed("412")] * 12 + [TransientError("503")])
    assert call_with_retries(fn, policy=FAST, retry_preconditions=True) == "ok"
    assert len(calls) == 14 > FAST.attempts


@pytest.mark.parametrize("duration, most_polls", [(1.0, 25), (600.0, 90)])
def test_waiting_polls_in_proportion_to_the_time_elapsed(duration: float, most_polls: int) -> None:
    now = [0.0]
    polls: list[float] = []

    def poll() -> str | None:
        polls.append(now[0])
        return "done" if now[0] >= duration else None

    def sleep(seconds: float) -> None:
        now[0] += seconds

    wait_until_done(poll, what="op", deadline=3600, interval=0.05, fraction=0.1,
                    clock=lambda: now[0], sleep=sleep)
    assert polls[-1] - duration <= 0.11 * duration + 0.05   # seen done soon after it finished
    assert len(polls) <= most_polls                        # not a poll per interval throughout


def test_an_interrupted_apply_stops_every_wait_at_once_and_is_never_retried() -> None:
    import threading

    from mlops_infra.engine.errors import StoppedWaiting
    from mlops_infra.engine.waiting import resume_waiting, stop_waiting

    polls: list[int] = []
    raised: list[BaseException] = []

    def wait_long() -> None:
        try:            # a ten-minute operation, polled every 30 s once it has run a while
            call_with_retries(lambda: wait_until_done(lambda: polls.append(1), what="cluster ml",
                                                      deadline=600, interval=30), policy=FAST)
        except StoppedWaiting as exc:
            raised.append(exc)

    waiter = threading.Thread(target=wait_long)
    try:
        waiter.start()
        while not polls:
            threading.Event().wait(0.001)
        stop_waiting()
        waiter.join(timeout=5)
        assert not waiter.is_alive() and len(raised) == 1 and len(polls) == 1
        assert "the next run waits on it" in str(raised[0])
    finally:
        resume_waiting()
    assert wait_until_done(lambda: "done", what="op", deadline=1) == "done"
