"""``forEach``: one resource entry that stands for several, expanded when the spec is loaded.

::

    vars:
      scientists: {alice: alice@acme.com, bob: bob@acme.com}   # or a list: [alice, bob]
    resources:
      workbench:
        kind: workbench.Instance
        forEach: ${vars.scientists}
        instanceOwners: ["${each.value}"]
        labels: {owner: "${each.key}"}

becomes ``workbench-alice`` and ``workbench-bob``: one resource per item, at the address
``ADDRESS-KEY``, where the key is the item itself for a list of strings and the mapping key
for a mapping (the value then is the mapping's value: a string, or a mapping read with
``${each.value.FIELD}``). Addresses are stable: adding or removing an item never renames
another, so the ledger keeps each resource under its own key. Keys are lowercase letters,
digits, ``_`` and ``-`` (they end an address); duplicates and a generated address that
another resource already has are errors. ``forEach`` takes a list, a mapping, or a variable
holding one (never a resource output: the expansion happens at load time); an empty one
makes no resource.

Inside the entry ``${each.key}`` and ``${each.value}`` are substituted before the other
references; a string that is exactly one of them keeps the value's type. ``dependsOn`` naming
the entry's address depends on every resource it expands to; ``${ADDRESS.OUTPUT}`` must name
one of them (``${workbench-alice.id}``). Every error names file, line and field; an error in
an expanded resource is located at the template's line (``resources.workbench-alice.zone``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from mlops_infra.spec.envelope import type_name
from mlops_infra.spec.hints import clip
from mlops_infra.spec.refs import ESCAPE, Ref, TemplateError, has_template, located_refs, tokenize
from mlops_infra.spec.source import LineMap, join_path

FOR_EACH = "forEach"
_KEY = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_KEY_RULE = "lowercase letters, digits, '_' and '-', starting with a letter or digit"

Resolve = Callable[[Any, str], Any]


def expand(section: dict[Any, Any], resolve: Resolve,
           lines: LineMap) -> tuple[dict[Any, Any], dict[str, list[str]]]:
    """``resources:`` with every ``forEach`` entry replaced by the resources it stands for,
    and the addresses each such entry expanded to.

    ``resolve(value, path)`` resolves load-time variables (the item list usually is one).
    """
    groups: dict[str, list[str]] = {}
    out: dict[Any, Any] = {}
    for address, raw in section.items():
        if not isinstance(raw, dict) or FOR_EACH not in raw:
            out[address] = raw
            continue
        members = groups[str(address)] = []
        for new, body in _instances(str(address), raw, resolve, lines):
            if new in section or new in out:
                raise lines.error(join_path("resources", address, FOR_EACH),
                                  f"item address '{clip(new)}' is also another resource's address")
            lines.replace_subtree(join_path("resources", new), join_path("resources", address),
                                  parent="resources", key=new)
            out[new] = body
            members.append(new)
    if groups:
        refuse_group_refs(out, groups, lines, "resources")
        out = {a: _expand_depends_on(r, groups) for a, r in out.items()}
    return out, groups


def _instances(address: str, raw: dict[str, Any], resolve: Resolve,
               lines: LineMap) -> list[tuple[str, Any]]:
    path = join_path("resources", address, FOR_EACH)
    items = _items(resolve(raw[FOR_EACH], path), path, lines)
    body = {k: v for k, v in raw.items() if k != FOR_EACH}
    base = join_path("resources", address)
    return [(f"{address}-{key}", _substituted(body, key, value, base, lines))
            for key, value in items]


def _items(value: Any, path: str, lines: LineMap) -> list[tuple[str, Any]]:
    """``(key, value)`` of each item: a list of strings (each its own key) or a mapping."""
    if isinstance(value, list):
        bad = next((v for v in value if not isinstance(v, str)), None)
        if bad is not None:
            raise lines.error(path, f"forEach over a list takes strings (got {type_name(bad)}); "
                                    "use a mapping KEY: VALUE for other values")
        pairs = [(v, v) for v in value]
    elif isinstance(value, dict):
        pairs = [(str(k), v) for k, v in value.items()]
    else:
        raise lines.error(path, f"forEach must be a list of strings or a mapping (got "
                                f"{type_name(value)})")
    if located_refs([[k, v] for k, v in pairs], path, lines):
        raise lines.error(path, "forEach items cannot hold resource outputs: the resources are "
                                "expanded when the spec is loaded")
    seen: set[str] = set()
    for key, _ in pairs:
        if has_template(key) or not _KEY.match(key):
            raise lines.error(path, f"forEach key '{clip(key)}' cannot end an address: use "
                                    f"{_KEY_RULE} (a mapping gives each item a key of its own)")
        if key in seen:
            raise lines.error(path, f"forEach key '{clip(key)}' appears twice")
        seen.add(key)
    return pairs


def _substituted(value: Any, key: str, item: Any, path: str, lines: LineMap) -> Any:
    """``value`` with ``${each.key}`` / ``${each.value...}`` substituted."""
    if isinstance(value, dict):
        return {k: _substituted(v, key, item, join_path(path, k), lines) for k, v in value.items()}
    if isinstance(value, list):
        return [_substituted(v, key, item, join_path(path, i), lines) for i, v in enumerate(value)]
    if not isinstance(value, str) or not has_template(value):
        return value
    try:
        tokens = tokenize(value)
        lone = tokens[0] if len(tokens) == 1 and isinstance(tokens[0], Ref) else None
        if lone is not None and lone.is_each:
            return _each(lone, key, item)
        return "".join(_text(token, key, item) for token in tokens)
    except TemplateError as exc:
        raise lines.error(path, str(exc)) from None


def _text(token: Any, key: str, item: Any) -> str:
    if token is ESCAPE:
        return "$${"                    # escapes stay for the variables pass
    if isinstance(token, Ref):
        if not token.is_each:
            return token.text           # other references are resolved afterwards
        found = _each(token, key, item)
        if isinstance(found, (dict, list)):
            raise TemplateError(f"'{token.text}' holds a mapping or list, which cannot be "
                                "interpolated into text (use it as the whole value)")
        return "" if found is None else str(found).lower() if isinstance(found, bool) else str(found)
    return str(token)


def _each(ref: Ref, key: str, item: Any) -> Any:
    if ref.parts[1] == "key":
        return key
    value = item
    for depth, part in enumerate(ref.parts[2:], start=2):
        if not isinstance(value, dict) or part not in value:
            where = ".".join(ref.parts[:depth])
            raise TemplateError(f"unknown reference '{clip(ref.text)}': '{where}' of item "
                                f"'{clip(key)}' has no key '{clip(part)}'")
        value = value[part]
    return value


def refuse_group_refs(values: dict[Any, Any], groups: dict[str, list[str]], lines: LineMap,
                      section: str) -> None:
    """``${GROUP.OUTPUT}`` names several resources at once: ask for one of them."""
    for address, raw in values.items():
        if not isinstance(address, str):
            continue
        for sub, ref in located_refs(raw, join_path(section, address), lines):
            members = groups.get(ref.parts[0])
            if members is not None:
                example = f"${{{members[0]}.{ref.parts[1]}}}" if members else "one of its items"
                raise lines.error(join_path(section, address, sub),
                                  f"'{clip(ref.text)}': '{ref.parts[0]}' has forEach and stands "
                                  f"for {len(members)} resource{'s' if len(members) != 1 else ''}; name one, "
                                  f"e.g. {example}")


def _expand_depends_on(raw: Any, groups: dict[str, list[str]]) -> Any:
    if not isinstance(raw, dict) or "dependsOn" not in raw:
        return raw
    named = raw["dependsOn"]
    named = [named] if isinstance(named, str) else named
    if not isinstance(named, list):
        return raw                       # refused later with its line
    expanded: list[Any] = []
    for target in named:
        expanded += groups.get(target, [target]) if isinstance(target, str) else [target]
    return {**raw, "dependsOn": expanded}
