"""The spec drawn as the platform's diagram: its dependency graph, grouped by layer.

``spec_graph`` builds the graph of a loaded spec without any API call: one node per resource,
the resources the spec implies included (a CMEK key's grant to a service agent), in one
subgraph per layer the kinds declare (``engine.kind.LAYERS``: Data, Compute, ML Platform,
Operations, Security). Each edge says why it exists, in this order of precedence:

==============  ==========================================================================
``reference``   a field holds ``${OTHER.output}``
``dependsOn``   the spec's explicit ``dependsOn:``
``implied``     the resource needs what its kind implies (e.g. the key grant before a bucket)
``api``         the resource's kind needs an API the spec enables (``serviceusage.Service``)
``capability``  another capability a resource of the spec provides (a Workload Identity pool)
==============  ==========================================================================

An arrow ``A --> B`` reads "B needs A": A is made first (and deleted last).

``plan_graph`` draws a saved or fresh ``Plan`` the same way, with each resource's action as a
class (created, updated, replaced, deleted ...), for the Markdown pull request report.
``render_mermaid`` and ``render_dot`` print a graph as Mermaid (rendered by GitHub in
```` ```mermaid ```` blocks) or Graphviz dot.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from mlops_infra.engine.kind import LAYERS, Kind, api_capability
from mlops_infra.engine.plan import Action, Plan
from mlops_infra.engine.registry import find
from mlops_infra.engine.resolve import Resolved, resolve_resources
from mlops_infra.spec import Spec, find_refs

FORMATS = ("mermaid", "dot")
OTHER_LAYER = "Other"          # a kind this installation does not know (a plan from elsewhere)
EDGE_REASONS = ("reference", "dependsOn", "implied", "api", "capability")
# Beyond these, GitHub's Mermaid refuses to draw (Mermaid's defaults maxEdges / maxTextSize).
MERMAID_MAX_EDGES = 500
MERMAID_MAX_TEXT = 50_000

# Mermaid classes (and dot colours) per plan action: GitHub's diff colours.
ACTION_STYLE = {
    Action.CREATE: ("created", "#dafbe1", "#1a7f37"),
    Action.UPDATE: ("updated", "#fff8c5", "#9a6700"),
    Action.REPLACE: ("replaced", "#fbefff", "#8250df"),
    Action.DELETE: ("deleted", "#ffebe9", "#cf222e"),
    Action.ABANDON: ("abandoned", "#f6f8fa", "#8250df"),
    Action.NOOP: ("unchanged", "#f6f8fa", "#afb8c1"),
}
BLOCKED_STYLE = ("blocked", "#ffebe9", "#cf222e")
LEGEND = "green: created, yellow: updated, purple: replaced, red: deleted or blocked"


@dataclass(frozen=True)
class Node:
    """One resource: its address, kind, layer, and (in a plan graph) its action."""

    address: str
    kind: str
    layer: str
    implied: bool = False
    action: Action | None = None
    blocked: bool = False


@dataclass(frozen=True)
class Edge:
    """``target`` needs ``source`` (``source`` is made first); ``reason`` says why."""

    source: str
    target: str
    reason: str = ""


@dataclass(frozen=True)
class Graph:
    """Nodes in a stable order (by layer, then as the spec or plan lists them) and edges."""

    title: str
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    notes: tuple[str, ...] = field(default=())

    @property
    def layers(self) -> list[tuple[str, list[Node]]]:
        """``(layer, nodes)`` for every layer that has a node, in ``LAYERS`` order."""
        order = [*LAYERS, OTHER_LAYER]
        return [(layer, [n for n in self.nodes if n.layer == layer]) for layer in order
                if any(n.layer == layer for n in self.nodes)]


# --- building -------------------------------------------------------------------------------
def spec_graph(spec: Spec, *, kinds: Mapping[str, Kind]) -> Graph:
    """The dependency graph of ``spec`` (resolved as a plan would, without any API call)."""
    resolved = resolve_resources(spec, kinds=kinds)
    providers = _providers(resolved.values())
    nodes = [Node(address=r.address, kind=r.kind.name, layer=r.kind.layer,
                  implied=r.address not in spec.resources) for r in resolved.values()]
    edges = [Edge(source=dep, target=r.address,
                  reason=_reason(r, dep, spec, providers))
             for r in resolved.values() for dep in r.depends_on]
    return Graph(title=_title(spec.stack, spec.env), nodes=_by_layer(nodes), edges=tuple(edges))


def plan_graph(plan: Plan) -> Graph:
    """The graph of ``plan``'s resources, each carrying its action (deletes included: a
    delete's ``depends_on`` lists what must be deleted before it, so its edges point to them)."""
    nodes = [Node(address=rc.address, kind=rc.kind, layer=_layer_of(rc.kind), action=rc.action,
                  blocked=bool(rc.blocked)) for rc in plan.resources]
    known = {rc.address for rc in plan.resources}
    edges: list[Edge] = []
    for rc in plan.resources:
        leftover = rc.desired is None       # a delete, an abandon, or a record dropped
        for other in rc.depends_on:
            if other in known:
                edges.append(Edge(rc.address, other) if leftover else Edge(other, rc.address))
    return Graph(title=_title(plan.stack, plan.env), nodes=_by_layer(nodes), edges=tuple(edges))


def changed_neighbourhood(graph: Graph) -> Graph:
    """Only the changed resources of a plan graph and their direct neighbours (a plan too big
    for Mermaid to draw whole)."""
    changed = {n.address for n in graph.nodes if _changes(n)}
    near = changed | {e.source for e in graph.edges if e.target in changed} \
        | {e.target for e in graph.edges if e.source in changed}
    hidden = len(graph.nodes) - len(near)
    return Graph(title=graph.title, nodes=tuple(n for n in graph.nodes if n.address in near),
                 edges=tuple(e for e in graph.edges if e.source in near and e.target in near),
                 notes=(*graph.notes, f"{hidden} unchanged resources not drawn"))


def _providers(resolved: Iterable[Resolved]) -> dict[str, str]:
    """Capability -> the address providing it (as ``engine.resolve`` orders them)."""
    return {capability: r.address for r in resolved
            for capability in r.kind.provides(r.ctx, r.desired)}


def _reason(r: Resolved, dep: str, spec: Spec, providers: Mapping[str, str]) -> str:
    written = spec.resources.get(r.address)
    source = written or r.spec
    referenced = {address for address, _ in find_refs([source.fields, source.name, source.project])}
    if dep in referenced:
        return "reference"
    if written is not None and dep in written.depends_on:
        return "dependsOn"
    if dep not in spec.resources:
        return "implied"
    needs = [req.capability for req in r.kind.requires(r.ctx, r.desired)]
    if r.kind.api:
        needs.insert(0, api_capability(r.ctx.project, r.kind.api))
    for capability in needs:
        if providers.get(capability) == dep:
            return "api" if capability.startswith("api:") else "capability"
    return ""


def _layer_of(kind: str) -> str:
    cls = find(kind)
    return cls.layer if cls is not None else OTHER_LAYER


def _by_layer(nodes: list[Node]) -> tuple[Node, ...]:
    order = {layer: i for i, layer in enumerate([*LAYERS, OTHER_LAYER])}
    return tuple(sorted(nodes, key=lambda n: order[n.layer]))     # stable: keeps spec order


def _title(stack: str, env: str | None) -> str:
    return f"stack {stack}" + (f" (env {env})" if env and not stack.endswith(f"-{env}") else "")


def _changes(node: Node) -> bool:
    return node.blocked or (node.action is not None and node.action is not Action.NOOP)


# --- Mermaid --------------------------------------------------------------------------------
_MERMAID_ARROW = {"": "-->", "reference": "-->", "dependsOn": "-->|dependsOn|",
                  "implied": "-.->|implied|", "api": "-.->|API|",
                  "capability": "-.->|capability|"}


def render_mermaid(graph: Graph) -> str:
    """A Mermaid ``flowchart``: one subgraph per layer, node ids ``n0, n1 ...`` (addresses
    may collide with Mermaid keywords such as ``end``), labels ``address`` / ``kind``."""
    ids = {n.address: f"n{i}" for i, n in enumerate(graph.nodes)}
    out = ["---", f"title: {graph.title}", "---", "flowchart LR"]
    out += [f"  %% {_mermaid_text(note)}" for note in graph.notes]
    for layer, nodes in graph.layers:
        out.append(f'  subgraph {_layer_id(layer)}["{layer}"]')
        out += [f"    {ids[n.address]}{_mermaid_shape(n)}" for n in nodes]
        out.append("  end")
    out += [f"  {ids[e.source]} {_MERMAID_ARROW[e.reason]} {ids[e.target]}"
            for e in graph.edges if e.source in ids and e.target in ids]
    out += _mermaid_classes(graph, ids)
    return "\n".join(out) + "\n"


def _mermaid_shape(node: Node) -> str:
    label = f"{_mermaid_text(node.address)}<br/><small>{_mermaid_text(node.kind)}</small>"
    return f'(["{label}"])' if node.implied else f'["{label}"]'


def _mermaid_classes(graph: Graph, ids: Mapping[str, str]) -> list[str]:
    members: dict[str, list[str]] = {}
    styles: dict[str, tuple[str, str]] = {}
    for node in graph.nodes:
        style = _style(node)
        if style is None:
            continue
        name, fill, stroke = style
        styles[name] = (fill, stroke)
        members.setdefault(name, []).append(ids[node.address])
    if any(n.implied for n in graph.nodes):
        styles["implied"] = ("#ffffff", "#6e7781")
        members["implied"] = [ids[n.address] for n in graph.nodes if n.implied]
    lines = []
    for name, (fill, stroke) in styles.items():
        dash = ",stroke-dasharray:4 3" if name in ("implied", "abandoned") else ""
        width = ",stroke-width:3px" if name == "blocked" else ""
        lines.append(f"  classDef {name} fill:{fill},stroke:{stroke}{dash}{width}")
    lines += [f"  class {','.join(nodes)} {name}" for name, nodes in members.items()]
    return lines


def _style(node: Node) -> tuple[str, str, str] | None:
    if node.blocked:
        return BLOCKED_STYLE
    return ACTION_STYLE[node.action] if node.action is not None else None


def _layer_id(layer: str) -> str:
    return "layer_" + "_".join(layer.lower().split())


def _mermaid_text(text: str) -> str:
    """Text safe inside a quoted Mermaid label (entity codes for what the parser reads)."""
    for char, code in (("&", "#amp;"), ('"', "#quot;"), ("<", "#lt;"), (">", "#gt;")):
        text = text.replace(char, code)
    return text


# --- Graphviz dot ---------------------------------------------------------------------------
_DOT_EDGE = {"": "", "reference": "", "dependsOn": ' [label="dependsOn"]',
             "implied": ' [style=dashed, label="implied"]', "api": ' [style=dashed, label="API"]',
             "capability": ' [style=dashed, label="capability"]'}


def render_dot(graph: Graph) -> str:
    """A Graphviz ``digraph``: one ``cluster_`` subgraph per layer, nodes named by address."""
    out = [f"digraph {_dot_id(graph.title)} {{", "  rankdir=LR;",
           '  node [shape=box, style="rounded,filled", fillcolor="#ffffff", fontname="Helvetica"];',
           '  edge [fontname="Helvetica", fontsize=10];']
    out += [f"  // {note}" for note in graph.notes]
    for layer, nodes in graph.layers:
        out.append(f"  subgraph {_dot_id('cluster_' + _layer_id(layer))} {{")
        out.append(f"    label={_dot_id(layer)};")
        out += [f"    {_dot_id(n.address)} [{_dot_attrs(n)}];" for n in nodes]
        out.append("  }")
    out += [f"  {_dot_id(e.source)} -> {_dot_id(e.target)}{_DOT_EDGE[e.reason]};"
            for e in graph.edges]
    out.append("}")
    return "\n".join(out) + "\n"


def _dot_attrs(node: Node) -> str:
    attrs = [f"label={_dot_id(node.address + chr(10) + node.kind)}"]
    style = _style(node)
    if style is not None:
        attrs += [f'fillcolor="{style[1]}"', f'color="{style[2]}"']
    if node.implied:
        attrs.append('style="rounded,dashed"')
    return ", ".join(attrs)


def _dot_id(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def render(graph: Graph, fmt: str) -> str:
    """``graph`` in ``fmt`` (``mermaid`` or ``dot``)."""
    return render_dot(graph) if fmt == "dot" else render_mermaid(graph)


# --- the Markdown report's section ----------------------------------------------------------
def render_plan_markdown(plan: Plan) -> str:
    """A collapsible section with the plan's graph in a ```` ```mermaid ```` block, changed
    resources coloured by action; a plan too big for Mermaid shows only what changes and its
    neighbours."""
    graph = plan_graph(plan)
    text = render_mermaid(graph)
    if len(graph.edges) > MERMAID_MAX_EDGES or len(text) > MERMAID_MAX_TEXT:
        graph = changed_neighbourhood(graph)
        text = render_mermaid(graph)
    return "\n".join([
        f"<details><summary><b>Dependency graph</b> ({LEGEND}; an arrow A → B: B needs A)"
        "</summary>", "",
        "```mermaid", text.rstrip("\n"), "```", "", "</details>", ""])
