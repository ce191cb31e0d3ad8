"""``load_json``: untrusted JSON is read or refused as one ``JsonProblem`` naming its line."""

from __future__ import annotations

import json

import pytest

from mlops_infra.spec.jsonload import MAX_DEPTH, JsonProblem, load_json


def _nested(depth: int) -> str:
    return '{"a": ' * depth + "1" + "}" * depth


def test_plain_json_reads_as_json_loads_reads_it() -> None:
    text = json.dumps({"a": [1, 2.5, "x", None, True, {"b": {}}], "c": "d\\u00e9", "n": -7})
    assert load_json(text) == json.loads(text)
    assert load_json(_nested(MAX_DEPTH - 1)) == json.loads(_nested(MAX_DEPTH - 1))


@pytest.mark.parametrize("text, line, why", [
    ("{\n  \"a\": 1,\n}", 3, "Expecting property name"),
    ("[" * 100_000 + "]" * 100_000, 1, f"nested more than {MAX_DEPTH} levels deep"),
    ("[\n" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), MAX_DEPTH + 1, "nested more than"),
    ("\n" + _nested(MAX_DEPTH + 1), 2, "nested more than"),
    ('{"a":\n' + "9" * 5000 + "}", 2, "an integer of more than 4300 digits"),
    ('{"k": "x",\n "o": {"k": 1, "v": "k"},\n "k": "y"}', 3, "the key 'k' appears twice"),
    ('{"a\\u0062": 1,\n "ab": 2}', 2, "the key 'ab' appears twice"),
])
def test_what_json_loads_lets_through_or_crashes_on_is_one_located_problem(
        text: str, line: int, why: str) -> None:
    with pytest.raises(JsonProblem) as info:
        load_json(text)
    assert info.value.line == line and why in info.value.why, str(info.value)
    assert "\n" not in str(info.value)


def test_long_digits_in_a_string_or_a_real_number_are_not_refused() -> None:
    digits = "9" * 5000
    assert load_json(f'["{digits}", 1.{digits}]')[0] == digits
