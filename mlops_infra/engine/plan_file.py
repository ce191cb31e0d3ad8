"""Reading a saved plan file safely: one-line errors for anything that is not a plan we wrote.

A plan document carries a ``digest`` (SHA-256 of its canonical JSON without the digest),
so a file damaged in transit or edited by hand is refused instead of applied; its shape
is checked too (actions, dependencies that exist, no cycles), so the executor never
sees a plan it cannot finish.
"""

from __future__ import annotations

from collections import Counter
from graphlib import CycleError, TopologicalSorter
from typing import Any

from mlops_infra.engine.errors import UserError
from mlops_infra.engine.graph import dependency_keys
from mlops_infra.engine.plan import PLAN_FORMAT_VERSION, Action, Plan, ResourceChange, digest_of
from mlops_infra.spec.jsonload import JsonProblem, load_json

_TOP = {"stack": str, "project": str, "spec_path": str, "ledger_location": str,
        "ledger_generation": int, "created_at": str, "resources": list}
_CHANGE_FIELDS = set(ResourceChange.__dataclass_fields__)
_OPS = ("add", "change", "remove")


def parse_plan(text: str, *, source: str) -> Plan:
    """The plan in ``text`` (read from ``source``), or ``UserError`` saying why not."""
    document = _document(text, source)
    _check_version(document, source)
    if document.get("digest") != digest_of(document):
        raise _refuse(source, "its contents do not match its digest (damaged or edited by "
                              "hand); make a new plan with `plan -o`")
    _check_top(document, source)
    changes = [_change(item, i, source) for i, item in enumerate(document["resources"])]
    _check_graph(changes, source)
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


def _change(item: Any, index: int, source: str) -> ResourceChange:
    where = f"resources[{index}]"
    if not isinstance(item, dict):
        raise _refuse(source, f"{where} is not an object")
    unknown = sorted(set(item) - _CHANGE_FIELDS)
    if unknown:
        raise _refuse(source, f"{where} has unknown field(s) {', '.join(unknown)}")
    for key in ("address", "kind", "id"):
        if not isinstance(item.get(key), str):
            raise _refuse(source, f"{where}.{key} is missing or not a string")
    if item.get("action") not in {a.value for a in Action}:
        raise _refuse(source, f"{where}.action {item.get('action')!r} is not an action")
    for i, change in enumerate(item.get("changes", [])):
        if not isinstance(change, dict) or change.get("op") not in _OPS \
                or not isinstance(change.get("path"), str):
            raise _refuse(source, f"{where}.changes[{i}] is not a field change")
    if not isinstance(item.get("depends_on", []), list):
        raise _refuse(source, f"{where}.depends_on must be a list")
    try:
        return ResourceChange.from_dict(item)
    except (TypeError, ValueError) as exc:
        raise _refuse(source, f"{where}: {exc}") from None


def _check_graph(changes: list[ResourceChange], source: str) -> None:
    twice = [key for key, n in Counter(c.key for c in changes).items() if n > 1]
    if twice:
        raise _refuse(source, f"resource {twice[0]} appears twice")
    try:
        list(TopologicalSorter(dependency_keys(changes)).static_order())
    except CycleError as exc:
        raise _refuse(source, "dependency cycle " + " -> ".join(exc.args[1])) from None
