"""Composing the spec document: one environment's entries, then several folded into one.

One environment gives a document: the most common project and region at the top, each
resource with its ``kind``, ``name`` (when it is not the address), ``project`` (when not the
top one), its fields (the region field left out where it is the top region) and its waivers.

Several environments fold into a base and ``environments:`` overlays holding only what differs
(the loader deep-merges them: mappings merge, lists and scalars replace, ``null`` removes):

* a value every environment shares is the base's;
* a string that differs only by the environment's project id or name becomes one template
  (``${project}-raw-data``, ``labels: {env: ${env}}``);
* a value that differs per environment and recurs in several places becomes a variable
  (``vars: {location: US}``, overridden where it differs; the places say ``${vars.location}``);
* anything else takes the most common value in the base, and the environments that differ
  say theirs (a key some lack is removed there with ``null``); a resource only some
  environments have is in the base when most have it, else only in their overlays.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from mlops_infra.engine.kind import Kind
from mlops_infra.importers.model import Entry, EnvImport
from mlops_infra.spec.identifiers import region_problem


class _Absent:
    """A key an environment does not have."""

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Any = _Absent()
Doc = dict[str, Any]


def top_project(entries: list[Entry]) -> str | None:
    projects = Counter(e.project for e in entries if e.project)
    return projects.most_common(1)[0][0] if projects else None


def top_region(entries: list[Entry]) -> str | None:
    regions = Counter(e.region for e in entries if e.region and not region_problem(e.region))
    return regions.most_common(1)[0][0] if regions else None


def env_document(imp: EnvImport, *, kind_for: Callable[[str], Kind]) -> Doc:
    """The spec document of one environment (without envelope keys)."""
    doc: Doc = {}
    if imp.project:
        doc["project"] = imp.project
    if imp.region:
        doc["region"] = imp.region
    doc["resources"] = {e.address: _resource(e, imp, kind_for(e.kind)) for e in imp.entries}
    if imp.outputs:
        doc["outputs"] = dict(imp.outputs)
    if imp.secrets:
        doc["secrets"] = dict(imp.secrets)
    return doc


def _resource(entry: Entry, imp: EnvImport, kind: Kind) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": entry.kind}
    if entry.name and entry.name != entry.address:
        out["name"] = entry.name
    if entry.project and entry.project != imp.project:
        out["project"] = entry.project
    fields = dict(entry.fields)
    field = kind.region_field
    if field and imp.region and fields.get(field) == imp.region and entry.region == imp.region:
        del fields[field]
    out.update(fields)
    if entry.waivers:
        out["waivers"] = dict(sorted(entry.waivers.items()))
    return out


# --- folding ----------------------------------------------------------------------------

def fold(docs: Mapping[str, Doc]) -> tuple[Doc, dict[str, Doc]]:
    """The base document and each environment's overlay (``{}`` when it differs in nothing)."""
    envs = list(docs)
    projects = {env: docs[env].get("project") for env in envs}
    docs = _with_vars(docs, projects)
    top = {key: _fold({env: docs[env].get(key, ABSENT) for env in envs}, envs, {})
           for key in ("project", "region")}     # ${project} cannot define the project
    rest = {env: {k: v for k, v in docs[env].items() if k not in top} for env in envs}
    base, overlays = _fold(rest, envs, projects)
    base = {} if base is ABSENT else base
    overlays = {env: dict(overlays.get(env) or {}) for env in envs}
    for key, (value, diff) in reversed(list(top.items())):
        if value is not ABSENT:
            base = {key: value, **base}
        for env, over in diff.items():
            overlays[env][key] = over
    return base, overlays


def _fold(values: Mapping[str, Any], envs: list[str],
          projects: Mapping[str, str | None]) -> tuple[Any, dict[str, Any]]:
    """``(base, {env: overlay})`` for one value across environments (ABSENT: not there)."""
    present = [v for v in values.values() if v is not ABSENT]
    if present and all(isinstance(v, dict) for v in present) and \
            _most_common(values, envs) is not ABSENT:
        return _fold_map(values, envs, projects)
    if _all_equal(list(values.values())):
        return next(iter(values.values())), {}
    template = _template(values, projects)
    if template is not None:
        return template, {}
    base = _most_common(values, envs)
    return base, {env: (None if v is ABSENT else v) for env, v in values.items()
                  if not _same(v, base)}


def _fold_map(values: Mapping[str, Any], envs: list[str],
              projects: Mapping[str, str | None]) -> tuple[Doc, dict[str, Any]]:
    base: Doc = {}
    overlays: dict[str, Any] = {}
    keys = list(dict.fromkeys(k for v in values.values() if isinstance(v, dict) for k in v))
    for key in keys:
        sub = {env: (v.get(key, ABSENT) if isinstance(v, dict) else ABSENT)
               for env, v in values.items()}
        value, diff = _fold(sub, envs, projects)
        if value is not ABSENT:
            base[key] = value
        for env, over in diff.items():
            overlays.setdefault(env, {})[key] = over
    for env, v in values.items():
        if v is ABSENT:                  # the whole map is missing there: remove it
            overlays[env] = None
    return base, overlays


def _same(a: Any, b: Any) -> bool:
    return a is b or (a is not ABSENT and b is not ABSENT and a == b)


def _all_equal(items: list[Any]) -> bool:
    return all(_same(items[0], other) for other in items[1:])


def _most_common(values: Mapping[str, Any], envs: list[str]) -> Any:
    """The most frequent value (ties: the earliest environment's)."""
    best, best_count = ABSENT, 0
    for env in envs:
        value = values[env]
        count = sum(1 for other in values.values() if _same(other, value))
        if count > best_count:
            best, best_count = value, count
    return best


def _template(values: Mapping[str, Any], projects: Mapping[str, str | None]) -> str | None:
    """One string for every environment's, with ``${project}`` or ``${env}`` in it, if any."""
    if not all(isinstance(v, str) and "${" not in v.replace("$${", "") for v in values.values()):
        return None
    for token, of in (("${project}", lambda env: projects.get(env)), ("${env}", lambda env: env)):
        made = {_replaced(str(v), of(env), token) for env, v in values.items()}
        if len(made) == 1:
            candidate = made.pop()
            if token in candidate:
                return candidate
    return None


def _replaced(value: str, word: str | None, token: str) -> str:
    """``value`` with ``word`` (standing alone, not inside a longer name) as ``token``."""
    if not word:
        return value
    return re.sub(rf"(?<![A-Za-z0-9]){re.escape(word)}(?![A-Za-z0-9])", token, value)


# --- variables --------------------------------------------------------------------------------

def _with_vars(docs: Mapping[str, Doc], projects: Mapping[str, str | None]) -> dict[str, Doc]:
    """Per-environment values recurring at several places become ``${vars.NAME}``."""
    envs = list(docs)
    if len(envs) < 2:
        return dict(docs)
    places: dict[tuple[Any, ...], list[tuple[str, ...]]] = {}
    for path in _leaf_paths(docs[envs[0]].get("resources", {}), ("resources",)):
        vector = tuple(_get(docs[env], path) for env in envs)
        if any(v is ABSENT or isinstance(v, (dict, list)) for v in vector):
            continue
        if _all_equal(list(vector)) or _template(dict(zip(envs, vector)), projects) is not None:
            continue
        places.setdefault(vector, []).append(path)
    out = {env: _deep_copy(doc) for env, doc in docs.items()}
    taken: set[str] = set()
    for vector, paths in places.items():
        if len(paths) < 2:
            continue
        name = _var_name(paths[0][-1], taken)
        for i, env in enumerate(envs):
            out[env].setdefault("vars", {})[name] = vector[i]
            for path in paths:
                _set(out[env], path, f"${{vars.{name}}}")
    return out


def _leaf_paths(node: Any, prefix: tuple[str, ...]) -> list[tuple[str, ...]]:
    if isinstance(node, dict):
        return [p for k, v in node.items() if k not in ("kind", "waivers")
                for p in _leaf_paths(v, (*prefix, k))]
    return [prefix]


def _get(doc: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(doc, dict) or key not in doc:
            return ABSENT
        doc = doc[key]
    return doc


def _set(doc: Doc, path: tuple[str, ...], value: Any) -> None:
    for key in path[:-1]:
        doc = doc[key]
    doc[path[-1]] = value


def _var_name(key: str, taken: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9_]", "_", key) or "value"
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}_{n}"
    taken.add(name)
    return name


def _deep_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value
