"""Errors inside lists and union shorthands name the item and its line, in the spec's words.

Uses the real kinds (``list[SchemaField] | TableSchema``, ``bool | Versioning``, ...), where
pydantic reports every union member's failure and the wrong one used to win.
"""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict

from mlops_infra.api import kind_schemas
from mlops_infra.engine.errors import SpecError
from mlops_infra.spec import KindSchema, load_spec_text

HEAD = "apiVersion: mlops-infra/v1\nstack: demo\nproject: p\nresources:\n"
TABLE = ("  features: {kind: bigquery.Dataset}\n"
         "  events:\n    kind: bigquery.Table\n    dataset: ${features.name}\n    schema:\n"
         "      - {name: id, type: STRING, mode: REQUIRED}\n"                   # line 10
         "      - {name: ts, type: TIMESTAMP}\n"                                # line 11
         "      - name: payload\n        type: RECORD\n        fields:\n"       # line 12
         "          - {name: k, type: STRING}\n"                                # line 15
         "      - {name: n, type: INT64}\n")                                    # line 16


@pytest.fixture(scope="module")
def real_kinds() -> dict[str, KindSchema]:
    return kind_schemas()


def _error(text: str, kinds) -> SpecError:
    with pytest.raises(SpecError) as info:
        load_spec_text(HEAD + text, filename="events.yaml", kinds=kinds)
    message = str(info.value)
    assert "\n" not in message
    for internal in ("Input should", "instance of", "function-after", "list[", "TableSchema"):
        assert internal not in message, message
    return info.value


def test_the_table_loads(real_kinds):
    spec = load_spec_text(HEAD + TABLE, filename="events.yaml", kinds=real_kinds)
    assert len(spec.resources["events"].fields["schema"]) == 4


@pytest.mark.parametrize("old,new,line,field,fragment", [
    ("{name: n, type: INT64}", "{name: n, type: STRNG}", 16, "schema.3.type",
     "unknown BigQuery column type 'STRNG'"),
    ("{name: ts, type: TIMESTAMP}", "{name: ts, type: TIMESTAMP, mode: REPEATD}", 11,
     "schema.1.mode", "(got 'REPEATD'; did you mean 'REPEATED'?)"),
    ("{name: n, type: INT64}", "{name: n, typ: INT64}", 16, "schema.3.typ",
     "unknown field (did you mean 'type'?)"),
    ("{name: k, type: STRING}", "{name: k, type: STRNG}", 15, "schema.2.fields.0.type",
     "unknown BigQuery column type 'STRNG'"),
    ("{name: k, type: STRING}", "{name: k, type: STRING, descripton: x}", 15,
     "schema.2.fields.0.descripton", "unknown field (did you mean 'description'?)"),
    ("      - {name: n, type: INT64}\n", "      - just-a-string\n", 16, "schema.3",
     "must be a mapping (got 'just-a-string')"),
    ("{name: ts, type: TIMESTAMP}", "{type: TIMESTAMP}", 11, "schema.1.name",
     "required field is missing"),
    ("{name: ts, type: TIMESTAMP}", "{name: ts, type: RECORD}", 11, "schema.1",
     "'fields' is required for RECORD/STRUCT columns"),
])
def test_schema_list_errors_name_the_item(real_kinds, old, new, line, field, fragment):
    err = _error(TABLE.replace(old, new), real_kinds)
    assert err.field == f"resources.events.{field}" and err.location.line == line, str(err)
    assert fragment in str(err)


def test_full_schema_form_names_fields_items(real_kinds):
    text = TABLE.replace("    schema:\n", "    schema:\n     fields:\n").replace(
        "{name: n, type: INT64}", "{name: n, type: STRNG}")
    err = _error(text, real_kinds)
    assert str(err) == ("events.yaml:17: resources.events.schema.fields.3.type: "
                        "unknown BigQuery column type 'STRNG'")


def test_a_typo_in_the_full_form_key_is_found(real_kinds):
    err = _error(TABLE.replace("    schema:\n", "    schema:\n     fieldz:\n"), real_kinds)
    assert str(err) == ("events.yaml:10: resources.events.schema.fieldz: "
                        "unknown field (did you mean 'fields'?)")


def test_a_value_fitting_no_member_lists_what_would(real_kinds):
    err = _error("  b: {kind: bigquery.Table, dataset: d, schema: 12}\n", real_kinds)
    assert str(err) == "events.yaml:5: resources.b.schema: must be a list or a mapping (got 12)"
    err = _error("  b: {kind: storage.Bucket, versioning: 'yes please'}\n", real_kinds)
    assert str(err).endswith("resources.b.versioning: must be a boolean or a mapping "
                             "(got 'yes please')")


def test_the_mapping_member_of_a_shorthand_is_chosen_for_a_mapping(real_kinds):
    err = _error("  b:\n    kind: storage.Bucket\n    versioning: {enabld: true}\n", real_kinds)
    assert str(err) == ("events.yaml:7: resources.b.versioning.enabld: unknown field "
                        "(did you mean 'enabled'?)")


def test_list_shorthand_item_of_the_wrong_type(real_kinds):
    err = _error("  t: {kind: bigquery.Table, dataset: d, clustering: [a, 3]}\n", real_kinds)
    assert err.field == "resources.t.clustering.1" and "must be a valid string (got 3)" in str(err)


def test_length_limits_read_as_item_counts(real_kinds):
    err = _error("  t:\n    kind: bigquery.Table\n    dataset: d\n"
                 "    clustering: {fields: [a, b, c, d, e]}\n", real_kinds)
    assert str(err) == ("events.yaml:8: resources.t.clustering.fields: must have at most "
                        "4 items, not 5")


def test_reference_inside_a_list_item_is_checked_at_plan_time(real_kinds):
    text = TABLE.replace("{name: n, type: INT64}", "{name: n, type: '${features.name}'}")
    spec = load_spec_text(HEAD + text, filename="events.yaml", kinds=real_kinds)
    assert spec.resources["events"].fields["schema"][3]["type"] == "${features.name}"


def test_the_earliest_error_in_the_file_is_reported(real_kinds):
    text = TABLE.replace("{name: ts, type: TIMESTAMP}", "{name: ts, type: TIMESTMP}").replace(
        "{name: k, type: STRING}", "{name: k, type: STRNG}")
    assert _error(text, real_kinds).location.line == 11


# --- nested unions, with models of our own ------------------------------------------------

class Leaf(BaseModel):
    model_config = ConfigDict(extra="forbid")
    size: int


class Box(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[Leaf | str]


class Holder(BaseModel):
    model_config = ConfigDict(extra="forbid")
    content: list[Box] | Box | bool | None = None


NESTED = {"test.Holder": KindSchema(model=Holder, outputs=frozenset({"name"}))}


@pytest.mark.parametrize("content,field,fragment", [
    ("[{items: [a, {size: big}]}]", "content.0.items.1.size", "valid integer"),
    ("{items: [a, {siz: 1}]}", "content.items.1.siz", "did you mean 'size'?"),
    ("{items: [a, 7]}", "content.items.1", "must be a mapping or a string (got 7)"),
    ("[{itms: []}]", "content.0.itms", "did you mean 'items'?"),
    ("[{items: [a, {size: 1}]}, 3]", "content.1", "must be a mapping (got 3)"),
])
def test_nested_unions_report_the_branch_that_matches(content, field, fragment):
    with pytest.raises(SpecError) as info:
        load_spec_text(HEAD + f"  h:\n    kind: test.Holder\n    content: {content}\n",
                       filename="h.yaml", kinds=NESTED)
    assert info.value.field == f"resources.h.{field}", str(info.value)
    assert fragment in str(info.value) and info.value.location.line == 7
