"""The generic three-way diff over REST-shaped dicts. Pure: no I/O.

Only paths the user wrote (present in ``desired``) are compared, so server-set
defaults never show up as changes. Paths present in the last-applied spec (from the
ledger) but no longer in ``desired`` are removals, so deleting a label or a field
from the spec removes it live, as ``kubectl apply`` does.

Maps are walked key by key; lists and scalars are leaves. A list of maps matches
when every element matches its counterpart on the keys the user wrote.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mlops_infra.engine import paths
from mlops_infra.engine.kind import FieldChange
from mlops_infra.engine.sensitive import is_digest
from mlops_infra.spec.jsoncopy import copy_json

_MISSING = paths.MISSING


def leaves(value: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Yield ``(path, value)`` for every leaf; an empty map is itself a leaf."""
    for key, item in value.items():
        path = paths.join(prefix, key)
        if isinstance(item, dict) and item:
            yield from leaves(item, path)
        else:
            yield path, item


def get_path(value: Any, path: str) -> Any:
    """The value at a field path (see ``engine.paths``), or ``paths.MISSING``."""
    return paths.get(value, path)


def same(desired: Any, live: Any) -> bool:
    """Whether ``live`` satisfies ``desired`` (int64-as-string tolerant; maps compared on desired keys)."""
    if isinstance(desired, dict) and isinstance(live, dict):
        return all(same(v, live.get(k)) for k, v in desired.items())
    if isinstance(desired, list) and isinstance(live, list):
        return len(desired) == len(live) and all(same(d, v) for d, v in zip(desired, live))
    if isinstance(desired, (int, float)) and not isinstance(desired, bool) and isinstance(live, str):
        return str(desired) == live
    if isinstance(live, (int, float)) and not isinstance(live, bool) and isinstance(desired, str):
        return desired == str(live)
    if desired == {} and live is None:
        return True
    return bool(desired == live)


def same_set(desired: Any, live: Any) -> bool:
    """Whether two lists hold the same items in any order (a list the API treats as a set)."""
    if not (isinstance(desired, list) and isinstance(live, list)) or len(desired) != len(live):
        return False
    unmatched = list(live)
    for want in desired:
        hit = next((i for i, have in enumerate(unmatched) if same(want, have)), None)
        if hit is None:
            return False
        del unmatched[hit]
    return True


def diff(desired: dict[str, Any], live: dict[str, Any],
         last_applied: dict[str, Any] | None = None, *,
         exact: frozenset[str] | tuple[str, ...] = (),
         unordered: frozenset[str] | tuple[str, ...] = ()) -> list[FieldChange]:
    """Field changes that turn ``live`` into ``desired``, including removals since ``last_applied``.

    Under an ``exact`` map path, live keys that ``desired`` lacks are removed too (authoritative).
    Lists at ``unordered`` paths are sets: the order of their items never makes a change.
    """
    changes = list(_changed_or_added(desired, live, last_applied or {}, frozenset(unordered)))
    changes += list(_removed(desired, live, last_applied or {}))
    seen = {c.path for c in changes}
    changes += [c for c in _extra_keys(desired, live, exact) if c.path not in seen]
    return changes


def _extra_keys(desired: dict[str, Any], live: dict[str, Any],
                exact: frozenset[str] | tuple[str, ...]) -> Iterator[FieldChange]:
    for path in sorted(exact):
        want, have = get_path(desired, path), get_path(live, path)
        if not isinstance(have, dict):
            continue
        want = want if isinstance(want, dict) else {}
        for key, value in have.items():
            if key not in want and value is not None:
                yield FieldChange(path=paths.join(path, key), op="remove", old=value)


def _changed_or_added(desired: dict[str, Any], live: dict[str, Any],
                      last: dict[str, Any], unordered: frozenset[str]) -> Iterator[FieldChange]:
    for path, want in leaves(desired):
        have = get_path(live, path)
        as_set = path in unordered
        if have is _MISSING or have is None:
            if want is not None and want != {}:
                yield FieldChange(path=path, op="add", new=want)
        elif not (same_set(want, have) if as_set else same(want, have)) \
                or _list_edited_since(want, get_path(last, path), as_set=as_set):
            yield FieldChange(path=path, op="change", old=have, new=want)


def _list_edited_since(want: Any, before: Any, *, as_set: bool = False) -> bool:
    """A list the user edited since the last apply is pushed whole, even if ``same`` tolerates it."""
    if not isinstance(want, list) or before is _MISSING or is_digest(before):
        return False
    return not same_set(want, before) if as_set else bool(before != want)


def _removed(desired: dict[str, Any], live: dict[str, Any],
             last: dict[str, Any]) -> Iterator[FieldChange]:
    for path, _ in leaves(last):
        if _covered(desired, path):
            continue
        have = get_path(live, path)
        if have is not _MISSING and have is not None:
            yield FieldChange(path=path, op="remove", old=have, new=None)


def _covered(desired: dict[str, Any], path: str) -> bool:
    """Whether ``desired`` still says something at ``path`` or at one of its parents' leaves."""
    value: Any = desired
    for part in paths.split(path):
        if not isinstance(value, dict) or part not in value:
            return False
        value = value[part]
        if not isinstance(value, dict) or not value:
            return True
    return True


def compare(kind: Any, desired: dict[str, Any], live: dict[str, Any],
            last_applied: dict[str, Any] | None = None, *,
            exact: frozenset[str] | tuple[str, ...] = ()) -> list[FieldChange]:
    """``diff`` for a kind: its local fields left out, its set-valued lists compared as sets,
    its input-only fields compared with what was last applied (``with_input_only``)."""
    local = tuple(kind.local_fields)
    live = with_input_only(live, getattr(kind, "input_only", ()), desired, last_applied)
    return diff(without_paths(desired, local), live,
                without_paths(last_applied, local) if last_applied else last_applied,
                exact=exact, unordered=kind.set_paths)


def with_input_only(live: dict[str, Any], input_only: Any, desired: dict[str, Any],
                    last_applied: dict[str, Any] | None) -> dict[str, Any]:
    """``live`` with the values the API never returns filled in: what was last applied (a
    change since shows, a removal too), or, with no record of it (an adoption, a re-read
    during an apply), what is desired: nothing can say it differs."""
    chosen = sorted(input_only)
    if not chosen:
        return live
    source = last_applied if last_applied is not None else desired
    out = copy_json(live)
    for path in chosen:
        value = get_path(source, path)
        if value is not _MISSING and get_path(out, path) in (_MISSING, None):
            _set(out, path, value)
    return out


def without_paths(value: dict[str, Any], drop: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """A copy of ``value`` without the leaves at ``drop`` (maps left empty are dropped too)."""
    if not drop:
        return value
    gone = set(drop)
    out: dict[str, Any] = {}
    for path, leaf in leaves(value):
        if path not in gone:
            _set(out, path, leaf)
    return out


def _set(target: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = paths.split(path)
    node = target
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value
