"""The loaded, validated spec: ``Spec``, ``ResourceSpec`` and the ``KindSchema`` callers pass in."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from pydantic import BaseModel

from mlops_infra.spec.errors import SourceLocation
from mlops_infra.spec.refs import find_refs
from mlops_infra.spec.secrets import SecretSource


@dataclass(frozen=True)
class KindSchema:
    """What the spec package needs to know about a kind: its field model and output names."""

    model: type[BaseModel]
    outputs: frozenset[str]


@dataclass(frozen=True)
class ResourceSpec:
    """One resource after environment overlay, variable resolution and validation.

    ``fields`` are the kind fields (dumped by alias from the validated model, only
    those the user set); strings may still hold ``${ADDRESS.OUTPUT}`` references and
    ``$${`` escapes: pass them through ``resolve_refs`` before use.
    """

    address: str
    kind: str
    name: str
    project: str
    region: str | None
    fields: dict[str, Any]
    depends_on: frozenset[str]
    allow_data_loss: bool
    location: SourceLocation
    waivers: Mapping[str, str] = field(default_factory=dict)   # guardrail rule -> reason
    adopt: bool = False             # take over an existing resource that is not provably ours
    allow_restart: bool = False     # changes that need the resource stopped may stop it
    field_lines: Mapping[str, int] = field(default_factory=dict, compare=False)

    @cached_property
    def refs(self) -> frozenset[tuple[str, str]]:
        """The ``(address, output)`` pairs ``fields`` refer to (found once: every plan asks)."""
        return frozenset(find_refs(self.fields))

    def field_location(self, path: str) -> SourceLocation:
        """file:line of a dotted field path (nearest parent when not written literally)."""
        while path:
            if path in self.field_lines:
                return SourceLocation(self.location.file, self.field_lines[path])
            path = path.rpartition(".")[0]
        return self.location


@dataclass(frozen=True)
class Spec:
    """A whole loaded spec; ``resources`` are in dependency order (dependencies first)."""

    path: str
    stack: str
    project: str
    region: str | None
    env: str | None
    vars: dict[str, Any]
    ledger_bucket: str
    ledger_prefix: str
    policy: dict[str, Any]
    resources: dict[str, ResourceSpec]
    outputs: dict[str, Any]
    assume: tuple[str, ...] = ()    # capabilities provided outside the spec (no edge, no error)
    secrets: Mapping[str, SecretSource] = field(default_factory=dict)  # name -> where its value
                                    # comes from; fields keep ${secrets.NAME} (engine.sensitive)

    def order(self) -> list[str]:
        """Addresses in topological order: every resource after those it depends on."""
        return list(self.resources)
