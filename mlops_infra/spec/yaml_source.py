"""Parse YAML text into plain Python data plus a ``LineMap`` of where every value came from.

PyYAML keeps the last of duplicate keys silently; we compose the node tree ourselves
so duplicates are errors and every key/item gets its line. Anchors, aliases and
``<<`` merge keys keep working (merged keys may be overridden; written twice may not).
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from mlops_infra.spec.errors import SourceLocation, SpecError
from mlops_infra.spec.source import LineMap, join_path

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: ~10x faster


def parse_yaml(text: str, *, filename: str) -> tuple[Any, LineMap]:
    """The document's data and line map; ``SpecError`` with file:line on any YAML problem."""
    loader = _LOADER(text)
    lines = LineMap(filename)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, lines
        lines.set("", node.start_mark.line + 1)
        return _Builder(loader, lines).build(node, ""), lines
    except yaml.MarkedYAMLError as exc:
        raise _yaml_error(exc, filename, text) from None
    except yaml.YAMLError as exc:
        raise SpecError(f"invalid YAML: {' '.join(str(exc).split())}",
                        location=SourceLocation(filename)) from None
    finally:
        loader.dispose()


def _yaml_error(exc: yaml.MarkedYAMLError, filename: str, text: str) -> SpecError:
    mark = exc.problem_mark or exc.context_mark
    if exc.context_mark and exc.problem_mark and exc.problem_mark.index >= len(text.rstrip()):
        mark = exc.context_mark   # ran off the end (unclosed bracket or quote): point where it opened
    line = mark.line + 1 if mark else None
    words = [w for w in (exc.context, exc.problem) if w]
    return SpecError("invalid YAML: " + " ".join(", ".join(words).split()),
                     location=SourceLocation(filename, line))


class _Builder:
    """Walks composed nodes into plain data, filling the line map as it goes."""

    def __init__(self, loader: Any, lines: LineMap) -> None:
        self.loader = loader
        self.lines = lines
        self.flattened: set[int] = set()   # aliased mappings are visited more than once
        self.open: set[int] = set()        # nodes being built: meeting one again is a loop

    def build(self, node: Node, path: str) -> Any:
        if isinstance(node, ScalarNode):
            return self.loader.construct_object(node, deep=True)
        if id(node) in self.open:
            raise SpecError("recursive alias", field=path or None,
                            location=SourceLocation(self.lines.file, node.start_mark.line + 1))
        self.open.add(id(node))
        try:
            if isinstance(node, MappingNode):
                return self.mapping(node, path)
            assert isinstance(node, SequenceNode)
            return self.sequence(node, path)
        finally:
            self.open.discard(id(node))

    def sequence(self, node: SequenceNode, path: str) -> list[Any]:
        items = []
        for index, child in enumerate(node.value):
            child_path = join_path(path, index)
            self.lines.set(child_path, child.start_mark.line + 1, parent=path, key=index)
            items.append(self.build(child, child_path))
        return items

    def mapping(self, node: MappingNode, path: str) -> dict[Any, Any]:
        if id(node) not in self.flattened:
            self.check_duplicates(node, path)
            self.loader.flatten_mapping(node)  # "<<" merges: merged pairs first, own pairs last
            self.flattened.add(id(node))
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = self.key(key_node, path)
            child_path = join_path(path, key)
            self.lines.set(child_path, key_node.start_mark.line + 1, parent=path, key=key)
            result[key] = self.build(value_node, child_path)
        return result

    def key(self, key_node: Node, path: str) -> Any:
        if not isinstance(key_node, ScalarNode):
            raise SpecError("mapping keys must be scalars", field=path or None,
                            location=SourceLocation(self.lines.file, key_node.start_mark.line + 1))
        return self.loader.construct_object(key_node, deep=True)

    def check_duplicates(self, node: MappingNode, path: str) -> None:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.key(key_node, path)
            if key in seen:
                raise SpecError(f"duplicate key '{key}'", field=join_path(path, key) or None,
                                location=SourceLocation(self.lines.file,
                                                        key_node.start_mark.line + 1))
            seen.add(key)
