"""The ledger document: its data model, and JSON parsing/rendering with validation.

One JSON document per stack (schema version 1). Parsing refuses anything it does
not fully understand (invalid JSON, wrong shape, a newer schema) with a one-line
``LedgerError`` naming the location, so a damaged ledger is never overwritten.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from mlops_infra.engine.errors import LedgerError
from mlops_infra.ledger.redact import redact

LEDGER_SCHEMA_VERSION = 1
MAX_RUNS = 20


def utc_now() -> str:
    """The current time as UTC ISO-8601 with millisecond precision and a ``Z``."""
    return format_time(datetime.now(UTC).timestamp())


def format_time(epoch: float) -> str:
    """``epoch`` seconds as UTC ISO-8601 with a ``Z``."""
    text = datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
    return text[:-3] + "Z"


def parse_time(text: str) -> float:
    """Epoch seconds from an ISO-8601 timestamp (``Z`` or an offset); ValueError if bad."""
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


@dataclass(frozen=True)
class LedgerEntry:
    """One resource this tool owns: what was last applied and its outputs."""

    kind: str
    id: str
    address: str
    applied: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    created_at: str = ""
    updated_at: str = ""
    depends_on: tuple[str, ...] = ()    # keys of the resources it depended on (delete order)

    @property
    def key(self) -> str:
        """The ledger key, same as ``ResourceId.key``."""
        return f"{self.kind}:{self.id}"

    def redacted(self) -> LedgerEntry:
        """A copy with secret-looking values replaced (see ``ledger.redact``)."""
        return replace(self, applied=redact(self.applied), outputs=redact(self.outputs))

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "id": self.id, "address": self.address,
                "applied": self.applied, "outputs": self.outputs,
                "createdAt": self.created_at, "updatedAt": self.updated_at,
                "dependsOn": list(self.depends_on)}


@dataclass(frozen=True)
class LedgerState:
    """A ledger as read (or last written): ``generation`` 0 means "no object yet"."""

    stack: str
    location: str
    generation: int = 0
    entries: dict[str, LedgerEntry] = field(default_factory=dict)
    runs: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def empty(cls, *, stack: str, location: str) -> LedgerState:
        return cls(stack=stack, location=location)


def render_document(state: LedgerState) -> bytes:
    """The JSON bytes of ``state`` (secrets redacted, runs trimmed, keys sorted)."""
    doc = {"schemaVersion": LEDGER_SCHEMA_VERSION, "stack": state.stack,
           "resources": {key: entry.redacted().to_json()
                         for key, entry in sorted(state.entries.items())},
           "runs": state.runs[-MAX_RUNS:]}
    return json.dumps(doc, indent=1, sort_keys=True).encode() + b"\n"


def parse_document(data: bytes, *, stack: str, location: str, generation: int) -> LedgerState:
    """Validate and load a ledger document; ``LedgerError`` for anything unexpected."""
    doc = _load_json(data, location)
    _check_header(doc, stack=stack, location=location)
    entries = _parse_resources(doc.get("resources", {}), location)
    runs = doc.get("runs", [])
    if not isinstance(runs, list) or not all(isinstance(r, dict) for r in runs):
        raise _refuse(location, "'runs' must be a list of objects")
    return LedgerState(stack=stack, location=location, generation=generation,
                       entries=entries, runs=runs)


def _refuse(location: str, why: str) -> LedgerError:
    return LedgerError(f"ledger {location}: {why}; refusing to use or overwrite it")


def _load_json(data: bytes, location: str) -> dict[str, Any]:
    try:
        doc = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise _refuse(location, "not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise _refuse(location, f"not valid JSON (line {exc.lineno}: {exc.msg})") from None
    if not isinstance(doc, dict):
        raise _refuse(location, "expected a JSON object at the top level")
    return doc


def _check_header(doc: dict[str, Any], *, stack: str, location: str) -> None:
    version = doc.get("schemaVersion")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise _refuse(location, f"bad or missing schemaVersion {version!r}")
    if version > LEDGER_SCHEMA_VERSION:
        raise LedgerError(
            f"ledger {location} has schemaVersion {version}, newer than this version of "
            f"mlops_infra understands ({LEDGER_SCHEMA_VERSION}); upgrade mlops_infra")
    if doc.get("stack") != stack:
        raise _refuse(location, f"it belongs to stack {doc.get('stack')!r}, not {stack!r}")


def _parse_resources(raw: Any, location: str) -> dict[str, LedgerEntry]:
    if not isinstance(raw, dict):
        raise _refuse(location, "'resources' must be an object")
    return {key: _parse_entry(key, value, location) for key, value in raw.items()}


def _parse_entry(key: str, raw: Any, location: str) -> LedgerEntry:
    if not isinstance(raw, dict):
        raise _refuse(location, f"resource {key!r} is not an object")
    for name in ("kind", "id"):
        if not isinstance(raw.get(name), str):
            raise _refuse(location, f"resource {key!r} has no string '{name}'")
    for name in ("applied", "outputs"):
        if not isinstance(raw.get(name, {}), dict):
            raise _refuse(location, f"resource {key!r}: '{name}' must be an object")
    depends_on = raw.get("dependsOn", [])
    if not isinstance(depends_on, list) or not all(isinstance(k, str) for k in depends_on):
        raise _refuse(location, f"resource {key!r}: 'dependsOn' must be a list of keys")
    return LedgerEntry(kind=raw["kind"], id=raw["id"], address=str(raw.get("address", "")),
                       applied=raw.get("applied", {}), outputs=raw.get("outputs", {}),
                       created_at=str(raw.get("createdAt", "")),
                       updated_at=str(raw.get("updatedAt", "")), depends_on=tuple(depends_on))
