"""Planning again with the same ``Stack``: it resolves its spec once and reuses it, so a later
plan must equal the plan a freshly loaded stack makes, whatever the earlier plans saw live."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.emulator_services("storage", "bigquery", "iam", "resourcemanager")


def _shape(plan: Any) -> list[tuple[str, str, dict[str, Any], tuple[str, ...]]]:
    return [(c.address, c.action.value, c.outputs, tuple(f.path for f in c.changes))
            for c in plan.resources]


def test_a_later_plan_of_the_same_stack_equals_a_fresh_stacks(spec_file: Path, open_stack) -> None:  # type: ignore[no-untyped-def]
    stack = open_stack(spec_file)
    assert stack.apply(stack.plan()).ok
    seen = stack.plan()                                   # reads live outputs (selfLink)
    assert "selfLink" in next(c for c in seen.resources if c.address == "raw").outputs
    stack.clients.storage().bucket("scn-raw").delete()    # gone behind the stack's back
    later = stack.plan()
    raw = next(c for c in later.resources if c.address == "raw")
    assert raw.action.value == "create" and "selfLink" not in raw.outputs
    assert _shape(later) == _shape(open_stack(spec_file).plan())


def test_a_new_spec_given_to_the_stack_is_resolved_afresh(spec_file: Path, open_stack, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    stack = open_stack(spec_file)
    assert stack.apply(stack.plan()).ok
    other = tmp_path / "other.yaml"
    other.write_text(spec_file.read_text().replace("team: ml, env: dev", "team: ml2, env: dev"))
    stack.spec = open_stack(other).spec
    raw = next(c for c in stack.plan().resources if c.address == "raw")
    assert raw.action.value == "update" and [f.path for f in raw.changes] == ["labels.team"]


def test_a_plan_edited_in_place_leaves_the_next_plan_as_it_was(spec_file: Path, open_stack) -> None:  # type: ignore[no-untyped-def]
    stack = open_stack(spec_file)
    first = stack.plan()
    raw = next(c for c in first.resources if c.address == "raw")
    raw.desired["labels"]["team"] = "edited"
    raw.outputs["url"] = "gs://elsewhere"
    again = next(c for c in stack.plan().resources if c.address == "raw")
    assert again.desired["labels"]["team"] == "ml" and again.outputs["url"] == "gs://scn-raw"
