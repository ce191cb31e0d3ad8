"""Readable, stable spec addresses for imported resources.

A Terraform address keeps its module path and the resource's name, without the resource type
(the entry says its kind): ``module.big_query.google_bigquery_dataset.features`` ->
``big-query-features``; ``count``/``for_each`` keys follow, so every environment's state gives
an instance the same address (``module.gcs["raw"].google_storage_bucket.this`` -> ``gcs-raw``).
Names that say nothing (``this``, ``main``, ``default``, ``self``) and a resource named like its
module are dropped (``module.vpc.google_compute_network.vpc`` -> ``vpc``). When two resources
of one module share a name (a service account and its ``google_project_iam_member``, both
``trainer``), the one of a kind that is not a part of something shared keeps it and the others
get their type added (``trainer-project-iam-member``): only the state's addresses decide, so
the result is the same on every run and in every environment.

Spec addresses are ``[a-z][a-z0-9_-]*`` and must not be a reserved reference name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_FILLER_NAMES = frozenset({"this", "main", "default", "self", "resource"})
_RESERVED = frozenset({"vars", "project", "region", "stack", "env", "secrets", "each"})
_MODULE = re.compile(r'module\.([A-Za-z0-9_-]+)(\[(?:"((?:[^"\\]|\\.)*)"|(\d+))\])?')


def slug(text: str) -> str:
    """``text`` as address characters: lowercase letters, digits and ``-``."""
    out = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return out


def valid(address: str) -> str:
    """``address`` made a valid spec address (starting with a letter, not reserved)."""
    address = address or "resource"
    if not address[0].isalpha():
        address = f"r-{address}"
    return f"{address}-res" if address in _RESERVED else address


def module_parts(module: str) -> list[str]:
    """``module.a["k"].module.b`` -> ``["a", "k", "b"]`` (names and keys, slugged)."""
    parts = []
    for match in _MODULE.finditer(module):
        parts.append(slug(match.group(1)))
        key = match.group(3) if match.group(3) is not None else match.group(4)
        if key is not None:
            parts.append(slug(key))
    return [p for p in parts if p]


def terraform_address(module: str, name: str, index: str | int | None) -> str:
    """The base spec address of a Terraform instance (see the module docstring)."""
    parts = module_parts(module)
    own = slug(name)
    if own and own not in _FILLER_NAMES and (not parts or parts[-1] != own):
        parts.append(own)
    if index is not None:
        parts.append(slug(str(index)) or "x")
    return valid("-".join(parts))


def type_suffix(tf_type: str) -> str:
    """``google_project_iam_member`` -> ``project-iam-member``."""
    return slug(tf_type.removeprefix("google_"))


def disambiguate(items: Iterable[tuple[str, str, bool]]) -> list[str]:
    """Unique addresses for ``(base, suffix, primary)`` items, in order: among items sharing a
    base, primaries keep it when there is exactly one, the others get ``base-suffix``; any
    address still taken gets a number."""
    items = list(items)
    by_base: dict[str, list[int]] = {}
    for i, (base, _, _) in enumerate(items):
        by_base.setdefault(base, []).append(i)
    out = [base for base, _, _ in items]
    for indexes in by_base.values():
        if len(indexes) < 2:
            continue
        primaries = [i for i in indexes if items[i][2]]
        keep = primaries[0] if len(primaries) == 1 else None
        for i in indexes:
            if i != keep:
                out[i] = valid(f"{items[i][0]}-{items[i][1]}")
    return _numbered(out)


def _numbered(addresses: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for address in addresses:
        count = seen.get(address, 0)
        seen[address] = count + 1
        out.append(address if count == 0 else f"{address}-{count + 1}")
    taken = set()
    for i, address in enumerate(out):
        while address in taken:
            address = f"{address}-x"
        taken.add(address)
        out[i] = address
    return out
