"""The ``policy:`` section checked against the guardrail settings the caller declares.

The engine's guardrails read settings such as ``require_cmek`` from ``Spec.policy``; a
misspelt setting or a value of the wrong type must not silently turn a guardrail off,
so when the caller passes the declared settings (name -> type annotation) the section
is validated strictly: an unknown setting gets a 'did you mean' hint, and no coercion
happens (``require_cmek: "yes"`` is not a boolean; YAML lists are ``list[...]``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model

from mlops_infra.spec.hints import clip, did_you_mean
from mlops_infra.spec.source import LineMap, join_path
from mlops_infra.spec.validation import validate_fields


def check_policy(values: dict[Any, Any], settings: Mapping[str, Any] | None,
                 lines: LineMap) -> dict[str, Any]:
    """``values`` (the resolved ``policy:`` mapping) validated against ``settings``;
    unchanged when ``settings`` is ``None``."""
    if settings is None or not values:
        return values
    for key in values:
        if key not in settings:
            known = clip(", ".join(sorted(settings)) or "none", 300)
            raise lines.error(join_path("policy", key),
                              f"unknown policy setting{did_you_mean(str(key), settings)} "
                              f"(settings: {known})")
    return validate_fields(policy_model(settings), values, path="policy", lines=lines)


def policy_model(settings: Mapping[str, Any]) -> type[BaseModel]:
    """A strict model with one optional field per setting (aliased, so any setting name
    works, even one that is not a Python identifier or shadows a pydantic attribute)."""
    fields: dict[str, Any] = {
        f"setting_{index}": (annotation, Field(default=None, alias=name))
        for index, (name, annotation) in enumerate(settings.items())}
    model: type[BaseModel] = create_model(
        "Policy", __config__=ConfigDict(extra="forbid", strict=True), **fields)
    return model
