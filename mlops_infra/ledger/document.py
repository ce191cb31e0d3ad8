"""The ledger document: its data model, and JSON parsing/rendering with validation.

One JSON document per stack (schema version 2)::

    {"schemaVersion": 2, "stack": "ml-platform-dev",
     "origin": "stack 'ml-platform' in environment 'dev', project 'acme-ml-dev'",
     "resources": {"storage.Bucket:raw": {"kind", "id", "address", "applied", "outputs",
                                          "createdAt", "updatedAt", "dependsOn", "preexisting",
                                          "labelsPending"}},
     "intents": {"iam.ServiceAccount:trainer": {"kind", "id", "address", "runId", "at",
                                                "scope", "preexisting"}},
     "runs": [...]}

Entries are keyed by **logical identity** (kind and spec address); ``id`` is the API name
(chosen by the server for some kinds, recorded after create). An intent is a create a
run announced before calling the API, so a run killed in between can prove on rerun that
what it finds is its own. A server-named resource's intent has no ``id`` (the server
chooses it) but its ``scope`` (where to look for it by its ownership labels; only written
when known, and read as empty from ledgers written before it was). A version 1 document (keyed by API name, no intents) is
migrated when read, and the migration is reported; it is written in the new form by the
next apply. ``labelsPending`` (only written when true) marks a resource moved in by an
import that does not carry the ownership labels yet (``engine.ownership``). Parsing refuses
anything it does not fully understand (invalid JSON, wrong
shape, a newer schema) with a one-line ``LedgerError`` naming the location, so a damaged
ledger is never overwritten.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from mlops_infra.engine.errors import LedgerError
from mlops_infra.engine.kind import logical_key
from mlops_infra.spec.jsonload import JsonProblem, load_json

LEDGER_SCHEMA_VERSION = 2
MAX_RUNS = 20
_KIND_NAME = re.compile(r"[a-z][a-z0-9]*\.[A-Z][A-Za-z0-9]*")


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
    preexisting: tuple[str, ...] = ()   # paths of a shared thing that existed before us
    labels_pending: bool = False        # imported, its ownership labels not added yet

    @property
    def key(self) -> str:
        """The ledger key: kind and address (``engine.kind.logical_key``)."""
        return logical_key(self.kind, self.address)

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"kind": self.kind, "id": self.id, "address": self.address,
                               "applied": self.applied, "outputs": self.outputs,
                               "createdAt": self.created_at, "updatedAt": self.updated_at,
                               "dependsOn": list(self.depends_on)}
        if self.preexisting:
            doc["preexisting"] = list(self.preexisting)
        if self.labels_pending:
            doc["labelsPending"] = True
        return doc


@dataclass(frozen=True)
class Intent:
    """A create announced before it was made (``id`` is the API name it will have, empty
    when the server chooses it; ``scope`` is where it is created, e.g. its project). For a
    part of a shared thing (IAM bindings), ``preexisting`` are the parts that were there
    before: the others a rerun finds live were added by the run that announced it."""

    kind: str
    id: str
    address: str
    run_id: str = ""
    at: str = ""
    scope: str = ""
    preexisting: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return logical_key(self.kind, self.address)

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"kind": self.kind, "id": self.id, "address": self.address,
                               "runId": self.run_id, "at": self.at}
        if self.scope:
            doc["scope"] = self.scope
        if self.preexisting:
            doc["preexisting"] = list(self.preexisting)
        return doc


@dataclass(frozen=True)
class LedgerState:
    """A ledger as read (or last written): ``generation`` 0 means "no object yet"."""

    stack: str
    location: str
    generation: int = 0
    entries: dict[str, LedgerEntry] = field(default_factory=dict)
    runs: list[dict[str, Any]] = field(default_factory=list)
    intents: dict[str, Intent] = field(default_factory=dict)
    migrated_from: int | None = None    # the schema version it was read in, when older
    origin: str = ""        # whose ledger it is (stack, environment, project); "" when unknown

    @classmethod
    def empty(cls, *, stack: str, location: str) -> LedgerState:
        return cls(stack=stack, location=location)

    @property
    def notes(self) -> tuple[str, ...]:
        if self.migrated_from is None:
            return ()
        return (f"ledger {self.location} uses schema version {self.migrated_from}; read as "
                f"version {LEDGER_SCHEMA_VERSION} (it is rewritten so by the next apply)",)


def render_document(state: LedgerState) -> bytes:
    """The JSON bytes of ``state`` (runs trimmed, keys sorted)."""
    doc = {"schemaVersion": LEDGER_SCHEMA_VERSION, "stack": state.stack,
           "resources": {key: entry.to_json() for key, entry in sorted(state.entries.items())},
           "intents": {key: intent.to_json() for key, intent in sorted(state.intents.items())},
           "runs": state.runs[-MAX_RUNS:]}
    if state.origin:
        doc["origin"] = state.origin
    return json.dumps(doc, indent=1, sort_keys=True).encode() + b"\n"


def parse_document(data: bytes, *, stack: str, location: str, generation: int) -> LedgerState:
    """Validate and load a ledger document; ``LedgerError`` for anything unexpected."""
    doc = _load_json(data, location)
    version = _check_header(doc, stack=stack, location=location)
    if "resources" not in doc:
        raise _refuse(location, "it has no 'resources'")
    entries = _parse_resources(doc["resources"], location)
    if version == 1:
        entries = _migrated_v1(entries)
    _check_keys(entries, location)
    intents = _parse_intents(doc.get("intents", {}), location)
    _check_keys(intents, location, "intent")
    runs = doc.get("runs", [])
    if not isinstance(runs, list) or not all(isinstance(r, dict) for r in runs):
        raise _refuse(location, "'runs' must be a list of objects")
    origin = doc.get("origin", "")
    if not isinstance(origin, str):
        raise _refuse(location, "'origin' must be a string")
    return LedgerState(stack=stack, location=location, generation=generation,
                       entries=entries, runs=runs, intents=intents,
                       migrated_from=version if version < LEDGER_SCHEMA_VERSION else None,
                       origin=origin)


def _refuse(location: str, why: str) -> LedgerError:
    return LedgerError(f"ledger {location}: {why}; refusing to use or overwrite it")


def _load_json(data: bytes, location: str) -> dict[str, Any]:
    try:
        doc = load_json(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise _refuse(location, "not UTF-8 text") from None
    except JsonProblem as exc:
        raise _refuse(location, f"not valid JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise _refuse(location, "expected a JSON object at the top level")
    return doc


def _check_header(doc: dict[str, Any], *, stack: str, location: str) -> int:
    version = doc.get("schemaVersion")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise _refuse(location, f"bad or missing schemaVersion {version!r}")
    if version > LEDGER_SCHEMA_VERSION:
        raise LedgerError(
            f"ledger {location} has schemaVersion {version}, newer than this version of "
            f"mlops_infra understands ({LEDGER_SCHEMA_VERSION}); upgrade mlops_infra")
    if doc.get("stack") != stack:
        raise _refuse(location, f"it belongs to stack {doc.get('stack')!r}, not {stack!r}")
    return version


def _parse_resources(raw: Any, location: str) -> dict[str, LedgerEntry]:
    if not isinstance(raw, dict):
        raise _refuse(location, "'resources' must be an object")
    return {key: _parse_entry(key, value, location) for key, value in raw.items()}


def _check_keys(records: dict[str, LedgerEntry] | dict[str, Intent], location: str,
                what: str = "entry") -> None:
    for key, record in records.items():
        if not record.address:
            raise _refuse(location, f"{what} {key!r} has no address")
        if key != record.key:
            raise _refuse(location, f"{what} {key!r} is filed under the wrong key "
                                    f"(its kind and address make {record.key!r})")


def _strings(raw: dict[str, Any], names: tuple[str, ...], what: str, location: str) -> None:
    for name in names:
        if not isinstance(raw.get(name), str):
            raise _refuse(location, f"{what} has no string '{name}'")


def _string_list(raw: dict[str, Any], name: str, what: str, location: str) -> tuple[str, ...]:
    value = raw.get(name, [])
    if not isinstance(value, list) or not all(isinstance(k, str) for k in value):
        raise _refuse(location, f"{what}: '{name}' must be a list of strings")
    return tuple(value)


def _flag(raw: dict[str, Any], name: str, what: str, location: str) -> bool:
    value = raw.get(name, False)
    if not isinstance(value, bool):
        raise _refuse(location, f"{what}: '{name}' must be true or false")
    return value


def _kind_name(raw: dict[str, Any], what: str, location: str) -> None:
    """The shape of a kind's name (``SERVICE.Kind``); whether this installation has that
    kind is the engine's to say (``engine.ledger_check``): this layer knows no kinds."""
    if not _KIND_NAME.fullmatch(raw["kind"]):
        raise _refuse(location, f"{what}: kind {raw['kind']!r} is not a kind name (SERVICE.Kind)")


def _parse_entry(key: str, raw: Any, location: str) -> LedgerEntry:
    what = f"entry {key!r}"
    if not isinstance(raw, dict):
        raise _refuse(location, f"{what} is not an object")
    _strings(raw, ("kind", "id"), what, location)
    _kind_name(raw, what, location)
    for name in ("applied", "outputs"):
        if not isinstance(raw.get(name, {}), dict):
            raise _refuse(location, f"{what}: '{name}' must be an object")
    return LedgerEntry(kind=raw["kind"], id=raw["id"], address=str(raw.get("address", "")),
                       applied=raw.get("applied", {}), outputs=raw.get("outputs", {}),
                       created_at=str(raw.get("createdAt", "")),
                       updated_at=str(raw.get("updatedAt", "")),
                       depends_on=_string_list(raw, "dependsOn", what, location),
                       preexisting=_string_list(raw, "preexisting", what, location),
                       labels_pending=_flag(raw, "labelsPending", what, location))


def _parse_intents(raw: Any, location: str) -> dict[str, Intent]:
    if not isinstance(raw, dict):
        raise _refuse(location, "'intents' must be an object")
    intents = {}
    for key, value in raw.items():
        what = f"intent {key!r}"
        if not isinstance(value, dict):
            raise _refuse(location, f"{what} is not an object")
        _strings(value, ("kind", "id", "address"), what, location)
        _kind_name(value, what, location)
        intents[key] = Intent(kind=value["kind"], id=value["id"], address=value["address"],
                              run_id=str(value.get("runId", "")), at=str(value.get("at", "")),
                              scope=_optional_string(value, "scope", what, location),
                              preexisting=_string_list(value, "preexisting", what, location))
    return intents


def _optional_string(raw: dict[str, Any], name: str, what: str, location: str) -> str:
    value = raw.get(name, "")
    if not isinstance(value, str):
        raise _refuse(location, f"{what}: '{name}' must be a string")
    return value


def _migrated_v1(entries: dict[str, LedgerEntry]) -> dict[str, LedgerEntry]:
    """Version 1 keyed entries by API name (``kind:id``); version 2 by kind and address."""
    new_key = {old: _v2_key(old, e) for old, e in entries.items()}
    out: dict[str, LedgerEntry] = {}
    for old, entry in entries.items():
        key = new_key[old]
        if key in out:                     # two API names at one address (a crashed rename)
            key = f"{key}#{len(out)}"
        depends = tuple(new_key.get(d, d) for d in entry.depends_on)
        out[key] = LedgerEntry(**{**entry.__dict__, "address": key.split(":", 1)[1],
                                  "depends_on": depends})
    return out


def _v2_key(old_key: str, entry: LedgerEntry) -> str:
    return logical_key(entry.kind, entry.address or old_key.split(":", 1)[1])
