"""Checks of the document envelope: top-level keys, apiVersion, stack, section shapes."""

from __future__ import annotations

import re
from typing import Any

from mlops_infra.spec.hints import clipped_repr, did_you_mean
from mlops_infra.spec.source import LineMap

API_VERSION = "mlops-infra/v1"
STACK_RE = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
ENV_RE = re.compile(r"^[a-z][a-z0-9-]{0,21}$")   # STACK-ENV names a stack: at most 63 characters
TOP_KEYS = ("apiVersion", "stack", "project", "region", "vars", "secrets", "ledger", "policy",
            "assume", "resources", "outputs", "environments")
REQUIRED = ("apiVersion", "stack", "resources")
OVERLAY_KEYS = ("project", "region", "vars", "secrets", "ledger", "policy", "assume", "resources",
                "outputs")
LEDGER_KEYS = ("bucket", "prefix")
MAPPINGS = ("vars", "secrets", "ledger", "policy", "resources", "outputs", "environments")
ATOMIC_ENTRIES = ("secrets",)   # an overlay's entry replaces the base's whole (see overlay)


def check_document(data: Any, lines: LineMap) -> dict[str, Any]:
    """The top-level mapping, or ``SpecError`` for the first envelope problem."""
    if not isinstance(data, dict):
        raise lines.error("", "the spec must be a mapping with apiVersion, stack and resources")
    check_keys(data, TOP_KEYS, "", lines)
    for key in REQUIRED:
        if key not in data:
            raise lines.error("", f"missing required key '{key}'")
    if data["apiVersion"] != API_VERSION:
        raise lines.error("apiVersion", f"must be '{API_VERSION}' (got {clipped_repr(data['apiVersion'])})")
    stack = data["stack"]
    if not isinstance(stack, str) or not STACK_RE.match(stack):
        raise lines.error("stack", f"invalid stack name {clipped_repr(stack)}: use lowercase letters, digits "
                                   "and '-', starting with a letter, at most 40 characters")
    check_sections(data, "", lines)
    for name in data.get("environments") or {}:
        if not isinstance(name, str) or not ENV_RE.match(name):
            raise lines.error(f"environments.{name}",
                              f"invalid environment name {clipped_repr(name)}: use lowercase "
                              "letters, digits and '-', starting with a letter, at most 22 "
                              "characters (the stack of an environment is STACK-ENV)")
    return data


def check_sections(data: dict[str, Any], path: str, lines: LineMap) -> None:
    """Shapes of the sections shared by the base document and environment overlays."""
    prefix = f"{path}." if path else ""
    assumed = data.get("assume")
    if assumed is not None and not (isinstance(assumed, list)
                                    and all(isinstance(a, str) and a for a in assumed)):
        raise lines.error(prefix + "assume", "must be a list of capabilities that exist outside "
                                             "this spec (e.g. 'workload-pool:PROJECT.svc.id.goog')")
    for key in MAPPINGS:
        if data.get(key) is not None and not isinstance(data[key], dict):
            raise lines.error(prefix + key, f"must be a mapping (got {type_name(data[key])})")
    for key in ("project", "region"):
        if data.get(key) is not None and not isinstance(data[key], str):
            raise lines.error(prefix + key, f"must be a string (got {type_name(data[key])})")
    if data.get("ledger"):
        check_keys(data["ledger"], LEDGER_KEYS, prefix + "ledger", lines)


def check_keys(mapping: dict[Any, Any], allowed: tuple[str, ...], path: str,
               lines: LineMap) -> None:
    prefix = f"{path}." if path else ""
    for key in mapping:
        if key not in allowed:
            hint = did_you_mean(str(key), allowed)
            raise lines.error(f"{prefix}{key}", f"unknown key{hint}")


def type_name(value: Any) -> str:
    """Human name of a YAML value's type, for messages."""
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean",
            int: "an integer", float: "a number", type(None): "null"}.get(type(value),
                                                                          type(value).__name__)
