"""The apply schedule: dependencies first, failures skip what depends on them, cycles are
reported, and the longest chain is started first when concurrency is bounded. Pure."""

from __future__ import annotations

from mlops_infra.engine.schedule import Schedule


def _drain(schedule: Schedule, limit: int = 1) -> list[str]:
    order = []
    while schedule.has_ready:
        for key in schedule.take(limit):
            order.append(key)
            schedule.finished(key)
    return order


def test_every_key_comes_after_what_it_waits_for() -> None:
    order = _drain(Schedule({"c": {"b"}, "b": {"a"}, "a": set(), "d": {"a", "c"}}))
    assert order.index("a") < order.index("b") < order.index("c") < order.index("d")


def test_a_failure_skips_everything_below_it_and_nothing_else() -> None:
    schedule = Schedule({"a": set(), "b": {"a"}, "c": {"b"}, "x": set()})
    started = schedule.take(10)
    assert sorted(started) == ["a", "x"]
    assert sorted(schedule.failed("a")) == ["b", "c"]
    schedule.finished("x")
    assert not schedule.has_ready and schedule.stuck() == []


def test_keys_waiting_on_each_other_are_reported_as_stuck() -> None:
    schedule = Schedule({"a": {"b"}, "b": {"a"}, "c": set()})
    assert _drain(schedule) == ["c"]
    assert schedule.stuck() == ["a", "b"]


def test_the_longest_chain_starts_first() -> None:
    deps = {"leaf1": set(), "leaf2": set(), "root": set(), "mid": {"root"}, "top": {"mid"}}
    assert Schedule(deps).take(1) == ["root"]


def test_dependencies_outside_the_graph_are_ignored() -> None:
    assert _drain(Schedule({"a": {"not-in-plan"}})) == ["a"]


def test_a_wide_graph_schedules_every_node_once() -> None:
    deps = {f"n{i}": ({f"n{i // 2}"} if i else set()) for i in range(5000)}
    order = _drain(Schedule(deps), limit=64)
    assert sorted(order) == sorted(deps) and len(order) == len(set(order))
