"""Load-time resolution of ``${vars.*}``, ``${project}``, ``${region}``, ``${stack}``, ``${env}``.

Variables may refer to each other and to ``${project}``/``${region}`` (which may in
turn use variables); values are resolved lazily, once, and cycles are errors.
Resource references (``${ADDRESS.OUTPUT}``) are left as written for the engine.
"""

from __future__ import annotations

from typing import Any

from mlops_infra.spec.hints import did_you_mean
from mlops_infra.spec.refs import Ref, RefSyntaxError, located_refs, render, walk_strings
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

    def resolve(self, value: Any, path: str) -> Any:
        """``value`` (found at dotted ``path``) with load-time references substituted."""
        return walk_strings(value, self._render, path)

    def _render(self, text: str, path: str) -> Any:
        try:
            return render(text, lambda ref: self._lookup(ref, path), keep_escapes=True)
        except RefSyntaxError as exc:
            raise self.lines.error(path, str(exc)) from None

    def _lookup(self, ref: Ref, path: str) -> Any:
        if ref.is_resource:
            return ref.text
        if ref.is_context:
            return self.entry(ref.parts[0], path)
        return self._var(ref, path)

    def _var(self, ref: Ref, path: str) -> Any:
        name = ".".join(ref.parts[:2])
        if name not in self.raw:
            names = [k.split(".", 1)[1] for k in self.raw if k.startswith("vars.")]
            hint = did_you_mean(ref.parts[1], names, quote="'${{vars.{}}}'")
            raise self.lines.error(path, f"unknown variable '{ref.text}'{hint}")
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
        raise self.lines.error(path, f"unknown reference '{ref.text}': "
                                     f"'{where}' has no key '{key}'{hint}")

    def entry(self, name: str, path: str) -> Any:
        """The fully resolved value of ``vars.X``, ``project``, ``region``, ``stack`` or ``env``."""
        if name in self.done:
            return self.done[name]
        if name in self.active:
            cycle = " -> ".join(self.active[self.active.index(name):] + [name])
            raise self.lines.error(path, f"variable cycle: {cycle}")
        self.active.append(name)
        raw, raw_path = self.raw[name]
        try:
            self.done[name] = self.resolve(raw, raw_path)
        finally:
            self.active.pop()
        return self.done[name]

    def all_vars(self) -> dict[str, Any]:
        return {k.split(".", 1)[1]: self.entry(k, k) for k in self.raw if k.startswith("vars.")}


def check_no_resource_refs(value: Any, path: str, lines: LineMap) -> None:
    """Resource outputs exist only at plan time: refuse them where the loader needs values."""
    found = located_refs(value, path, lines)
    if found:
        sub, ref = found[0]
        raise lines.error(join_path(path, sub) if sub else path,
                          f"'{ref.text}' refers to a resource output, which is not allowed here")

