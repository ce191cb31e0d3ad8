"""Golden cases for the three-way diff: one YAML file per case (desired + live + last -> changes)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pytest
import yaml

from mlops_infra.engine.diff import REDACTED, diff, merge_patch, redact
from mlops_infra.engine.kind import FieldChange

CASES = sorted((Path(__file__).parent / "diff_cases").glob("*.yaml"))


def _expected(items: list[dict]) -> list[dict]:
    return [asdict(FieldChange(**{"old": None, "new": None, **item})) for item in items]


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_diff_case(case: Path) -> None:
    data = yaml.safe_load(case.read_text())
    changes = diff(data["desired"], data["live"], data["last"])
    assert [asdict(c) for c in changes] == _expected(data["expected"])


def test_merge_patch_nests_paths_and_nulls_removals() -> None:
    changes = [FieldChange(path="labels.env", op="add", new="dev"),
               FieldChange(path="labels.old", op="remove", old="x"),
               FieldChange(path="storageClass", op="change", old="A", new="B")]
    assert merge_patch(changes) == {"labels": {"env": "dev", "old": None}, "storageClass": "B"}


def test_redact_replaces_only_secret_paths() -> None:
    value = {"a": {"password": "p", "user": "u"}, "token": "t"}
    assert redact(value, frozenset({"a.password", "token"})) == {
        "a": {"password": REDACTED, "user": "u"}, "token": REDACTED}


def test_redacted_last_applied_list_does_not_force_a_push() -> None:
    desired = {"keys": ["s3cr3t"]}
    assert diff(desired, {"keys": ["s3cr3t"]}, {"keys": [REDACTED]}) == []
