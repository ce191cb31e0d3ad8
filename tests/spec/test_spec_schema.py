"""export_json_schema: the generated schema accepts good specs and rejects bad ones."""

from __future__ import annotations

import jsonschema
import pytest
import yaml

from mlops_infra.spec import export_json_schema


@pytest.fixture
def validator(kinds):
    schema = export_json_schema(kinds)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _doc(resources: dict, **extra) -> dict:
    return {"apiVersion": "mlops-infra/v1", "stack": "demo", "project": "p",
            "resources": resources, **extra}


def test_good_spec_is_valid(validator, fixtures):
    doc = yaml.safe_load((fixtures / "good.yaml").read_text())
    assert list(validator.iter_errors(doc)) == []


@pytest.mark.parametrize("doc", [
    _doc({"a": {"kind": "test.Bucket", "storageClas": "X"}}),          # unknown field
    _doc({"a": {"kind": "test.Bucket", "retentionDays": "many"}}),     # wrong type
    _doc({"a": {"kind": "test.Buckt"}}),                               # unknown kind
    _doc({"a": {"location": "US"}}),                                   # no kind
    _doc({"a": {"kind": "test.Table"}}),                               # missing required field
    _doc({"a": {"kind": "test.Bucket", "versioning": {"enabld": True}}}),  # nested unknown
    _doc({"Bad": {"kind": "test.Bucket"}}),                            # bad address
    _doc({}, resorces={}),                                             # unknown top-level key
    {**_doc({}), "apiVersion": "v2"},                                  # wrong apiVersion
    _doc({}, environments={"dev": {"stack": "x"}}),                    # stack not overlayable
], ids=["unknown-field", "wrong-type", "unknown-kind", "no-kind", "missing-required",
        "nested-unknown", "bad-address", "unknown-top-key", "api-version", "env-key"])
def test_bad_spec_is_rejected(validator, doc):
    assert list(validator.iter_errors(doc)) != []


def test_references_are_accepted_for_any_field_type(validator):
    doc = _doc({"a": {"kind": "test.Bucket", "retentionDays": "${vars.days}",
                      "versioning": "${vars.v}", "tags": ["${vars.t}"]}})
    assert list(validator.iter_errors(doc)) == []


def test_schema_lists_every_kind(kinds):
    schema = export_json_schema(kinds)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$defs"]["Resource"]["properties"]["kind"]["enum"] == sorted(kinds)
