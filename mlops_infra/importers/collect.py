"""Turning Terraform instances and live resources into ``Entry``s through the kinds.

Which kind maps a Terraform type is the kinds' own declaration (``Kind.terraform_types``,
collected by ``engine.registry.terraform_types``); the attributes are read by the kind
(``Kind.from_terraform``), never here. Live resources come from each kind's
``live_resources`` and ``from_live``; what Google manages itself (``Kind.google_managed``) and
what another mlops-infra stack owns (its labels) are left out.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from mlops_infra.clients import NoEndpoint
from mlops_infra.engine import errors
from mlops_infra.engine.kind import STACK_LABEL, BadAttribute, Imported, Kind, NotImportable
from mlops_infra.engine.ownership import labels_of
from mlops_infra.importers import addresses
from mlops_infra.importers.model import Entry, EnvImport, Skipped
from mlops_infra.importers.tfstate import Instance, State, values_at

KindFor = Callable[[str], Kind]          # kind name -> an instance


@dataclasses.dataclass(frozen=True)
class Found:
    """One imported spec entry before it has an address: where it came from and what it is."""

    base: str               # address before disambiguation
    suffix: str             # what tells it apart when its base is taken
    primary: bool           # a resource of its own (not a part of something shared)
    kind: str
    imported: Imported
    origin: str
    sensitive: tuple[str, ...] = ()


def from_state(state: State, *, types: Mapping[str, type[Kind]],
               kind_for: KindFor) -> tuple[list[Found], list[Skipped]]:
    """The spec entries of every managed instance of ``state``, and what is left out."""
    found: list[Found] = []
    skipped: list[Skipped] = []
    for instance in state.instances:
        if instance.mode == "data":
            skipped.append(Skipped(instance.address, instance.type, "data source",
                                   "a data source: Terraform only reads it"))
            continue
        kind_cls = types.get(instance.type)
        if kind_cls is None:
            skipped.append(Skipped(instance.address, instance.type, "unmapped",
                                   _unmapped_reason(instance.type)))
            continue
        try:
            items = kind_for(kind_cls.name).from_terraform(instance.type, instance.attributes)
        except NotImportable as exc:
            skipped.append(Skipped(instance.address, instance.type, "not importable", exc.reason))
            continue
        except BadAttribute as exc:
            raise state.error((*instance.path, "attributes", *exc.path),
                              f"{instance.address}: {exc}") from None
        except _UNREADABLE as exc:
            raise state.error((*instance.path, "attributes"),
                              f"{instance.address}: {_unreadable(exc)}") from None
        found += [_found(instance, kind_cls, item) for item in items]
    return found, skipped


# What a kind's reading of attributes raises on values of a shape or type the provider never
# writes (a hand-edited or damaged state): refused with the state's file and line.
_UNREADABLE = (ValueError, TypeError, KeyError, IndexError, AttributeError)


def _unreadable(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return f"attribute {exc.args[0]!r} is missing; not a state this importer can read"
    return f"attributes this importer cannot read ({exc})"


def _unmapped_reason(tf_type: str) -> str:
    if not tf_type.startswith("google_"):
        return "not a resource of the google provider"
    return "no kind maps this type yet: left untouched (it stays managed by nothing here)"


def _found(instance: Instance, kind: type[Kind], item: Imported) -> Found:
    base = addresses.terraform_address(instance.module, instance.name, instance.index)
    if item.key:
        base = addresses.valid(f"{base}-{addresses.slug(item.key)}")
    notes = item.notes + (("Terraform marks it tainted (to be replaced): imported as it is",)
                          if instance.tainted else ())
    secret_values = tuple(str(v) for path in instance.sensitive
                          for v in _leaves(values_at(instance.attributes, path)) if v not in ("", None))
    return Found(base=base, suffix=addresses.type_suffix(instance.type), primary=not kind.shared,
                 kind=kind.name, imported=dataclasses.replace(item, notes=notes),
                 origin=instance.address + (f" ({item.key})" if item.key else ""),
                 sensitive=secret_values)


def _leaves(values: list[Any]) -> list[Any]:
    out: list[Any] = []
    for value in values:
        if isinstance(value, dict):
            out += _leaves(list(value.values()))
        elif isinstance(value, list):
            out += _leaves(value)
        else:
            out.append(value)
    return out


def from_live(project: str, regions: tuple[str, ...], *, kinds: list[type[Kind]], stack: str,
              kind_for: KindFor, ledger: str) -> tuple[list[Found], list[Skipped]]:
    """The spec entries of what lives in ``project`` for ``kinds``, and what is left out
    (``ledger``: where the ledger is kept, ``gs://BUCKET/PREFIX``)."""
    found: list[Found] = []
    skipped: list[Skipped] = []
    for cls in kinds:
        kind = kind_for(cls.name)
        try:
            live = kind.live_resources(project, regions)
        except (errors.ApiError, NoEndpoint) as exc:       # (an API off; an emulator without it)
            skipped.append(Skipped(f"projects/{project}", cls.name, "unreadable", str(exc)))
            continue
        for name, item in sorted(live.items()):
            result = _live_one(kind, name, item, stack, ledger)
            if isinstance(result, Skipped):
                skipped.append(result)
            else:
                found += result
    return found, skipped


def _live_one(kind: Kind, name: str, live: dict[str, Any], stack: str,
              ledger: str) -> list[Found] | Skipped:
    if kind.holds_ledger(name, live, ledger):
        return Skipped(name, kind.name, "ledger",
                       f"holds mlops-infra's ledger ({ledger}): never imported, never managed")
    reason = kind.google_managed(name, live)
    if reason:
        return Skipped(name, kind.name, "google-managed", reason)
    owner = labels_of(kind, live).get(STACK_LABEL)
    if owner and owner != stack:
        return Skipped(name, kind.name, "other stack", f"mlops-infra stack '{owner}' owns it")
    try:
        items = kind.from_live(name, live)
    except NotImportable as exc:
        return Skipped(name, kind.name, "not importable", exc.reason)
    suffix = addresses.slug(kind.name.split(".")[-1])
    return [Found(base=_live_base(item, name), suffix=suffix, primary=not kind.shared,
                  kind=kind.name, imported=item, origin=name) for item in items]


def _live_base(item: Imported, name: str) -> str:
    base = addresses.slug(item.name) or addresses.slug(name.rsplit("/", 1)[-1])
    if item.key:
        base = f"{base}-{addresses.slug(item.key)}"
    return addresses.valid(base)


def assign(found_by_env: Mapping[str | None, list[Found]]) -> dict[tuple[str, str], str]:
    """Spec addresses for every (kind, origin) of every environment, the same in each."""
    unique: dict[tuple[str, str], Found] = {}
    for items in found_by_env.values():
        for item in items:
            unique.setdefault((item.kind, item.origin), item)
    keys = list(unique)
    names = addresses.disambiguate((unique[k].base, unique[k].suffix, unique[k].primary)
                                   for k in keys)
    return dict(zip(keys, names))


def entries(found: list[Found], addresses_of: Mapping[tuple[str, str], str]) -> list[Entry]:
    """``Entry``s with their addresses (and the sensitive values they must not keep)."""
    out = []
    for item in found:
        imported = item.imported
        entry = Entry(address=addresses_of[(item.kind, item.origin)], kind=item.kind,
                      name=imported.name, project=imported.project, region=imported.region,
                      fields=_escaped(imported.fields), origin=item.origin,
                      notes=list(imported.notes), secrets=dict(imported.secrets),
                      api_name=imported.api_name)
        entry.secrets.update(_sensitive_fields(entry.fields, set(item.sensitive)))
        out.append(entry)
    return out


def _escaped(value: Any) -> Any:
    """Literal ``${`` written as ``$${`` (a spec would read it as a reference)."""
    if isinstance(value, str):
        return value.replace("${", "$${")
    if isinstance(value, dict):
        return {k: _escaped(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_escaped(v) for v in value]
    return value


def _sensitive_fields(fields: dict[str, Any], values: set[str], prefix: str = "") -> dict[str, str]:
    """Field paths whose value is one Terraform marks sensitive."""
    if not values:
        return {}
    found = {}
    for key, value in fields.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict):
            found.update(_sensitive_fields(value, values, path))
        elif isinstance(value, str) and value in values:
            found[path] = "a value Terraform marks sensitive"
    return found


def env_import(env: str | None, source: str, entries_: list[Entry],
               skipped: list[Skipped]) -> EnvImport:
    return EnvImport(env=env, source=source, entries=entries_, skipped=skipped)
