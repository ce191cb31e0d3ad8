"""The registry of resource kinds: ``kinds/`` modules register here, the engine looks up.

Everything that used to be a hand-kept table elsewhere is derived from the registered
kinds' declarations: the guardrail rules a waiver may name, the ``policy:`` settings a
spec may write, the service agents a grant may name, and the endpoints (emulator
services) a set of kinds calls.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

from mlops_infra.engine.errors import UserError
from mlops_infra.engine.kind import ClientDecl, Kind, ServiceAgent

_KINDS: dict[str, type[Kind]] = {}


def register(kind: type[Kind]) -> type[Kind]:
    """Class decorator: make ``kind`` available under ``kind.name``."""
    if kind.name in _KINDS and _KINDS[kind.name] is not kind:
        raise RuntimeError(f"two kinds are named {kind.name!r}")
    _KINDS[kind.name] = kind
    return kind


def kind_class(name: str) -> type[Kind]:
    try:
        return _KINDS[name]
    except KeyError:
        hint = difflib.get_close_matches(name, _KINDS, n=1)
        suffix = f" (did you mean '{hint[0]}'?)" if hint else ""
        raise UserError(f"unknown kind '{name}'{suffix}") from None


def all_kinds() -> dict[str, type[Kind]]:
    return dict(_KINDS)


def guardrail_rules(kinds: Iterable[type[Kind]] | None = None) -> dict[str, str]:
    """Every guardrail rule the kinds declare: rule -> what it requires."""
    rules: dict[str, str] = {}
    for kind in _chosen(kinds):
        rules.update(kind.guardrails)
    return dict(sorted(rules.items()))


def policy_settings(kinds: Iterable[type[Kind]] | None = None) -> dict[str, Any]:
    """Every ``policy:`` setting the kinds read: name -> type."""
    settings: dict[str, Any] = {}
    for kind in _chosen(kinds):
        settings.update(kind.policy_settings)
    return dict(sorted(settings.items()))


def service_agents() -> dict[str, ServiceAgent]:
    """Service agents by name (``storage``, ``bigquery`` ...), as the kinds declare them."""
    return {k.service_agent.name: k.service_agent for k in _KINDS.values() if k.service_agent}


def endpoints_of(kinds: Iterable[type[Kind]]) -> list[str]:
    """The endpoints (= emulator services) these kinds call, agents' included, sorted."""
    names: set[str] = set()
    for kind in kinds:
        names.update(decl.endpoint for decl in _decls(kind))
    return sorted(names)


def _decls(kind: type[Kind]) -> Iterable[ClientDecl]:
    yield from kind.uses
    if kind.service_agent:
        yield from kind.service_agent.uses


def _chosen(kinds: Iterable[type[Kind]] | None) -> Iterable[type[Kind]]:
    return _KINDS.values() if kinds is None else kinds

