"""Golden cases for the three-way diff: one YAML file per case (desired + live + last -> changes)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pytest
import yaml

from mlops_infra.engine import paths
from mlops_infra.engine.diff import diff, without_paths
from mlops_infra.engine.kind import FieldChange
from mlops_infra.engine.sensitive import SHOWN, digest, shown_form, stored_form

CASES = sorted((Path(__file__).parent / "diff_cases").glob("*.yaml"))


def _expected(items: list[dict]) -> list[dict]:
    return [asdict(FieldChange(**{"old": None, "new": None, **item})) for item in items]


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_diff_case(case: Path) -> None:
    data = yaml.safe_load(case.read_text())
    changes = diff(data["desired"], data["live"], data["last"])
    assert [asdict(c) for c in changes] == _expected(data["expected"])


def test_without_paths_drops_only_the_named_leaves() -> None:
    value = {"bindings": {"roles/a": {"user:x": True, "user:y": True}}, "etag": "e"}
    dropped = without_paths(value, [paths.join_all(["bindings", "roles/a", "user:x"]), "etag"])
    assert dropped == {"bindings": {"roles/a": {"user:y": True}}}


def test_stored_form_digests_secret_paths_and_shown_form_hides_them() -> None:
    class Secretive:
        secret_fields = frozenset({"a.password", "token"})

    value = {"a": {"password": "hunter2", "user": "u"}, "token": "xoxb-1"}
    stored = stored_form(value, Secretive())
    assert stored["a"]["user"] == "u" and stored["a"]["password"] == digest("hunter2")
    assert "hunter2" not in str(stored) and stored["token"] == digest("xoxb-1") != digest("hunter2")
    assert shown_form(value, Secretive.secret_fields) == {
        "a": {"password": SHOWN, "user": "u"}, "token": SHOWN}
    assert value == {"a": {"password": "hunter2", "user": "u"}, "token": "xoxb-1"}   # untouched


def test_a_digested_last_applied_list_does_not_force_a_push() -> None:
    desired = {"keys": ["s3cr3t"]}
    assert diff(desired, {"keys": ["s3cr3t"]}, {"keys": digest(["s3cr3t"])}) == []


def test_lists_declared_as_sets_never_diff_on_order_only() -> None:
    desired = {"ranges": ["10.0.0.0/8", "${vpc.cidr}"], "ordered": ["a", "b"]}
    live = {"ranges": ["${vpc.cidr}", "10.0.0.0/8"], "ordered": ["b", "a"]}
    changes = diff(desired, live, unordered=frozenset({"ranges"}))
    assert [c.path for c in changes] == ["ordered"]
    assert [c.path for c in diff(desired, {**live, "ranges": ["10.0.0.0/8"]},
                                 unordered=frozenset({"ranges"}))] == ["ranges", "ordered"]
    last = {"ranges": list(reversed(desired["ranges"]))}       # reordered in the spec since
    assert diff(desired, desired, last, unordered=frozenset({"ranges"})) == []


class _InputOnly:
    """A kind whose ``owner`` the API takes but never returns (field_behavior INPUT_ONLY)."""

    local_fields: frozenset[str] = frozenset()
    set_paths: frozenset[str] = frozenset()
    input_only = frozenset({"owner", "disk.key"})


def test_input_only_fields_are_compared_with_what_was_last_applied() -> None:
    from mlops_infra.engine.diff import compare

    kind = _InputOnly()
    applied = {"owner": "alice", "disk": {"key": "k1", "size": "10"}, "size": 1}
    live = {"disk": {"size": "10"}, "size": 1}            # what the API answers
    assert compare(kind, applied, live, applied) == []     # no perpetual diff
    assert compare(kind, applied, live) == []              # no record (an adoption): as written
    changed = {**applied, "owner": "bob", "disk": {"key": "k2", "size": "10"}}
    assert {(c.path, c.old, c.new) for c in compare(kind, changed, live, applied)} == {
        ("owner", "alice", "bob"), ("disk.key", "k1", "k2")}
    dropped = {"disk": {"size": "10"}, "size": 1}
    assert [(c.path, c.op) for c in compare(kind, dropped, live, applied)] == [
        ("owner", "remove"), ("disk.key", "remove")]
    added = compare(kind, {**applied, "owner": "alice"}, live, {"disk": {"size": "10"}, "size": 1})
    assert {c.path for c in added} == {"owner", "disk.key"}   # written after the create
