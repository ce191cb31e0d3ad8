"""JSON Schema (draft 2020-12) of the spec format, for editors and CI linting.

The envelope is fixed; each kind contributes a resource shape generated from its
pydantic model, selected with ``if kind == K then ...``. Any kind field may also be
written as a ``${...}`` reference, so field schemas also accept a reference string.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic.json_schema import models_json_schema

from mlops_infra.spec.envelope import API_VERSION, LEDGER_KEYS, STACK_RE
from mlops_infra.spec.jsoncopy import copy_json
from mlops_infra.spec.model import KindSchema
from mlops_infra.spec.resources import ADDRESS_RE
from mlops_infra.spec.secrets import ENV_RE

DIALECT = "https://json-schema.org/draft/2020-12/schema"
REFERENCE = {"$ref": "#/$defs/Reference"}
_SUBSCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_SUBSCHEMA_MAPS = ("properties", "patternProperties")


def export_json_schema(kinds: Mapping[str, KindSchema]) -> dict[str, Any]:
    """The JSON Schema of a spec document accepting exactly the given kinds."""
    names = sorted(kinds)
    refs, top = models_json_schema([(kinds[k].model, "validation") for k in names],
                                   ref_template="#/$defs/{model}", by_alias=True)
    defs = {name: _accept_refs_inside(d) for name, d in top.get("$defs", {}).items()}
    for kind in names:
        model_def = defs[refs[(kinds[kind].model, "validation")]["$ref"].rsplit("/", 1)[1]]
        defs[f"resource.{kind}"] = _resource_shape(kind, model_def)
    defs.update(Reference=_reference(), Resource=_resource_switch(names),
                Environment=_environment())
    return {"$schema": DIALECT, "title": "mlops-infra spec", **_envelope(), "$defs": defs}


def _envelope() -> dict[str, Any]:
    return {
        "type": "object", "required": ["apiVersion", "stack", "resources"],
        "additionalProperties": False,
        "properties": {
            "apiVersion": {"const": API_VERSION},
            "stack": {"type": "string", "pattern": STACK_RE.pattern},
            **_settings(),
            "resources": {"type": ["object", "null"],
                          "propertyNames": {"pattern": ADDRESS_RE.pattern},
                          "additionalProperties": {"$ref": "#/$defs/Resource"}},
            "environments": {"type": "object",
                             "additionalProperties": {"$ref": "#/$defs/Environment"}},
        },
    }


def _settings() -> dict[str, Any]:
    """Keys shared by the base document and environment overlays (resources aside)."""
    return {
        "project": {"type": "string"},
        "region": {"type": "string"},
        "vars": {"type": ["object", "null"]},
        "secrets": {"type": ["object", "null"], "additionalProperties": _secret_source(),
                    "description": "where each ${secrets.NAME} comes from (never its value)"},
        "ledger": {"type": ["object", "null"], "additionalProperties": False,
                   "properties": {k: {"type": "string"} for k in LEDGER_KEYS}},
        "policy": {"type": ["object", "null"]},
        "assume": {"type": ["array", "null"], "items": {"type": "string", "minLength": 1},
                   "description": "capabilities that exist outside this spec, e.g. "
                                  "workload-pool:PROJECT.svc.id.goog"},
        "outputs": {"type": ["object", "null"]},
    }


def _secret_source() -> dict[str, Any]:
    return {"oneOf": [
        {"type": "object", "additionalProperties": False, "required": ["env"],
         "properties": {"env": {"type": "string", "pattern": ENV_RE.pattern}}},
        {"type": "object", "additionalProperties": False, "required": ["secretManager"],
         "properties": {"secretManager": {"type": "string"}}},
        {"type": "null"}]}


def _environment() -> dict[str, Any]:
    return {"type": ["object", "null"], "additionalProperties": False,
            "properties": {**_settings(),
                           "resources": {"type": ["object", "null"],
                                         "additionalProperties": {"type": ["object", "null"]}}}}


def _reference() -> dict[str, Any]:
    return {"type": "string", "pattern": r"\$\{[^{}]+\}",
            "description": "a ${vars.NAME}, ${project}, ${region}, ${stack}, ${env}, "
                           "${each.key}, ${each.value}, ${secrets.NAME} or ${ADDRESS.OUTPUT} "
                           "reference"}


def _resource_switch(kinds: list[str]) -> dict[str, Any]:
    return {
        "type": "object", "required": ["kind"],
        "properties": {"kind": {"enum": kinds}},
        "allOf": [{"if": {"required": ["kind"], "properties": {"kind": {"const": k}}},
                   "then": {"$ref": f"#/$defs/resource.{k}"}} for k in kinds],
    }


def _resource_shape(kind: str, model_def: dict[str, Any]) -> dict[str, Any]:
    reserved = {
        "kind": {"const": kind},
        "name": {"type": "string", "minLength": 1},
        "project": {"type": "string", "minLength": 1},
        "dependsOn": {"type": "array", "items": {"type": "string"}},
        "allowDataLoss": {"type": "boolean"},
        "adopt": {"type": "boolean"},
        "allowRestart": {"type": "boolean"},
        "waivers": {"type": "object", "additionalProperties": {"type": "string", "minLength": 10}},
        "forEach": {"anyOf": [{"type": "array", "items": {"type": "string",
                                                          "pattern": r"^[a-z0-9][a-z0-9_-]*$"}},
                              {"type": "object",
                               "propertyNames": {"pattern": r"^[a-z0-9][a-z0-9_-]*$"}},
                              REFERENCE],
                    "description": "one resource per item, at ADDRESS-KEY; ${each.key} and "
                                   "${each.value} inside"},
    }
    return {"type": "object", "additionalProperties": False,
            "properties": {**model_def.get("properties", {}), **reserved},
            "required": ["kind", *model_def.get("required", [])]}


def _accept_refs_inside(schema: dict[str, Any]) -> dict[str, Any]:
    """A copy where every property/item schema also accepts a reference string."""
    out = copy_json(schema)
    for key in _SUBSCHEMA_MAPS:
        if isinstance(out.get(key), dict):
            out[key] = {k: _or_ref(v) for k, v in out[key].items()}
    for key in ("items", "additionalProperties"):
        if isinstance(out.get(key), dict):
            out[key] = _or_ref(out[key])
    for key in _SUBSCHEMA_LISTS:
        if isinstance(out.get(key), list):
            out[key] = [_accept_refs_inside(s) if isinstance(s, dict) else s for s in out[key]]
    return out


def _or_ref(schema: dict[str, Any]) -> dict[str, Any]:
    inner = _accept_refs_inside(schema)
    if schema.get("type") == "string" and len(schema) <= 2:
        return inner
    return {"anyOf": [inner, REFERENCE]}
