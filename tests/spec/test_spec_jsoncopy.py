"""``copy_json``: a deep copy of JSON-shaped values, and ``copy.deepcopy`` for anything else."""

from __future__ import annotations

import copy
import datetime
from collections import OrderedDict
from typing import Any

from mlops_infra.spec.jsoncopy import copy_json


def _resource() -> dict[str, Any]:
    return {"name": "b", "size": 3, "ratio": 0.5, "on": True, "none": None, "empty": {},
            "labels": {"team": "ml"}, "rules": [{"action": {"type": "Delete"}, "ages": [1, 2]}]}


def test_the_copy_is_equal_and_shares_no_container() -> None:
    original = _resource()
    copied = copy_json(original)
    assert copied == original
    copied["labels"]["team"] = "x"
    copied["rules"][0]["action"]["type"] = "SetStorageClass"
    copied["rules"][0]["ages"].append(3)
    copied["empty"]["k"] = 1
    assert original == _resource()


def test_an_object_met_twice_is_copied_twice_not_shared() -> None:
    shared = {"k": [1]}
    copied = copy_json({"a": shared, "b": shared})
    copied["a"]["k"].append(2)
    assert copied["b"] == {"k": [1]} and shared == {"k": [1]}


def test_values_that_are_not_json_go_through_deepcopy() -> None:
    when = datetime.datetime(2026, 12, 1, tzinfo=datetime.UTC)
    ordered = OrderedDict(a=[1])
    original = {"when": when, "pair": (1, [2]), "set": {1, 2}, "ordered": ordered}
    copied = copy_json(original)
    assert copied == copy.deepcopy(original)
    assert type(copied["ordered"]) is OrderedDict and copied["ordered"] is not ordered
    copied["pair"][1].append(3)
    copied["ordered"]["a"].append(2)
    assert original["pair"] == (1, [2]) and ordered == {"a": [1]}


def test_scalars_and_top_level_lists() -> None:
    assert copy_json("s") == "s" and copy_json(None) is None and copy_json(7) == 7
    items = [{"a": 1}, [2]]
    copied = copy_json(items)
    assert copied == items and copied[0] is not items[0] and copied[1] is not items[1]
