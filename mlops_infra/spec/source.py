"""Where spec values came from: a map of dotted field paths to 1-based line numbers.

Every error the spec package raises goes through ``LineMap.error`` so that it names
``file:line`` and the dotted field path in one line.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from mlops_infra.spec.errors import SourceLocation, SpecError
from mlops_infra.spec.hints import clip
from mlops_infra.spec.limits import MAX_SHOWN

_MAX_MESSAGE = 1000


def join_path(*parts: Any) -> str:
    """Dotted path from segments, skipping empty ones (``join_path("a", 0, "b") == "a.0.b"``)."""
    return ".".join(str(p) for p in parts if p != "" and p is not None)


def shown_path(path: str) -> str:
    """``path`` for a message: each very long segment (a key pasted by mistake) clipped,
    and a very deep path shortened in the middle."""
    if len(path) <= MAX_SHOWN:
        return path
    shown = ".".join(clip(part) for part in path.split("."))
    if len(shown) <= 3 * MAX_SHOWN:
        return shown
    return f"{shown[:MAX_SHOWN]}...{shown[-MAX_SHOWN:]}"


def parent_path(path: str) -> str:
    return path.rpartition(".")[0]


@dataclass
class LineMap:
    """Dotted path -> line for one file; lookups fall back to the nearest parent path.

    Paths are also kept as a tree (parent -> children) so a subtree is found without
    scanning every path: keys may contain dots, so parents are recorded, not parsed.
    """

    file: str
    lines: dict[str, int] = field(default_factory=dict)
    children: dict[str, dict[str, str]] = field(default_factory=dict, repr=False)

    def set(self, path: str, line: int, *, parent: str | None = None, key: Any = None) -> None:
        """Record ``path``; ``parent``/``key`` place it in the tree (default: split on '.')."""
        self.lines[path] = line
        if path:
            if parent is None:
                parent, _, key = path.rpartition(".")
            self.children.setdefault(parent, {})[str(key)] = path

    def line(self, path: str) -> int | None:
        while True:
            if path in self.lines:
                return self.lines[path]
            if not path:
                return None
            path = parent_path(path)

    def location(self, path: str) -> SourceLocation:
        return SourceLocation(self.file, self.line(path))

    def error(self, path: str, message: str) -> SpecError:
        """A one-line ``SpecError`` for ``path`` (which may be ``""`` for the whole document)."""
        return self.error_at(self.line(path), path, message)

    def error_at(self, line: int | None, path: str, message: str) -> SpecError:
        """``error`` at an explicit line; very long names and messages are clipped."""
        one_line = clip(" ".join(message.split()), _MAX_MESSAGE)
        return SpecError(one_line, location=SourceLocation(self.file, line),
                         field=shown_path(path) or None)

    def copy(self) -> LineMap:
        """An independent copy (an overlay rewrites lines in place)."""
        return LineMap(self.file, dict(self.lines),
                       {parent: dict(kids) for parent, kids in self.children.items()})

    def subtree(self, prefix: str) -> Iterator[tuple[str, str]]:
        """``(relative path, full path)`` of every recorded path strictly below ``prefix``."""
        for key, child in self.children.get(prefix, {}).items():
            yield key, child
            for rel, full in self.subtree(child):
                yield f"{key}.{rel}", full

    def under(self, prefix: str) -> dict[str, int]:
        """Lines of the paths strictly below ``prefix``, relative to it."""
        return {rel: self.lines[full] for rel, full in self.subtree(prefix) if full in self.lines}

    def replace_subtree(self, to: str, source: str, *, parent: str, key: Any) -> None:
        """Make ``to`` (child ``key`` of ``parent``) and everything below it carry the
        lines of ``source``'s subtree."""
        for _, stale in list(self.subtree(to)):
            self.lines.pop(stale, None)
            self.children.pop(stale, None)
        self.children.pop(to, None)
        self.set(to, self.lines[source], parent=parent, key=key)
        self._copy_children(to, source)

    def _copy_children(self, to: str, source: str) -> None:
        for key, child in self.children.get(source, {}).items():
            target = f"{to}.{key}"
            self.set(target, self.lines[child], parent=to, key=key)
            self._copy_children(target, child)
