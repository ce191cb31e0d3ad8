"""parse_yaml: data plus a line map, duplicate keys refused, anchors and merges kept."""

from __future__ import annotations

import pytest

from mlops_infra.engine.errors import SpecError
from mlops_infra.spec.yaml_source import parse_yaml


def test_lines_for_keys_and_items():
    data, lines = parse_yaml("a:\n  b: 1\n  c:\n    - x\n    - {d: 2}\n", filename="f.yaml")
    assert data == {"a": {"b": 1, "c": ["x", {"d": 2}]}}
    assert lines.lines["a.b"] == 2 and lines.lines["a.c.1"] == 5 and lines.lines["a.c.1.d"] == 5
    assert lines.line("a.c.1.d.missing") == 5
    assert lines.line("zzz") == 1


def test_duplicate_key_in_flow_mapping():
    with pytest.raises(SpecError, match="duplicate key 'x'") as info:
        parse_yaml("top:\n  m: {x: 1, x: 2}\n", filename="f.yaml")
    assert info.value.location.line == 2 and info.value.field == "top.m.x"


def test_merge_key_override_is_not_a_duplicate():
    data, _ = parse_yaml("base: &b {x: 1, y: 2}\nuse:\n  <<: *b\n  y: 3\nagain: *b\n",
                         filename="f.yaml")
    assert data["use"] == {"x": 1, "y": 3} and data["again"] == {"x": 1, "y": 2}


def test_aliased_mapping_with_merge_is_visited_twice_safely():
    data, _ = parse_yaml("c: &c {z: 0}\nb: &b {<<: *c, z: 2}\nu: *b\nv: *b\n", filename="f.yaml")
    assert data["u"] == data["v"] == {"z": 2}


def test_syntax_error_has_line():
    with pytest.raises(SpecError, match="invalid YAML") as info:
        parse_yaml("a: 1\nb: [1, 2\nc: 3\n", filename="f.yaml")
    assert info.value.location.line is not None and "\n" not in str(info.value)


def test_non_scalar_key_is_refused():
    with pytest.raises(SpecError, match="keys must be scalars"):
        parse_yaml("? [a, b]\n: 1\n", filename="f.yaml")


def test_multiple_documents_are_refused():
    with pytest.raises(SpecError, match="single document"):
        parse_yaml("a: 1\n---\nb: 2\n", filename="f.yaml")


def test_recursive_alias_is_refused():
    with pytest.raises(SpecError, match="recursive alias"):
        parse_yaml("a: &x [1, *x]\n", filename="f.yaml")


@pytest.mark.parametrize("written", ["9223372036854775808", "-9223372036854775809",
                                     "0x8000000000000000", "99_999_999_999_999_999_999"])
def test_an_integer_outside_int64_is_refused_where_it_is_written(written: str) -> None:
    with pytest.raises(SpecError, match="out of the 64-bit integer range") as info:
        parse_yaml(f"a:\n  b: 1\n  c: [1, {written}]\n", filename="f.yaml")
    assert info.value.location.line == 3 and info.value.field == "a.c.1"


def test_the_int64_bounds_themselves_and_floats_and_booleans_load() -> None:
    data, _ = parse_yaml("a: [9223372036854775807, -9223372036854775808, 1.0e+30, true]\n",
                         filename="f.yaml")
    assert data == {"a": [2 ** 63 - 1, -(2 ** 63), 1.0e30, True]}
