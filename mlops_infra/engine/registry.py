"""The registry of resource kinds: ``kinds/`` modules register here, the engine looks up.

Everything that used to be a hand-kept table elsewhere is derived from the registered
kinds' declarations: the guardrail rules a waiver may name, the ``policy:`` settings a
spec may write, the service agents a grant may name, the endpoints (emulator
services) a set of kinds calls, and which kind maps each Terraform resource type.

Kinds are loaded lazily, one service at a time: a kind ``SERVICE.Name`` lives in the
module or package ``mlops_infra.kinds.SERVICE``, which the ``kinds`` package tells the
registry how to import (``set_loader``); looking up ``storage.Bucket`` imports only the
storage kinds. Asking for every kind (``all_kinds``) imports them all.
"""

from __future__ import annotations

import difflib
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Protocol, TypeVar

from mlops_infra.engine.errors import UserError
from mlops_infra.engine.kind import ClientDecl, Kind, ServiceAgent

V = TypeVar("V")
_KINDS: dict[str, type[Kind]] = {}
_LOADER: Loader | None = None


class Loader(Protocol):
    """Imports kind modules: one service's (``load("storage")``), or all (``load(None)``)."""

    def __call__(self, service: str | None) -> None: ...


def set_loader(loader: Loader) -> None:
    """How to import kinds on demand (called by ``mlops_infra.kinds``)."""
    global _LOADER
    _LOADER = loader


def register(kind: type[Kind]) -> type[Kind]:
    """Class decorator: make ``kind`` available under ``kind.name``."""
    if kind.name in _KINDS and _KINDS[kind.name] is not kind:
        raise RuntimeError(f"two kinds are named {kind.name!r}")
    _KINDS[kind.name] = kind
    return kind


def find(name: str) -> type[Kind] | None:
    """The kind called ``name`` (its service's kinds are imported on first use), or ``None``."""
    if name not in _KINDS and _LOADER is not None and "." in name:
        _LOADER(name.split(".", 1)[0])
    return _KINDS.get(name)


def kind_class(name: str) -> type[Kind]:
    found = find(name)
    if found is None:
        hint = difflib.get_close_matches(name, all_kinds(), n=1)
        suffix = f" (did you mean '{hint[0]}'?)" if hint else ""
        raise UserError(f"unknown kind '{name}'{suffix}") from None
    return found


def all_kinds() -> dict[str, type[Kind]]:
    """Every kind (imports every kind module)."""
    if _LOADER is not None:
        _LOADER(None)
    return dict(_KINDS)


class LazyKinds(Mapping[str, V]):
    """A read-only mapping over kind names that imports a kind's service only when that kind
    is looked up; iterating (or ``len``) imports every kind. ``make(cls)`` builds the value."""

    def __init__(self, make: Callable[[type[Kind]], V]) -> None:
        self._make = make
        self._values: dict[str, V] = {}
        self._lock = threading.Lock()

    def __getitem__(self, name: str) -> V:
        with self._lock:
            if name not in self._values:
                cls = find(name)
                if cls is None:
                    raise KeyError(name)
                self._values[name] = self._make(cls)
            return self._values[name]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and find(name) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(all_kinds()))

    def __len__(self) -> int:
        return len(all_kinds())


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
    return {k.service_agent.name: k.service_agent for k in all_kinds().values() if k.service_agent}


def terraform_types() -> dict[str, type[Kind]]:
    """The kind mapping each google provider resource type (``Kind.terraform_types``)."""
    found: dict[str, type[Kind]] = {}
    for kind in all_kinds().values():
        for tf_type in kind.terraform_types:
            other = found.setdefault(tf_type, kind)
            if other is not kind:
                raise RuntimeError(f"{tf_type} is mapped by both {other.name} and {kind.name}")
    return dict(sorted(found.items()))


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
    return all_kinds().values() if kinds is None else kinds

