"""Loading valid specs: defaults, environment overlays, variables, references and order."""

from __future__ import annotations

import pytest

from mlops_infra.spec import Spec, load_spec, load_spec_text

HEAD = "apiVersion: mlops-infra/v1\nstack: demo\nproject: proj-1\nregion: europe-west1\n"


def _load(text: str, kinds, env: str | None = None) -> Spec:
    return load_spec_text(HEAD + text, filename="s.yaml", env=env, kinds=kinds)


@pytest.fixture
def good(fixtures):
    return fixtures / "good.yaml"


def test_base_document(good, kinds):
    spec = load_spec(good, kinds=kinds)
    assert (spec.stack, spec.project, spec.region, spec.env) == (
        "ml-platform", "acme-ml-dev-project", "us-central1", None)
    assert (spec.ledger_bucket, spec.ledger_prefix) == ("acme-ml-state", "ledgers")
    assert spec.policy == {"forbidPublicBuckets": True}
    assert set(spec.resources) == {"raw-data", "features", "events", "old-thing"}
    raw = spec.resources["raw-data"]
    assert raw.name == "acme-ml-raw-"            # ${env} is "" without an environment
    assert raw.fields == {"location": "US", "labels": {"team": "ml"}, "retentionDays": 30}
    assert raw.depends_on == {"features"}
    assert raw.location.line == 17 and raw.location.file == str(good)
    assert raw.field_lines["labels.team"] == 23


def test_order_puts_dependencies_first(good, kinds):
    order = load_spec(good, kinds=kinds).order()
    assert order.index("features") < order.index("raw-data") < order.index("events")
    assert order == list(load_spec(good, kinds=kinds).resources)


def test_references_are_edges_and_stay_in_place(good, kinds):
    events = load_spec(good, kinds=kinds).resources["events"]
    assert events.depends_on == {"features", "raw-data"}
    assert events.fields["dataset"] == "${features.name}"
    assert events.fields["columns"][1] == {"name": "${raw-data.url}"}


def test_dev_overlay(good, kinds):
    spec = load_spec(good, env="dev", kinds=kinds)
    assert spec.env == "dev"
    assert "old-thing" not in spec.resources
    assert spec.resources["scratch"].fields == {"tags": ["tmp"]}
    raw = spec.resources["raw-data"]
    assert raw.name == "acme-ml-dev-raw-dev"
    assert raw.fields["labels"] == {"team": "ml", "env": "dev"}
    assert raw.field_lines["labels.env"] == 46      # the overlay's line
    assert raw.field_lines["labels.team"] == 23     # the base line
    assert raw.location.line == 17                  # a merged resource keeps its base line


def test_prod_overlay_changes_project_everywhere(good, kinds):
    spec = load_spec(good, env="prod", kinds=kinds)
    assert {r.project for r in spec.resources.values()} == {"acme-ml-prod"}
    assert spec.resources["raw-data"].fields["storageClass"] == "NEARLINE"
    assert spec.outputs["summary"] == "gs://${raw-data.name} in acme-ml-prod"


def test_outputs_keep_resource_refs(good, kinds):
    assert load_spec(good, kinds=kinds).outputs["raw_bucket"] == "${raw-data.url}"


def test_lone_reference_keeps_type(kinds):
    spec = _load("vars:\n  days: 7\n  tags: [a, b]\n  flag: true\nresources:\n  b:\n"
                 "    kind: test.Bucket\n    retentionDays: ${vars.days}\n    tags: ${vars.tags}\n"
                 "    labels: {days: 'n=${vars.days}', flag: '${vars.flag}!'}\n", kinds)
    fields = spec.resources["b"].fields
    assert fields["retentionDays"] == 7
    assert fields["tags"] == ["a", "b"]
    assert fields["labels"] == {"days": "n=7", "flag": "true!"}


def test_lone_reference_to_a_mapping(kinds):
    spec = _load("vars:\n  v: {enabled: true}\nresources:\n  b:\n    kind: test.Bucket\n"
                 "    versioning: ${vars.v}\n", kinds)
    assert spec.resources["b"].fields["versioning"] == {"enabled": True}


def test_context_references(kinds):
    spec = _load("resources:\n  b:\n    kind: test.Bucket\n"
                 "    location: ${project}/${region}/${stack}/${env}\n"
                 "environments:\n  qa: {}\n", kinds, env="qa")
    assert spec.resources["b"].fields["location"] == "proj-1/europe-west1/demo/qa"


def test_vars_use_other_vars_and_project(kinds):
    spec = _load("vars:\n  a: ${vars.b}-x\n  b: ${project}-b\nresources:\n  r:\n"
                 "    kind: test.Bucket\n    name: ${vars.a}\n", kinds)
    assert spec.resources["r"].name == "proj-1-b-x"
    assert spec.vars == {"a": "proj-1-b-x", "b": "proj-1-b"}


def test_project_from_a_variable_overridden_per_env(kinds):
    text = ("apiVersion: mlops-infra/v1\nstack: demo\nproject: ${vars.proj}\nvars: {proj: acme-a}\n"
            "resources:\n  r: {kind: test.Bucket}\nenvironments:\n  prod: {vars: {proj: acme-b}}\n")
    dev = load_spec_text(text, filename="s.yaml", kinds=kinds)
    prod = load_spec_text(text, filename="s.yaml", env="prod", kinds=kinds)
    assert (dev.project, prod.project) == ("acme-a", "acme-b")
    assert prod.ledger_bucket == "acme-b-mlops-infra-state" and prod.ledger_prefix == "mlops-infra"


def test_escapes_stay_escaped_and_are_not_references(good, kinds):
    features = load_spec(good, kinds=kinds).resources["features"]
    assert features.fields["description"] == "owned by alice; literal $${not.a_ref}"
    assert features.depends_on == frozenset()


def test_reference_in_name_and_project_is_an_edge(kinds):
    spec = _load("resources:\n  b:\n    kind: test.Bucket\n    name: ${a.name}-copy\n"
                 "    project: ${a.name}\n  a:\n    kind: test.Bucket\n", kinds)
    assert spec.order() == ["a", "b"]
    assert spec.resources["b"].name == "${a.name}-copy"


def test_resource_reference_through_a_variable(kinds):
    spec = _load("vars:\n  u: ${a.url}\nresources:\n  a: {kind: test.Bucket}\n"
                 "  t:\n    kind: test.Table\n    dataset: ${vars.u}\n", kinds)
    assert spec.resources["t"].depends_on == {"a"}
    assert spec.resources["t"].fields["dataset"] == "${a.url}"


def test_reference_in_int_field_is_checked_later(kinds):
    spec = _load("resources:\n  a: {kind: test.Bucket}\n  b:\n    kind: test.Bucket\n"
                 "    retentionDays: ${a.name}\n", kinds)
    assert spec.resources["b"].fields == {"retentionDays": "${a.name}"}


def test_fields_are_dumped_by_alias(kinds):
    spec = _load("resources:\n  b:\n    kind: test.Bucket\n    storage_class: COLDLINE\n", kinds)
    assert spec.resources["b"].fields == {"storageClass": "COLDLINE"}


def test_defaults_and_flags(kinds):
    spec = _load("resources:\n  b:\n    kind: test.Bucket\n    project: other-proj\n"
                 "    allowDataLoss: true\n    dependsOn: c\n  c: {kind: test.Bucket}\n", kinds)
    b = spec.resources["b"]
    assert (b.name, b.project, b.region, b.allow_data_loss) == ("b", "other-proj", "europe-west1", True)
    assert b.depends_on == {"c"}
    assert spec.resources["c"].project == "proj-1"


def test_overlay_null_for_missing_resource_is_ignored(kinds):
    spec = _load("resources:\n  a: {kind: test.Bucket}\nenvironments:\n"
                 "  dev: {resources: {ghost: null}}\n", kinds, env="dev")
    assert list(spec.resources) == ["a"]


def test_overlay_replaces_lists(kinds):
    spec = _load("resources:\n  a: {kind: test.Bucket, tags: [x, y]}\nenvironments:\n"
                 "  dev: {resources: {a: {tags: [z]}}}\n", kinds, env="dev")
    assert spec.resources["a"].fields["tags"] == ["z"]


def test_overlay_can_replace_kind(kinds):
    spec = _load("resources:\n  a: {kind: test.Bucket, location: EU}\nenvironments:\n"
                 "  dev:\n    resources:\n      a: null\n      b: {kind: test.Dataset}\n",
                 kinds, env="dev")
    assert [r.kind for r in spec.resources.values()] == ["test.Dataset"]


def test_anchors_and_merge_keys(kinds):
    spec = _load("vars:\n  common: &common {location: EU, labels: {team: ml}}\nresources:\n"
                 "  a:\n    kind: test.Bucket\n    <<: *common\n    location: US\n", kinds)
    assert spec.resources["a"].fields == {"location": "US", "labels": {"team": "ml"}}


def test_empty_resources(kinds):
    spec = _load("resources:\n", kinds)
    assert spec.resources == {} and spec.order() == []


def test_long_dependency_chain_orders_without_recursion_limit(kinds):
    chain = "".join(f"  t{i}:\n    kind: test.Table\n    dataset: ${{t{i - 1}.name}}\n"
                    for i in range(1500, 0, -1))
    spec = _load("resources:\n" + chain + "  t0: {kind: test.Table, dataset: x}\n", kinds)
    assert spec.order() == [f"t{i}" for i in range(1501)]
