"""find_refs / resolve_refs: the plan-time half of ${ADDRESS.OUTPUT} references."""

from __future__ import annotations

import pytest

from mlops_infra.engine.errors import SpecError
from mlops_infra.spec import find_refs, resolve_refs

OUTPUTS = {("a", "url"): "gs://a", ("a", "size"): 3, ("b", "meta"): {"k": "v"}}


def _lookup(address: str, output: str):
    return OUTPUTS[(address, output)]


def test_find_refs_in_nested_values():
    value = {"x": ["${a.url}", {"y": "pre ${b.meta} ${a.size}"}], "z": 3, "e": "$${c.d}"}
    assert find_refs(value) == {("a", "url"), ("b", "meta"), ("a", "size")}


def test_find_refs_ignores_plain_strings():
    assert find_refs({"x": "no refs $ here {}", "y": None}) == set()


def test_lone_reference_keeps_type():
    assert resolve_refs({"n": "${a.size}", "m": "${b.meta}"}, _lookup) == {"n": 3, "m": {"k": "v"}}


def test_interpolation_and_escapes():
    out = resolve_refs(["${a.url}/x-${a.size}", "$${a.url} is ${a.url}"], _lookup)
    assert out == ["gs://a/x-3", "${a.url} is gs://a"]


def test_escape_alone_becomes_literal():
    assert resolve_refs("$${literal}", _lookup) == "${literal}"


def test_mapping_cannot_be_interpolated():
    with pytest.raises(SpecError, match="cannot be interpolated"):
        resolve_refs("x ${b.meta}", _lookup)


def test_whitespace_inside_reference_is_allowed():
    assert resolve_refs("${ a.url }", _lookup) == "gs://a"


def test_input_is_not_modified():
    value = {"x": ["${a.url}"]}
    resolve_refs(value, _lookup)
    assert value == {"x": ["${a.url}"]}
