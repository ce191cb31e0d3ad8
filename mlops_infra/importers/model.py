"""The importer's working data: one ``Entry`` per spec resource, what was left out and why.

An ``Entry`` starts as a kind's ``Imported`` (literal values) and is then given its address,
its references (``references``), its secrets (``secrets``) and its place in the folded spec
(``compose``). Everything a run leaves out (a type no kind maps, a Google-managed resource,
a data source) is a ``Skipped`` with its reason, shown at the end of the summary.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

SkipCategory = Literal["unmapped", "not importable", "google-managed", "data source",
                       "other stack", "unreadable", "ledger"]


@dataclass
class Entry:
    """One resource of the spec being written (for one environment)."""

    address: str
    kind: str
    name: str
    project: str | None
    region: str | None
    fields: dict[str, Any]
    origin: str                         # the Terraform address or the API name it came from
    notes: list[str] = field(default_factory=list)
    secrets: dict[str, str] = field(default_factory=dict)   # field path -> what it holds
    waivers: dict[str, str] = field(default_factory=dict)
    api_name: str = ""                  # for kinds whose names the server chose


@dataclass(frozen=True)
class Skipped:
    """Something found but not imported (never in the spec, never in the ledger)."""

    origin: str                 # Terraform address or API name
    what: str                   # Terraform type or kind name
    category: SkipCategory
    reason: str


@dataclass
class EnvImport:
    """What one environment (one state, or one project) imports."""

    env: str | None
    source: str
    entries: list[Entry] = field(default_factory=list)
    locate: Callable[[str], str] | None = None   # origin -> "SOURCE:LINE" (Terraform states)
    skipped: list[Skipped] = field(default_factory=list)
    secrets: dict[str, dict[str, str]] = field(default_factory=dict)   # name -> source
    outputs: dict[str, Any] = field(default_factory=dict)
    project: str | None = None
    region: str | None = None
