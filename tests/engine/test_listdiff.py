"""List changes shown item by item by natural key (pure)."""

from __future__ import annotations

from mlops_infra.engine.kind import FieldChange
from mlops_infra.engine.listdiff import expand_lists

KEYS = {"schema.fields": "name", "schema.fields[].fields": "name", "perms": ""}


def _lines(changes: tuple[FieldChange, ...]) -> list[tuple[str, str, object, object]]:
    return [(c.op, c.path, c.old, c.new) for c in changes]


def test_a_column_added_and_a_mode_relaxed_read_as_such() -> None:
    old = [{"name": "id", "type": "STRING", "mode": "REQUIRED"},
           {"name": "ts", "type": "TIMESTAMP", "mode": "REQUIRED"}]
    new = [{"name": "id", "type": "STRING", "mode": "REQUIRED"},
           {"name": "ts", "type": "TIMESTAMP", "mode": "NULLABLE"},
           {"name": "age", "type": "INTEGER", "mode": "NULLABLE"}]
    shown = expand_lists([FieldChange(path="schema.fields", op="change", old=old, new=new)], KEYS)
    assert _lines(shown) == [
        ("change", 'schema.fields["ts"].mode', "REQUIRED", "NULLABLE"),
        ("add", 'schema.fields["age"]', None, new[2])]


def test_nested_record_fields_expand_too_and_removals_are_listed() -> None:
    old = [{"name": "m", "type": "RECORD", "fields": [{"name": "a", "type": "STRING"}]},
           {"name": "gone", "type": "STRING"}]
    new = [{"name": "m", "type": "RECORD", "fields": [{"name": "a", "type": "STRING"},
                                                        {"name": "b", "type": "FLOAT"}]}]
    shown = expand_lists([FieldChange(path="schema.fields", op="change", old=old, new=new)], KEYS)
    assert _lines(shown) == [
        ("add", 'schema.fields["m"].fields["b"]', None, {"name": "b", "type": "FLOAT"}),
        ("remove", 'schema.fields["gone"]', old[1], None)]


def test_lists_of_scalars_show_each_item_and_creates_expand() -> None:
    shown = expand_lists([FieldChange(path="perms", op="change", old=["a", "b"], new=["b", "c"]),
                          FieldChange(path="schema.fields", op="add",
                                      new=[{"name": "x", "type": "INT64"}])], KEYS)
    assert _lines(shown) == [("add", 'perms["c"]', None, "c"), ("remove", 'perms["a"]', "a", None),
                             ("add", 'schema.fields["x"]', None, {"name": "x", "type": "INT64"})]


def test_lists_without_usable_keys_and_undeclared_paths_stay_whole() -> None:
    duplicated = FieldChange(path="schema.fields", op="change", old=[{"name": "a"}],
                             new=[{"name": "a"}, {"name": "a"}])
    keyless = FieldChange(path="schema.fields", op="change", old=[{"x": 1}], new=[{"x": 2}])
    other = FieldChange(path="labels.env", op="change", old="a", new="b")
    assert expand_lists([duplicated, keyless, other], KEYS) == (duplicated, keyless, other)
