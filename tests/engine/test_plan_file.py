"""``engine.plan_file``: every field of a saved plan's changes is checked before it is used."""

from __future__ import annotations

import json

import pytest

from mlops_infra.engine import plan_file
from mlops_infra.engine.errors import UserError
from mlops_infra.engine.plan import Action, Plan, ResourceChange


def _document(**change: object) -> str:
    item = ResourceChange(address="raw", kind="t.Thing", id="projects/p/things/raw",
                          action=Action.CREATE, desired={"a": 1}).to_dict()
    plan = Plan(stack="s", project="p", env=None, spec_path="s.yaml", ledger_location="x",
                ledger_generation=0, created_at="now", resources=())
    document = json.loads(plan.to_json())
    document["resources"] = [{**item, **change}]
    document["digest"] = plan_file.digest_of(document)
    return json.dumps(document)


def test_every_field_of_a_planned_change_has_a_check() -> None:
    assert set(plan_file._FIELDS) == set(ResourceChange.__dataclass_fields__)


@pytest.mark.parametrize("field, value", [
    ("address", ""), ("id", 7), ("desired", "x"), ("last_applied", []), ("outputs", None),
    ("parts", {"a": 1}), ("waivers", []), ("depends_on", "raw"), ("exact", [1]),
    ("adopt", 1), ("reason", {}), ("scope", None), ("changes", {}), ("secret_paths", [None]),
])
def test_a_field_of_the_wrong_type_is_refused_naming_it(field: str, value: object) -> None:
    with pytest.raises(UserError, match=rf"^p\.json: not a usable plan: resources\[0\].*{field}"):
        plan_file.parse_plan(_document(**{field: value}), source="p.json")


def test_a_well_formed_change_reads_back() -> None:
    (change,) = plan_file.parse_plan(_document(), source="p.json").resources
    assert change.desired == {"a": 1} and change.action is Action.CREATE
