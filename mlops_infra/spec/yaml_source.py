"""Parse YAML text into plain Python data plus a ``LineMap`` of where every value came from.

PyYAML keeps the last of duplicate keys silently; we compose the node tree ourselves
(``yaml_compose``) so duplicates are errors and every key/item gets its line. Anchors,
aliases and ``<<`` merge keys keep working (merged keys may be overridden; written twice
may not). Expanding aliases and merges is counted against ``MAX_ALIAS_NODES``, so an alias
bomb ("billion laughs") stops after a bounded amount of work and memory.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from mlops_infra.spec.errors import SourceLocation, SpecError
from mlops_infra.spec.hints import clip
from mlops_infra.spec.limits import INT64, MAX_ALIAS_NODES, MAX_DEPTH, MAX_FILE_BYTES
from mlops_infra.spec.source import LineMap, join_path
from mlops_infra.spec.text import line_and_column, too_large
from mlops_infra.spec.yaml_compose import AliasNode, compose_single, unalias

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: ~10x faster
_MERGE_TAG = "tag:yaml.org,2002:merge"

Pair = tuple[Any, Node, Node]          # (constructed key, key node, value node)


def parse_yaml(text: str, *, filename: str) -> tuple[Any, LineMap]:
    """The document's data and line map; ``SpecError`` with file:line on any YAML problem."""
    if len(text) > MAX_FILE_BYTES:
        raise too_large(filename, None)
    text = text.removeprefix("\ufeff")
    try:
        loader = _LOADER(text)
    except UnicodeEncodeError as exc:            # a lone surrogate in a str from a caller
        raise _unencodable(exc, filename, text) from None
    lines = LineMap(filename)
    try:
        node = compose_single(loader, filename)
        if node is None:
            return None, lines
        lines.set("", node.start_mark.line + 1)
        return _Builder(loader, lines).build(node, "", 0), lines
    except yaml.MarkedYAMLError as exc:
        raise _yaml_error(exc, filename, text) from None
    except yaml.reader.ReaderError as exc:
        raise _reader_error(exc, filename, text) from None
    except yaml.YAMLError as exc:
        raise SpecError(f"invalid YAML: {clip(' '.join(str(exc).split()), 200)}",
                        location=SourceLocation(filename)) from None
    except RecursionError:
        raise SpecError(f"the document nests too deeply (the limit is {MAX_DEPTH} levels)",
                        location=SourceLocation(filename)) from None
    finally:
        loader.dispose()


def _yaml_error(exc: yaml.MarkedYAMLError, filename: str, text: str) -> SpecError:
    mark = exc.problem_mark or exc.context_mark
    if exc.context_mark and exc.problem_mark and exc.problem_mark.index >= len(text.rstrip()):
        mark = exc.context_mark   # ran off the end (unclosed bracket or quote): point where it opened
    line = mark.line + 1 if mark else None
    words = [w for w in (exc.context, exc.problem) if w]
    return SpecError("invalid YAML: " + clip(" ".join(", ".join(words).split()), 200),
                     location=SourceLocation(filename, line))


def _unencodable(exc: UnicodeEncodeError, filename: str, text: str) -> SpecError:
    line, column = line_and_column(text, exc.start)
    return SpecError(f"invalid text: character U+{ord(text[exc.start]):04X} at column {column} "
                     "cannot be written as UTF-8", location=SourceLocation(filename, line))


def _reader_error(exc: yaml.reader.ReaderError, filename: str, text: str) -> SpecError:
    """A character YAML does not allow (control characters): located by finding it, since
    libyaml reports a byte offset and the pure-Python reader a character offset."""
    char = chr(exc.character) if isinstance(exc.character, int) else str(exc.character)
    offset = text.find(char)
    line, column = line_and_column(text, offset) if offset >= 0 else (None, None)
    where = f" at column {column}" if column else ""
    return SpecError(f"invalid YAML: unacceptable character U+{ord(char[:1] or ' '):04X}{where} "
                     f"({exc.reason})", location=SourceLocation(filename, line))


class _Builder:
    """Walks composed nodes into plain data, filling the line map as it goes.

    An aliased node is built once per place it is used (each use gets its own lines);
    every visit of a node after the first counts as expanded, as does every key pair a
    ``<<`` merge copies, and more than ``MAX_ALIAS_NODES`` of those is refused at the
    outermost alias being expanded.
    """

    def __init__(self, loader: Any, lines: LineMap) -> None:
        self.loader = loader
        self.lines = lines
        self.seen: set[int] = set()
        self.expanded = 0
        self.pairs: dict[int, list[Pair]] = {}     # a mapping's keys after merges, per node
        self.outermost: tuple[Node, str] | None = None   # the alias being expanded, and where

    def build(self, node: Node, path: str, depth: int) -> Any:
        if isinstance(node, AliasNode):
            return self.expand(node, path, depth)
        self.visit(node, path, depth)
        if isinstance(node, ScalarNode):
            return self.scalar(node, path)
        if isinstance(node, MappingNode):
            return self.mapping(node, path, depth)
        assert isinstance(node, SequenceNode)
        return self.sequence(node, path, depth)

    def scalar(self, node: ScalarNode, path: str) -> Any:
        value = self.loader.construct_object(node, deep=True)
        if type(value) is int and not INT64[0] <= value <= INT64[1]:
            raise self.error(node, path, f"{clip(node.value)} is out of the 64-bit integer "
                                         "range Google's APIs accept")
        return value

    def expand(self, alias: AliasNode, path: str, depth: int) -> Any:
        if self.outermost is not None:
            return self.build(alias.target, path, depth)
        self.outermost = (alias, path)
        try:
            return self.build(alias.target, path, depth)
        finally:
            self.outermost = None

    def visit(self, node: Node, path: str, depth: int) -> None:
        if depth > MAX_DEPTH:
            node, path = self.outermost or (node, path)
            raise self.error(node, path, f"values nest deeper than {MAX_DEPTH} levels "
                                         "(through aliases)")
        if id(node) in self.seen:
            self.spend(1, node, path)
        else:
            self.seen.add(id(node))

    def spend(self, count: int, node: Node, path: str) -> None:
        self.expanded += count
        if self.expanded > MAX_ALIAS_NODES:
            node, path = self.outermost or (node, path)
            raise self.error(node, path, f"aliases and merge keys expand to more than "
                                         f"{MAX_ALIAS_NODES} values (an alias bomb?)")

    def sequence(self, node: SequenceNode, path: str, depth: int) -> list[Any]:
        items = []
        for index, child in enumerate(node.value):
            child_path = f"{path}.{index}" if path else str(index)
            self.lines.set(child_path, child.start_mark.line + 1, parent=path, key=index)
            items.append(self.build(child, child_path, depth + 1))
        return items

    def mapping(self, node: MappingNode, path: str, depth: int) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        for key, key_node, value_node in self.pairs_of(node, path):
            child_path = join_path(path, key)
            self.lines.set(child_path, key_node.start_mark.line + 1, parent=path, key=key)
            result[key] = self.build(value_node, child_path, depth + 1)
        return result

    def pairs_of(self, node: MappingNode, path: str) -> list[Pair]:
        """The mapping's effective pairs, as YAML merge keys define them: a mapping's own keys
        win over merged ones, and an earlier merged mapping (``<<: [*a, *b]``) over a later
        one; a key keeps the position where it first appeared."""
        if id(node) not in self.pairs:
            merged: list[Pair] = []
            own: list[Pair] = []
            for key_node, value_node in node.value:
                if unalias(key_node).tag == _MERGE_TAG:
                    merged += self.merge_source(value_node, path)
                else:
                    own.append((self.key(key_node, path), key_node, value_node))
            self.check_duplicates(own, path)
            effective: dict[Any, Pair] = {}
            for pair in merged:
                effective.setdefault(pair[0], pair)
            for pair in own:
                effective[pair[0]] = pair
            self.pairs[id(node)] = list(effective.values())
        return self.pairs[id(node)]

    def merge_source(self, node: Node, path: str) -> list[Pair]:
        node = unalias(node)
        sources = node.value if isinstance(node, SequenceNode) else [node]
        pairs: list[Pair] = []
        for source in map(unalias, sources):
            if not isinstance(source, MappingNode):
                raise self.error(source, path, "a merge key '<<' takes a mapping or a list "
                                               "of mappings")
            found = self.pairs_of(source, path)
            self.spend(len(found), source, path)
            pairs += found
        return pairs

    def key(self, key_node: Node, path: str) -> Any:
        key_node = unalias(key_node)
        if not isinstance(key_node, ScalarNode):
            raise self.error(key_node, path, "mapping keys must be scalars")
        return self.loader.construct_object(key_node, deep=True)

    def check_duplicates(self, own: list[Pair], path: str) -> None:
        seen: set[Any] = set()
        for key, key_node, _ in own:
            if key in seen:
                raise self.error(key_node, join_path(path, key),
                                 f"duplicate key '{clip(str(key))}'")
            seen.add(key)

    def error(self, node: Node, path: str, message: str) -> SpecError:
        return self.lines.error_at(node.start_mark.line + 1, path, message)
