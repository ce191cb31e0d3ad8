"""Secrets: what is sensitive is never shown, stored, planned or logged in clear.

Two things are sensitive:

* a kind's **secret fields** (``Kind.secret_fields``: e.g. a notification channel's
  ``labels.auth_token``), which a spec may only fill with a ``${secrets.NAME}`` reference;
* any field whose value holds a ``${secrets.NAME}`` reference (e.g. a webhook URL carrying a
  token).

The spec's ``secrets:`` section says where each value comes from; ``SecretValues`` fetches a
value only when a plan or an apply needs it (every secret the plan's resources reference,
before the first read of live state and again before the first mutation), keeps it in memory
only, and substitutes it (``render``) only into what is sent to the API. Everything else
keeps the reference:

* the plan (and a saved plan file) holds ``${secrets.NAME}`` in ``desired`` and ``(sensitive)``
  as the old and new value of every change at a secret path (``mask_changes``), so the text,
  JSON, Markdown and HTML renderings never see a value; ``apply plan.json`` resolves again;
* the ledger keeps a **keyed hash** at each secret path (``protect``): HMAC-SHA256 under a
  random per-value key stored beside it, mixed with ``MLOPS_INFRA_SECRET_HASH_KEY`` when that
  is set (then the ledger alone cannot even confirm a guessed token). It tells whether the
  value changed since the last apply (``matches``) and nothing else;
* error messages of an apply are scrubbed of every resolved value (``scrub``).

Live state cannot say whether a secret changed (Google returns such values obfuscated or not
at all), so secret paths are compared against the ledger's hash, never against live state
(``compare_with_secrets``). A secret that cannot be resolved is one line naming it
(``SecretUnavailable``), raised before anything is read or changed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets as _random
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any

from mlops_infra.engine import paths
from mlops_infra.engine.errors import UserError
from mlops_infra.engine.kind import FieldChange

SHOWN = "(sensitive)"
_PREFIX = "sha256:"
_KEYED = "hmac-sha256:"
HASH_KEY_ENV = "MLOPS_INFRA_SECRET_HASH_KEY"
SECRET_REF = re.compile(r"\$\{\s*secrets\.([A-Za-z_][A-Za-z0-9_-]*)\s*\}")
_SALT_BYTES = 16


class SecretUnavailable(UserError):
    """A secret the plan needs cannot be resolved (the message names it, never a value)."""


# --- digests ------------------------------------------------------------------------------

def digest(value: Any) -> str:
    """A stable digest of ``value`` (its canonical JSON)."""
    return _PREFIX + hashlib.sha256(_canonical(value)).hexdigest()


def keyed_digest(value: Any, *, salt: bytes | None = None) -> str:
    """``hmac-sha256:SALT:MAC`` of ``value``: a fresh random key (salt) unless given."""
    salt = _random.token_bytes(_SALT_BYTES) if salt is None else salt
    mac = hmac.new(_key(salt), _canonical(value), hashlib.sha256).hexdigest()
    return f"{_KEYED}{salt.hex()}:{mac}"


def matches(stored: Any, value: Any) -> bool:
    """Whether ``stored`` (a digest the ledger kept) is the digest of ``value``."""
    if not isinstance(stored, str):
        return False
    if stored.startswith(_KEYED):
        salt_hex, _, _ = stored[len(_KEYED):].partition(":")
        try:
            salt = bytes.fromhex(salt_hex)
        except ValueError:
            return False
        return hmac.compare_digest(stored, keyed_digest(value, salt=salt))
    return is_digest(stored) and hmac.compare_digest(stored, digest(value))


def is_digest(value: Any) -> bool:
    """Whether ``value`` is a digest this module made (plain or keyed)."""
    if not isinstance(value, str):
        return False
    if value.startswith(_KEYED):
        salt, _, mac = value[len(_KEYED):].partition(":")
        return len(salt) == 2 * _SALT_BYTES and len(mac) == 64
    return value.startswith(_PREFIX) and len(value) == len(_PREFIX) + 64


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str).encode()


def _key(salt: bytes) -> bytes:
    pepper = os.environ.get(HASH_KEY_ENV, "")
    return salt + pepper.encode() if pepper else salt


# --- where secrets are ----------------------------------------------------------------------

def secret_names(value: Any) -> set[str]:
    """Every NAME of a ``${secrets.NAME}`` in the strings inside ``value``."""
    found: set[str] = set()

    def collect(text: str) -> None:
        if "secrets" in text:
            found.update(SECRET_REF.findall(text))
    _visit_strings(value, collect)
    return found


def secret_paths(desired: dict[str, Any] | None, kind: Any) -> tuple[str, ...]:
    """Leaf paths of ``desired`` that are sensitive: under a secret field of ``kind``, or
    holding a ``${secrets.NAME}`` reference (sorted)."""
    if not desired:
        return ()
    from mlops_infra.engine.diff import leaves

    declared = tuple(getattr(kind, "secret_fields", ()))
    if not declared and not secret_names(desired):
        return ()           # the common case, found without building every leaf's path
    return tuple(sorted(p for p, v in leaves(desired)
                        if is_secret_path(p, declared) or secret_names(v)))


def is_secret_path(path: str, secret_paths: Iterable[str]) -> bool:
    """Whether ``path`` is, or lies under, one of ``secret_paths``."""
    return any(path == p or path.startswith(p + ".") or path.startswith(p + "[")
               for p in secret_paths)


def literal_secret_fields(desired: dict[str, Any], kind: Any) -> list[str]:
    """Secret-field paths of ``desired`` written as a value instead of a ``${secrets.NAME}``
    reference (a value there would be shown and stored)."""
    from mlops_infra.engine.diff import leaves

    declared = tuple(getattr(kind, "secret_fields", ()))
    return [p for p, v in leaves(desired)
            if is_secret_path(p, declared) and v is not None and not secret_names(v)]


# --- what is stored and shown ---------------------------------------------------------------

def stored_form(desired: dict[str, Any], kind: Any) -> dict[str, Any]:
    """``desired`` as the ledger records it: digests at the kind's secret paths (a value that
    already is a digest, e.g. from ``protect``, is kept)."""
    return _replaced(desired, kind.secret_fields,
                     lambda value: value if is_digest(value) else digest(value))


def protect(desired: dict[str, Any], at: Iterable[str]) -> dict[str, Any]:
    """``desired`` (secrets resolved) with a keyed digest at each path of ``at``."""
    return _replaced(desired, at, lambda value: value if is_digest(value) else keyed_digest(value))


def shown_form(value: dict[str, Any], secret_paths: Iterable[str]) -> dict[str, Any]:
    """``value`` as it may be shown: ``(sensitive)`` at the secret paths."""
    return _replaced(value, secret_paths, lambda _: SHOWN)


def mask_changes(changes: Iterable[FieldChange], at: Iterable[str]) -> list[FieldChange]:
    """``changes`` with ``(sensitive)`` as the old and new value of those at, under or above a
    path of ``at``."""
    chosen = tuple(at)
    out = []
    for change in changes:
        if _touches(change.path, chosen):
            change = replace(change, old=None if change.old is None else SHOWN,
                             new=None if change.new is None else SHOWN)
        out.append(change)
    return out


def same_record(applied: dict[str, Any], desired: dict[str, Any], kind: Any,
                at: Iterable[str]) -> bool:
    """Whether the ledger's ``applied`` records ``desired`` (its secret paths compared by the
    plan already, so left out here)."""
    hidden = tuple(at) + tuple(kind.secret_fields)
    recorded, wanted = shown_form(applied, hidden), shown_form(stored_form(desired, kind), hidden)
    if recorded == wanted:
        return True
    sets = tuple(getattr(kind, "set_paths", ()))
    return bool(sets) and _in_one_order(recorded, sets) == _in_one_order(wanted, sets)


def _in_one_order(value: dict[str, Any], set_paths: tuple[str, ...]) -> dict[str, Any]:
    """``value`` with the lists at ``set_paths`` sorted: a list the API treats as a set is
    recorded in the order its references resolved to at apply time (server-chosen names),
    and planned in the order the kind sorts the names once they are known."""
    out = json.loads(json.dumps(value, default=str))
    for path in set_paths:
        items = paths.get(out, path)
        if isinstance(items, list):
            *parents, leaf = paths.split(path)
            node = out
            for part in parents:
                node = node[part]
            node[leaf] = sorted(items, key=lambda item: json.dumps(item, sort_keys=True))
    return out


def _touches(path: str, at: tuple[str, ...]) -> bool:
    return is_secret_path(path, at) or any(is_secret_path(p, (path,)) for p in at)


def _replaced(value: dict[str, Any], secret_paths: Iterable[str], how: Any) -> dict[str, Any]:
    chosen = [p for p in secret_paths if paths.get(value, p) is not paths.MISSING]
    if not chosen:
        return value
    out = json.loads(json.dumps(value, default=str))
    for path in chosen:
        *parents, leaf = paths.split(path)
        node = out
        for part in parents:
            node = node[part]
        node[leaf] = how(node[leaf])
    return out


def _visit_strings(value: Any, fn: Callable[[str], Any]) -> None:
    if isinstance(value, str):
        fn(value)
    elif isinstance(value, dict):
        for item in value.values():
            _visit_strings(item, fn)
    elif isinstance(value, list):
        for item in value:
            _visit_strings(item, fn)


# --- comparing ------------------------------------------------------------------------------

def compare_with_secrets(kind: Any, desired: dict[str, Any], live: dict[str, Any],
                         applied: dict[str, Any] | None, *, exact: tuple[str, ...],
                         values: SecretValues | None,
                         at: tuple[str, ...] | None = None) -> list[FieldChange]:
    """``diff.compare`` where secret paths (``at``, found when not given) are compared with
    the ledger's hash, never with live state; every change at a secret path shows
    ``(sensitive)``."""
    from mlops_infra.engine.diff import compare, without_paths

    at = secret_paths(desired, kind) if at is None else at
    if not at and not _has_digest(applied):
        return compare(kind, desired, live, applied, exact=exact)
    drop = list(at)
    changes = compare(kind, without_paths(desired, drop), without_paths(live, drop),
                      without_paths(applied, drop) if applied else applied, exact=exact)
    for path in at:
        stored = paths.get(applied, path) if applied else paths.MISSING
        if values is not None and matches(stored, values.render(paths.get(desired, path))):
            continue
        had = paths.get(live, path, None) is not None
        changes.append(FieldChange(path=path, op="change" if had else "add",
                                   old=SHOWN if had else None, new=SHOWN))
    return mask_changes(changes, at + _digest_paths(applied))


def _has_digest(value: Any) -> bool:
    if isinstance(value, str):
        return is_digest(value)
    if isinstance(value, dict):
        return any(_has_digest(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_digest(v) for v in value)
    return False


def _digest_paths(applied: dict[str, Any] | None) -> tuple[str, ...]:
    if not applied:
        return ()
    from mlops_infra.engine.diff import leaves

    return tuple(p for p, v in leaves(applied) if is_digest(v))


# --- resolving ------------------------------------------------------------------------------

class SecretValues:
    """Secret values by name, fetched on first need from the spec's sources, kept in memory.

    ``sources`` maps a secret name to its source (``spec.secrets.SecretSource``); ``fetch``
    returns the value of one source or raises ``SecretUnavailable`` (its message names the
    secret and its source, never a value). Thread-safe: a plan's readers and an apply's
    workers share one instance.
    """

    def __init__(self, sources: Mapping[str, Any], fetch: Callable[[Any], str]) -> None:
        self._sources = dict(sources)
        self._fetch = fetch
        self._values: dict[str, str] = {}
        self._lock = threading.Lock()

    def require(self, names: Iterable[str]) -> None:
        """Resolve every secret of ``names`` now (the first one missing raises)."""
        for name in sorted(set(names)):
            self.value(name)

    def value(self, name: str) -> str:
        with self._lock:
            if name not in self._values:
                source = self._sources.get(name)
                if source is None:
                    raise SecretUnavailable(f"secret '{name}' is not declared in the spec's "
                                            "secrets: section")
                self._values[name] = self._fetch(source)
            return self._values[name]

    def render(self, value: Any) -> Any:
        """``value`` with every ``${secrets.NAME}`` in its strings replaced by the value."""
        if isinstance(value, str):
            return SECRET_REF.sub(lambda m: self.value(m.group(1)), value) \
                if "${" in value else value
        if isinstance(value, dict):
            return {k: self.render(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.render(v) for v in value]
        return value

    def scrub(self, text: str) -> str:
        """``text`` with every value resolved so far replaced by ``(sensitive)``."""
        with self._lock:
            known = sorted((v for v in self._values.values() if v), key=len, reverse=True)
        for value in known:
            text = text.replace(value, SHOWN)
        return text


def require_all(values: SecretValues | None, desired: Iterable[Any]) -> None:
    """Resolve every secret the ``desired`` states reference; ``SecretUnavailable`` when there
    are references but no ``values`` to resolve them with."""
    names: set[str] = set()
    for state in desired:
        names |= secret_names(state)
    if not names:
        return
    if values is None:
        raise SecretUnavailable(f"secret '{sorted(names)[0]}' is referenced but no secret "
                                "sources were given")
    values.require(names)
