"""Reading a saved plan file safely: one-line errors for anything that is not a plan we wrote.

A plan document carries a ``digest`` (SHA-256 of its canonical JSON without the digest),
so a file damaged in transit or edited by hand is refused instead of applied. The digest
is not a signature (anyone can recompute it), so the whole document is checked too, before
the lock is taken and before any call: every field of every change has the type the
executor relies on (``desired`` an object where the action applies one), the actions are
actions, each ``depends_on`` names a resource of the plan, there are no cycles, and, given
the kinds (``check_kinds``), each kind is one this installation knows and each API name
one of that kind's, consistent with the scope and parts the kind will be called with.
The executor thus never meets a plan it cannot finish: no change is made by a plan that
would fail halfway on its own shape.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from graphlib import CycleError, TopologicalSorter
from typing import Any

from mlops_infra.engine.errors import UserError
from mlops_infra.engine.graph import dependency_keys
from mlops_infra.engine.kind import FieldChange, Kind
from mlops_infra.engine.ledger_check import unknown_kind
from mlops_infra.engine.plan import PLAN_FORMAT_VERSION, Action, Plan, ResourceChange, digest_of
from mlops_infra.spec.jsonload import JsonProblem, load_json

_TOP = {"stack": str, "project": str, "spec_path": str, "ledger_location": str,
        "ledger_generation": int, "created_at": str, "resources": list}
_OPS = ("add", "change", "remove")
_APPLYING = {Action.CREATE.value, Action.UPDATE.value, Action.REPLACE.value}   # need ``desired``


def _text(value: Any) -> bool:
    return isinstance(value, str)


def _text_or_null(value: Any) -> bool:
    return value is None or isinstance(value, str)


def _object(value: Any) -> bool:
    return isinstance(value, dict)


def _object_or_null(value: Any) -> bool:
    return value is None or isinstance(value, dict)


def _texts(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _text_map(value: Any) -> bool:
    return isinstance(value, dict) and all(isinstance(v, str) for v in value.values())


def _flag(value: Any) -> bool:
    return isinstance(value, bool)


# Every field of ResourceChange: what its JSON must be (the first four are required).
_FIELDS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "address": (_text, "a string"), "kind": (_text, "a string"), "id": (_text, "a string"),
    "action": (_text, "a string"), "scope": (_text, "a string"),
    "reason": (_text_or_null, "a string or null"), "blocked": (_text_or_null, "a string or null"),
    "adopt_reason": (_text_or_null, "a string or null"),
    "previous_id": (_text_or_null, "a string or null"),
    "moved_from": (_text_or_null, "a string or null"), "restart": (_text_or_null, "a string or null"),
    "desired": (_object_or_null, "an object or null"),
    "last_applied": (_object_or_null, "an object or null"), "outputs": (_object, "an object"),
    "parts": (_text_map, "an object of strings"), "waivers": (_text_map, "an object of strings"),
    "depends_on": (_texts, "a list of strings"), "exact": (_texts, "a list of strings"),
    "preexisting": (_texts, "a list of strings"), "notes": (_texts, "a list of strings"),
    "secret_paths": (_texts, "a list of strings"),
    "adopt": (_flag, "true or false"), "allow_data_loss": (_flag, "true or false"),
    "changes": (lambda v: isinstance(v, list), "a list"),
}
_REQUIRED = ("address", "kind", "id", "action")
_CHANGE_KEYS = set(FieldChange.__dataclass_fields__)
_ADDRESS = re.compile(r"[^\s\x00-\x1f\x7f]+")


def parse_plan(text: str, *, source: str, kinds: Mapping[str, Kind] | None = None) -> Plan:
    """The plan in ``text`` (read from ``source``), or ``UserError`` saying why not; with
    ``kinds``, its kinds and API names are checked too (``check_kinds``)."""
    document = _document(text, source)
    _check_version(document, source)
    if document.get("digest") != digest_of(document):
        raise _refuse(source, "its contents do not match its digest (damaged or edited by "
                              "hand); make a new plan with `plan -o`")
    _check_top(document, source)
    changes = [_change(item, i, source) for i, item in enumerate(document["resources"])]
    _check_graph(changes, source)
    if kinds is not None:
        check_kinds(changes, kinds, source=source)
    return Plan.from_dict({**document, "resources": [c.to_dict() for c in changes]})


def _refuse(source: str, why: str) -> UserError:
    return UserError(f"{source}: not a usable plan: {why}")


def _document(text: str, source: str) -> dict[str, Any]:
    try:
        document = load_json(text)
    except JsonProblem as exc:
        raise _refuse(source, f"not JSON ({exc})") from None
    if not isinstance(document, dict):
        raise _refuse(source, "expected a JSON object")
    return document


def _check_version(document: dict[str, Any], source: str) -> None:
    version = document.get("format_version")
    if version != PLAN_FORMAT_VERSION:
        raise _refuse(source, f"format_version {version!r} is not supported (this version "
                              f"reads {PLAN_FORMAT_VERSION}); make a new plan")


def _check_top(document: dict[str, Any], source: str) -> None:
    for key, kind in _TOP.items():
        value = document.get(key)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise _refuse(source, f"'{key}' is missing or not a {kind.__name__}")
    if document.get("env") is not None and not isinstance(document["env"], str):
        raise _refuse(source, "'env' must be a string or null")
    for key, check, what in (("outputs", _object, "an object"), ("ledger_sync", _flag,
                             "true or false"), ("notes", _texts, "a list of strings")):
        if key in document and not check(document[key]):
            raise _refuse(source, f"'{key}' must be {what}")


def _change(item: Any, index: int, source: str) -> ResourceChange:
    where = f"resources[{index}]"
    if not isinstance(item, dict):
        raise _refuse(source, f"{where} is not an object")
    unknown = sorted(set(item) - set(_FIELDS))
    if unknown:
        raise _refuse(source, f"{where} has unknown field(s) {', '.join(unknown)}")
    for key in _REQUIRED:
        if key not in item:
            raise _refuse(source, f"{where}.{key} is missing")
    if not isinstance(item["address"], str) or not _ADDRESS.fullmatch(item["address"]):
        raise _refuse(source, f"{where}.address must be a non-empty string without blanks or "
                              f"control characters, not {item['address']!r}")
    where = f"{where} ({item['address']})"
    for key, value in item.items():
        check, what = _FIELDS[key]
        if not check(value):
            raise _refuse(source, f"{where}: {key} must be {what}")
    if item["action"] not in {a.value for a in Action}:
        raise _refuse(source, f"{where}: action {item['action']!r} is not an action")
    if item["action"] in _APPLYING and not isinstance(item.get("desired"), dict):
        raise _refuse(source, f"{where}: a {item['action']} needs its desired state (an object)")
    for i, change in enumerate(item.get("changes", [])):
        if not _field_change(change):
            raise _refuse(source, f"{where}: changes[{i}] is not a field change")
    return ResourceChange.from_dict(item)


def _field_change(change: Any) -> bool:
    return (isinstance(change, dict) and set(change) <= _CHANGE_KEYS
            and change.get("op") in _OPS and isinstance(change.get("path"), str)
            and isinstance(change.get("forces_replace", False), bool))


def _check_graph(changes: list[ResourceChange], source: str) -> None:
    twice = [key for key, n in Counter(c.key for c in changes).items() if n > 1]
    if twice:
        raise _refuse(source, f"resource {twice[0]!r} appears twice")
    addresses = {c.address for c in changes}
    for index, change in enumerate(changes):
        missing = [a for a in change.depends_on if a not in addresses]
        if missing:
            raise _refuse(source, f"resources[{index}] ({change.address}) depends on "
                                  f"{missing[0]!r}, which is not in the plan")
    try:
        list(TopologicalSorter(dependency_keys(changes)).static_order())
    except CycleError as exc:
        raise _refuse(source, "dependency cycle " + " -> ".join(exc.args[1])) from None


def check_kinds(changes: Sequence[ResourceChange], kinds: Mapping[str, Kind], *,
                source: str = "plan") -> None:
    """``UserError`` naming the first change whose kind this installation does not know, or
    whose API names are none of its kind's (or disagree with the scope and parts it carries:
    the kind is called with those)."""
    for index, change in enumerate(changes):
        problem = _kind_problem(change, kinds)
        if problem:
            raise _refuse(source, f"resources[{index}] ({change.address}): {problem}")


def _kind_problem(change: ResourceChange, kinds: Mapping[str, Kind]) -> str | None:
    kind = kinds.get(change.kind)
    if kind is None:
        return unknown_kind(change.kind, kinds)
    if not change.id:
        if kind.naming == "server" and change.action in (Action.CREATE, Action.NOOP):
            return None             # named by the server once created
        return "no id: only a server-named kind's create has no API name yet"
    for label, name in (("id", change.id), ("previous_id", change.previous_id)):
        problem = kind.name_problem(name) if name else None
        if problem:
            return f"{label} {name!r}: {problem}"
    rid = kind.id_from_name(change.id)
    if (rid.scope, rid.parts) != (change.scope, change.parts):
        return f"its scope and parts are not those of its id {change.id!r}"
    if change.moved_from is not None and not change.moved_from.startswith(f"{change.kind}:"):
        return f"moved_from {change.moved_from!r} is no {change.kind} of the ledger"
    return None
