"""Compose YAML parser events into a node tree, iteratively and within the load budget.

PyYAML's own composer recurses once per nesting level and keeps every node of any size of
document; this one keeps an explicit stack, refuses documents with more than
``MAX_YAML_NODES`` nodes or nesting deeper than ``MAX_DEPTH``, and reports a recursive alias
(``a: &x [*x]``) at the alias itself. An alias becomes an ``AliasNode`` that points at the
shared anchored node and remembers where the alias is written; expanding it is the
builder's job (``yaml_source``), which counts what aliases expand to.
"""

from __future__ import annotations

from typing import Any

from yaml.composer import ComposerError
from yaml.events import (
    AliasEvent,
    CollectionStartEvent,
    Event,
    MappingStartEvent,
    ScalarEvent,
    StreamEndEvent,
)
from yaml.nodes import CollectionNode, MappingNode, Node, ScalarNode, SequenceNode

from mlops_infra.spec.errors import SourceLocation, SpecError
from mlops_infra.spec.limits import MAX_DEPTH, MAX_YAML_NODES


class AliasNode(Node):
    """A ``*name`` in the document: ``target`` is the anchored node, the marks are the alias's."""

    id = "alias"

    def __init__(self, target: Node, start_mark: Any, end_mark: Any) -> None:
        super().__init__(target.tag, None, start_mark, end_mark)
        self.target = target


def unalias(node: Node) -> Node:
    """The node an alias stands for (``node`` itself when it is not an alias)."""
    return node.target if isinstance(node, AliasNode) else node


def compose_single(loader: Any, filename: str) -> Node | None:
    """The root node of the only document ``loader`` parses (``None`` for an empty stream)."""
    loader.get_event()                                   # StreamStart
    if loader.check_event(StreamEndEvent):
        return None
    start = loader.get_event()                           # DocumentStart
    root = _Composer(loader, filename).compose()
    loader.get_event()                                   # DocumentEnd
    if not loader.check_event(StreamEndEvent):
        raise ComposerError("expected a single document in the stream", start.start_mark,
                            "but found another document", loader.get_event().start_mark)
    return root


class _Composer:
    """One document's nodes; ``open`` is the stack of collections not yet closed."""

    def __init__(self, loader: Any, filename: str) -> None:
        self.loader = loader
        self.filename = filename
        self.anchors: dict[str, Node] = {}
        self.open: list[CollectionNode] = []
        self.keys: list[Node | None] = []     # per open mapping: its key awaiting a value
        self.count = 0

    def compose(self) -> Node:
        while True:
            event = self.loader.get_event()
            if isinstance(event, CollectionStartEvent):
                self._start(event)
                continue
            node = self._closed(event)
            if not self.open:
                return node
            self._attach(node)

    def _closed(self, event: Event) -> Node:
        """The node ``event`` completes: a scalar, an alias's target or a closed collection."""
        if isinstance(event, ScalarEvent):
            return self._scalar(event)
        if isinstance(event, AliasEvent):
            return self._alias(event)
        node = self.open.pop()                            # SequenceEnd / MappingEnd
        self.keys.pop()
        node.end_mark = event.end_mark
        return node

    def _attach(self, node: Node) -> None:
        parent = self.open[-1]
        if isinstance(parent, SequenceNode):
            parent.value.append(node)
        elif self.keys[-1] is None:
            self.keys[-1] = node
        else:
            parent.value.append((self.keys[-1], node))
            self.keys[-1] = None

    def _start(self, event: CollectionStartEvent) -> None:
        self._count(event)
        if len(self.open) >= MAX_DEPTH:
            raise self._error(event, f"nesting deeper than {MAX_DEPTH} levels is not allowed "
                                     "in a spec")
        cls = MappingNode if isinstance(event, MappingStartEvent) else SequenceNode
        tag = event.tag
        if tag is None or tag == "!":
            tag = self.loader.resolve(cls, None, event.implicit)
        node = cls(tag, [], event.start_mark, None, flow_style=event.flow_style)
        self._anchor(event, node)
        self.open.append(node)
        self.keys.append(None)

    def _scalar(self, event: ScalarEvent) -> ScalarNode:
        self._count(event)
        tag = event.tag
        if tag is None or tag == "!":
            tag = self.loader.resolve(ScalarNode, event.value, event.implicit)
        node = ScalarNode(tag, event.value, event.start_mark, event.end_mark, style=event.style)
        self._anchor(event, node)
        return node

    def _alias(self, event: AliasEvent) -> AliasNode:
        target = self.anchors.get(event.anchor)
        if target is None:
            raise ComposerError(None, None, f"found undefined alias {event.anchor!r}",
                                event.start_mark)
        if any(target is node for node in self.open):
            raise self._error(event, f"recursive alias '*{event.anchor}': the anchored value "
                                     "contains itself")
        return AliasNode(target, event.start_mark, event.end_mark)

    def _anchor(self, event: Any, node: Node) -> None:
        anchor = event.anchor
        if anchor is None:
            return
        if anchor in self.anchors:
            raise ComposerError(f"found duplicate anchor {anchor!r}; first occurrence",
                                self.anchors[anchor].start_mark, "second occurrence",
                                event.start_mark)
        self.anchors[anchor] = node

    def _count(self, event: Event) -> None:
        self.count += 1
        if self.count > MAX_YAML_NODES:
            raise self._error(event, f"the document has more than {MAX_YAML_NODES} values: "
                                     "too large for a spec")

    def _error(self, event: Event, message: str) -> SpecError:
        return SpecError(message, location=SourceLocation(self.filename,
                                                          event.start_mark.line + 1))
