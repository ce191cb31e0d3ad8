"""Load-time resolution of ``${vars.*}``, ``${project}``, ``${region}``, ``${stack}``, ``${env}``.

Variables may refer to each other and to ``${project}``/``${region}`` (which may in
turn use variables); values are resolved lazily, once, and cycles are errors.
Resource references (``${ADDRESS.OUTPUT}``) and secrets (``${secrets.NAME}``) are left as
written for the engine.

What resolution may build is bounded (see ``limits``): one interpolated string is at most
``MAX_STRING`` characters and all of them together ``MAX_INTERPOLATED``; mappings and lists
inserted by a lone ``${vars.X}`` count against ``MAX_VAR_NODES`` and may not nest deeper
than ``MAX_DEPTH``; a variable is defined through at most ``MAX_VAR_CHAIN`` levels of
other variables. So variables that double a string or a list forty times fail after a
few megabytes, in milliseconds.
"""

from __future__ import annotations

from typing import Any

from mlops_infra.spec.hints import clip, did_you_mean
from mlops_infra.spec.limits import (
    MAX_DEPTH,
    MAX_INTERPOLATED,
    MAX_STRING,
    MAX_VAR_CHAIN,
    MAX_VAR_NODES,
)
from mlops_infra.spec.refs import (
    Ref,
    TemplateError,
    has_template,
    interpolate,
    located_refs,
    lone_ref,
    tokenize,
)
from mlops_infra.spec.secrets import refuse_secret_refs
from mlops_infra.spec.source import LineMap, join_path


class Variables:
    """Resolves load-time references inside any value, with errors located by ``LineMap``."""

    def __init__(self, *, vars: dict[str, Any], project: Any, region: Any, stack: str,
                 env: str | None, lines: LineMap) -> None:
        self.lines = lines
        self.raw: dict[str, tuple[Any, str]] = {f"vars.{k}": (v, f"vars.{k}") for k, v in vars.items()}
        self.raw["project"] = (project, "project")
        self.raw["region"] = (region, "region")
        self.done: dict[str, Any] = {"stack": stack, "env": env or ""}
        self.active: list[str] = []
        self.levels: dict[str, int] = {}     # variable -> 1 + the deepest variable it uses
        self.frames: list[int] = []          # per active variable: deepest level it used so far
        self.chars = 0                       # characters built by interpolation so far
        self.nodes = 0                       # nodes inserted by lone references so far

    def resolve(self, value: Any, path: str) -> Any:
        """``value`` (found at dotted ``path``) with load-time references substituted."""
        return self._walk(value, path, path.count(".") + 1 if path else 0)

    def _walk(self, value: Any, path: str, depth: int) -> Any:
        if isinstance(value, str):
            return self._render(value, path, depth)
        if isinstance(value, dict):
            return {k: self._walk(v, join_path(path, k), depth + 1) for k, v in value.items()}
        if isinstance(value, list):
            return [self._walk(v, join_path(path, i), depth + 1) for i, v in enumerate(value)]
        return value

    def _render(self, text: str, path: str, depth: int) -> Any:
        if not has_template(text):
            return text
        try:
            tokens = tokenize(text)
            lone = lone_ref(tokens)
            if lone is not None:
                return self._inserted(self._lookup(lone, path), path, depth)
            result = interpolate(tokens, lambda ref: self._lookup(ref, path), keep_escapes=True,
                                 max_length=MAX_STRING)
        except TemplateError as exc:
            raise self.lines.error(path, str(exc)) from None
        self.chars += len(result)
        if self.chars > MAX_INTERPOLATED:
            raise self.lines.error(path, f"references build more than {MAX_INTERPOLATED} "
                                         "characters of text in this spec")
        return result

    def _inserted(self, value: Any, path: str, depth: int) -> Any:
        """A lone reference's value, counted against the node budget when it is a container."""
        if not isinstance(value, (dict, list)):
            return value
        nodes, nesting = measure(value, MAX_VAR_NODES - self.nodes + 1)
        self.nodes += nodes
        if self.nodes > MAX_VAR_NODES:
            raise self.lines.error(path, f"references to mappings and lists insert more than "
                                         f"{MAX_VAR_NODES} values in this spec")
        if depth + nesting > MAX_DEPTH:
            raise self.lines.error(path, f"the value would nest deeper than {MAX_DEPTH} levels "
                                         "once its references are substituted")
        return value

    def _lookup(self, ref: Ref, path: str) -> Any:
        if ref.is_resource or ref.is_secret:
            return ref.text
        if ref.is_each:
            raise self.lines.error(path, f"'{clip(ref.text)}' is only defined inside a resource "
                                         "with forEach")
        if ref.is_context:
            return self.entry(ref.parts[0], path)
        return self._var(ref, path)

    def _var(self, ref: Ref, path: str) -> Any:
        name = ".".join(ref.parts[:2])
        if name not in self.raw:
            names = [k.split(".", 1)[1] for k in self.raw if k.startswith("vars.")]
            hint = did_you_mean(ref.parts[1], names, quote="'${{vars.{}}}'")
            raise self.lines.error(path, f"unknown variable '{clip(ref.text)}'{hint}")
        value = self.entry(name, path)
        for depth, key in enumerate(ref.parts[2:], start=2):
            value = self._index(value, key, ref, depth, path)
        return value

    def _index(self, value: Any, key: str, ref: Ref, depth: int, path: str) -> Any:
        where = ".".join(ref.parts[:depth])
        if isinstance(value, dict) and key in value:
            return value[key]
        if isinstance(value, list) and key.isdigit() and int(key) < len(value):
            return value[int(key)]
        hint = did_you_mean(key, [str(k) for k in value]) if isinstance(value, dict) else ""
        raise self.lines.error(path, f"unknown reference '{clip(ref.text)}': "
                                     f"'{clip(where)}' has no key '{clip(key)}'{hint}")

    def entry(self, name: str, path: str) -> Any:
        """The fully resolved value of ``vars.X``, ``project``, ``region``, ``stack`` or ``env``."""
        if name in self.done:
            self._used(self.levels.get(name, 0))
            return self.done[name]
        if name in self.active:
            cycle = " -> ".join(self.active[self.active.index(name):] + [name])
            raise self.lines.error(path, f"variable cycle: {clip(cycle, 400)}")
        raw, raw_path = self.raw[name]
        if len(self.active) >= MAX_VAR_CHAIN:
            raise self._too_deep(raw_path)
        self.active.append(name)
        self.frames.append(0)
        try:
            value = self.resolve(raw, raw_path)
        finally:
            self.active.pop()
            level = self.frames.pop() + 1
        if level > MAX_VAR_CHAIN:
            raise self._too_deep(raw_path)
        self.done[name], self.levels[name] = value, level
        self._used(level)
        return value

    def _used(self, level: int) -> None:
        if self.frames:
            self.frames[-1] = max(self.frames[-1], level)

    def _too_deep(self, path: str) -> Exception:
        return self.lines.error(path, f"defined through more than {MAX_VAR_CHAIN} levels of "
                                      "other variables")

    def all_vars(self) -> dict[str, Any]:
        return {k.split(".", 1)[1]: self.entry(k, k) for k in self.raw if k.startswith("vars.")}


def measure(value: Any, limit: int) -> tuple[int, int]:
    """``(nodes, nesting)`` of a nested value; counting stops once it passes ``limit``
    nodes, so a value shared a billion times over is not walked a billion times."""
    nodes = nesting = 0
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending and nodes <= limit:
        item, depth = pending.pop()
        nodes += 1
        if isinstance(item, (dict, list)):
            nesting = max(nesting, depth)
            children = item.values() if isinstance(item, dict) else item
            pending.extend((child, depth + 1) for child in children)
    return nodes, nesting


def check_no_resource_refs(value: Any, path: str, lines: LineMap) -> None:
    """Resource outputs exist only at plan time, and secrets are never written where values
    are shown or stored: refuse both where the loader needs values."""
    refuse_secret_refs(value, path, lines)
    found = located_refs(value, path, lines)
    if found:
        sub, ref = found[0]
        raise lines.error(join_path(path, sub) if sub else path,
                          f"'{clip(ref.text)}' refers to a resource output, which is not "
                          "allowed here")
