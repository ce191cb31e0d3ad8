"""The dependency graph `graph` draws and the plan's graph in the Markdown report: golden
Mermaid and dot text, and every diagram checked by Mermaid's own parser (tests/report/mermaid.py).

Regenerate the golden files after an intended change with ``UPDATE_GOLDEN=1 pytest tests/report``
and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from mlops_infra.api import load
from mlops_infra.clients import Clients
from mlops_infra.engine.kind import (
    LAYERS,
    FieldChange,
    Kind,
    Requirement,
    ResourceContext,
    ResourceId,
)
from mlops_infra.engine.plan import Action, Plan, ResourceChange
from mlops_infra.engine.registry import LazyKinds, all_kinds
from mlops_infra.report import graph as graphs
from mlops_infra.spec import KindSchema, Spec
from mlops_infra.spec.loader import load_spec
from tests.report.mermaid import parse_mermaid
from tests.report.plans import CASES, bucket, create, delete, noop, plan_of, replace, update

HERE = Path(__file__).parent / "graph"
ROOT = Path(__file__).resolve().parents[2]


def _graph_of(spec: Spec) -> graphs.Graph:
    clients = Clients(project=spec.project, endpoints={})
    return graphs.spec_graph(spec, kinds=LazyKinds(lambda cls: cls(clients)))


def _spec_graph() -> graphs.Graph:
    return _graph_of(load(HERE / "spec.yaml"))


def _linked_plan() -> Plan:
    """A plan whose changes depend on each other, a delete whose child goes first."""
    child = bucket("scratch-logs", Action.DELETE, reason="no longer in the spec")
    parent = ResourceChange(**{**vars(delete()), "depends_on": ("scratch-logs",)})
    models = ResourceChange(**{**vars(update()), "depends_on": ("raw-data",)})
    return plan_of(create(), models, replace(), noop(), parent, child)


def _check_golden(name: str, text: str) -> None:
    path = HERE / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text()


def test_spec_graph_matches_golden_mermaid_and_dot() -> None:
    graph = _spec_graph()
    _check_golden("spec.mmd", graphs.render_mermaid(graph))
    _check_golden("spec.dot", graphs.render_dot(graph))


def test_plan_graph_section_matches_golden() -> None:
    _check_golden("plan.md", graphs.render_plan_markdown(_linked_plan()))


def test_every_edge_says_why_and_points_from_what_is_made_first() -> None:
    graph = _spec_graph()
    why = {(e.source, e.target): e.reason for e in graph.edges}
    assert why[("features", "events")] == "reference"            # dataset: ${features.name}
    assert why[("subnet", "raw")] == "dependsOn"                 # dependsOn: [subnet]
    assert why[("key-storage-grant-graph-project", "raw")] == "implied"   # CMEK grant first
    assert why[("key", "key-storage-grant-graph-project")] == "reference"
    assert why[("storage-api", "raw")] == "api"                  # waits for its API
    assert why[("kms-api", "keys")] == "api"
    implied = [n for n in graph.nodes if n.implied]
    assert [n.kind for n in implied] == ["kms.CryptoKeyGrant"]
    assert {n.layer for n in graph.nodes} == {"Data", "Compute", "Security"}


def test_layers_come_from_each_kinds_declaration() -> None:
    kinds = all_kinds()
    assert kinds and all(cls.layer in LAYERS for cls in kinds.values())
    graph = _spec_graph()
    assert all(n.layer == kinds[n.kind].layer for n in graph.nodes)
    assert [layer for layer, _ in graph.layers] == [x for x in LAYERS
                                                    if x in {n.layer for n in graph.nodes}]


def test_an_unknown_kind_in_a_plan_is_drawn_outside_the_layers() -> None:
    plan = plan_of(ResourceChange(address="x", kind="future.Thing", id="x", action=Action.CREATE,
                                  desired={}))
    graph = graphs.plan_graph(plan)
    assert graph.layers == [(graphs.OTHER_LAYER, list(graph.nodes))]


def test_plan_graph_marks_actions_and_points_deletes_at_what_goes_first() -> None:
    graph = graphs.plan_graph(_linked_plan())
    action = {n.address: n.action for n in graph.nodes}
    assert action["raw-data"] is Action.CREATE and action["scratch"] is Action.DELETE
    edges = {(e.source, e.target) for e in graph.edges}
    assert ("raw-data", "models") in edges and ("raw-data", "features") in edges
    assert ("scratch", "scratch-logs") in edges      # scratch-logs needed scratch: deleted first
    text = graphs.render_mermaid(graph)
    for name in ("created", "updated", "replaced", "deleted", "unchanged"):
        assert f"classDef {name} " in text and f" {name}\n" in text


def test_a_plan_too_big_for_mermaid_draws_only_the_changes_and_their_neighbours() -> None:
    many = [bucket(f"b{i}", Action.NOOP, depends_on=("hub",)) for i in range(600)]
    changed = bucket("new", Action.CREATE, depends_on=("hub",))
    plan = plan_of(bucket("hub", Action.NOOP), *many, changed)
    section = graphs.render_plan_markdown(plan)
    assert "600 unchanged resources not drawn" in section
    assert " n2" not in section                         # two nodes drawn: n0 and n1
    assert "new<br/>" in section and "hub<br/>" in section
    assert "b0<br/>" not in section


def _hostile_plan() -> Plan:
    return plan_of(ResourceChange(address='end" --> x["<b>&', kind="storage.Bucket", id="x",
                                  action=Action.UPDATE, desired={}, blocked="because",
                                  changes=(FieldChange("labels.a", "add", new="b"),)))


def _diagrams() -> dict[str, str]:
    diagrams = {"spec": graphs.render_mermaid(_spec_graph()),
                "quickstart": graphs.render_mermaid(_graph_of(load(ROOT / "examples" / "quickstart.yaml"))),
                "linked plan": graphs.render_plan_markdown(_linked_plan()),
                "hostile labels": graphs.render_mermaid(graphs.plan_graph(_hostile_plan()))}
    for env in ("dev", "staging", "prod"):
        diagrams[f"platform {env}"] = graphs.render_mermaid(
            _graph_of(load(ROOT / "specs" / "platform.yaml", env=env)))
    diagrams.update({f"plan {case}": graphs.render_plan_markdown(make())
                     for case, make in CASES.items()})
    return diagrams


def _mermaid_block(text: str) -> str:
    """The diagram of a Markdown section (the text inside its ```mermaid fence)."""
    if "```mermaid" not in text:
        return text
    return text.split("```mermaid\n", 1)[1].split("\n```", 1)[0]


def test_mermaids_own_parser_accepts_every_diagram() -> None:
    diagrams = _diagrams()
    results = parse_mermaid([_mermaid_block(text) for text in diagrams.values()])
    failed = {name: r["error"] for name, r in zip(diagrams, results, strict=True) if not r["ok"]}
    assert failed == {}
    assert {r["type"] for r in results} == {"flowchart-v2"}


def test_the_parser_check_can_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    broken = graphs.render_mermaid(_spec_graph()).replace("  end\n", "", 1)
    monkeypatch.setattr(graphs, "_mermaid_text", lambda text: text)      # no escaping
    unescaped = graphs.render_mermaid(graphs.plan_graph(_hostile_plan()))
    assert [r["ok"] for r in parse_mermaid([broken, unescaped])] == [False, False]


@pytest.mark.parametrize("fmt", graphs.FORMATS)
def test_render_picks_the_format(fmt: str) -> None:
    text = graphs.render(_spec_graph(), fmt)
    assert text.startswith("digraph" if fmt == "dot" else "---\ntitle: stack graphed")


# --- capability edges, on two in-memory kinds (no kind of today provides a capability) ----------
class _Fields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pool: str = ""


class _Fake(Kind):
    model = _Fields
    outputs = frozenset({"name"})
    labels_path = None

    def identify(self, ctx: ResourceContext, fields: dict[str, Any]) -> ResourceId:
        return ResourceId(kind=self.name, name=f"fake/{ctx.name}", scope="fake")

    def desired(self, ctx: ResourceContext, fields: dict[str, Any]) -> dict[str, Any]:
        return dict(fields)

    def get(self, rid: ResourceId) -> dict[str, Any] | None:
        return None

    def create(self, rid: ResourceId, desired: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def update(self, rid: ResourceId, desired: dict[str, Any], changes: Any,
               live: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def delete(self, rid: ResourceId, *, force: bool) -> None:
        raise NotImplementedError


class _Cluster(_Fake):
    name = "test.Cluster"
    layer = "Compute"

    def provides(self, ctx: ResourceContext, fields: dict[str, Any]) -> frozenset[str]:
        return frozenset({f"workload-pool:{fields['pool']}"})


class _Workload(_Fake):
    name = "test.Workload"
    layer = "ML Platform"

    def requires(self, ctx: ResourceContext, fields: dict[str, Any]) -> list[Requirement]:
        return [Requirement(f"workload-pool:{fields['pool']}")]


def test_a_capability_one_resource_provides_is_an_edge_of_its_own(tmp_path: Path) -> None:
    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text("apiVersion: mlops-infra/v1\nstack: caps\nproject: cap-project\nresources:\n"
                         "  cluster: {kind: test.Cluster, pool: cap-project.svc.id.goog}\n"
                         "  job: {kind: test.Workload, pool: cap-project.svc.id.goog}\n")
    kinds = {cls.name: cls(None) for cls in (_Cluster, _Workload)}
    spec = load_spec(spec_path, kinds={n: KindSchema(model=k.model, outputs=k.outputs)
                                       for n, k in kinds.items()})
    graph = graphs.spec_graph(spec, kinds=kinds)
    assert graph.edges == (graphs.Edge("cluster", "job", "capability"),)
    assert [layer for layer, _ in graph.layers] == ["Compute", "ML Platform"]
    text = graphs.render_mermaid(graph)
    assert "n0 -.->|capability| n1" in text and 'subgraph layer_ml_platform["ML Platform"]' in text
    assert parse_mermaid([text])[0]["ok"]
