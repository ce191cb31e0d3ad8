"""``forEach``: one entry expands at load time into one resource per item, with stable
addresses, ``${each.key}``/``${each.value}`` substituted, and located errors."""

from __future__ import annotations

import jsonschema
import pytest
import yaml

from mlops_infra.spec import Spec, export_json_schema, load_spec_text
from mlops_infra.spec.errors import SpecError

HEAD = """apiVersion: mlops-infra/v1
stack: demo
project: proj-1
vars:
  people: {alice: alice@acme.com, bob: bob@acme.com}
  teams: [red, blue]
  owners: {alice: {email: alice@acme.com, size: 200}}
resources:
"""


def _load(text: str, kinds, env: str | None = None) -> Spec:
    return load_spec_text(HEAD + text, filename="s.yaml", env=env, kinds=kinds)


def _error(text: str, kinds) -> str:
    with pytest.raises(SpecError) as caught:
        _load(text, kinds)
    return str(caught.value)


def test_a_mapping_expands_to_one_resource_per_key(kinds):
    spec = _load("""  box:
    kind: test.Bucket
    forEach: ${vars.people}
    labels: {owner: "${each.key}", mail: "${each.value}"}
    tags: ["team-${each.key}"]
""", kinds)
    assert list(spec.resources) == ["box-alice", "box-bob"]
    alice = spec.resources["box-alice"]
    assert alice.name == "box-alice"
    assert alice.fields["labels"] == {"owner": "alice", "mail": "alice@acme.com"}
    assert alice.fields["tags"] == ["team-alice"]
    assert alice.location.line == 9 and alice.field_lines["labels"] == 12


def test_a_list_of_strings_is_its_own_keys_and_values(kinds):
    spec = _load("""  box:
    kind: test.Bucket
    name: acme-${each.value}-${env}
    forEach: ${vars.teams}
""", kinds)
    assert {a: r.name for a, r in spec.resources.items()} == {
        "box-red": "acme-red-", "box-blue": "acme-blue-"}


def test_a_lone_reference_keeps_the_items_type_and_reaches_into_mappings(kinds):
    spec = _load("""  box:
    kind: test.Bucket
    forEach: ${vars.owners}
    retentionDays: ${each.value.size}
    labels: {mail: "${each.value.email}"}
""", kinds)
    assert spec.resources["box-alice"].fields == {"retentionDays": 200,
                                                  "labels": {"mail": "alice@acme.com"}}


def test_addresses_are_stable_when_items_come_and_go(kinds):
    entry = "  box:\n    kind: test.Bucket\n    forEach: {items}\n"
    before = _load(entry.format(items="[a, b, c]"), kinds)
    after = _load(entry.format(items="[a, c, d]"), kinds)
    assert set(before.resources) & set(after.resources) == {"box-a", "box-c"}


def test_depends_on_the_entry_means_every_item_and_other_variables_still_resolve(kinds):
    spec = _load("""  box:
    kind: test.Bucket
    forEach: [a, b]
    labels: {team: "${vars.teams.0}"}
  ds:
    kind: test.Dataset
    dependsOn: [box]
""", kinds)
    assert spec.resources["ds"].depends_on == {"box-a", "box-b"}
    assert spec.resources["box-a"].fields["labels"] == {"team": "red"}


def test_an_empty_list_makes_no_resource_and_an_overlay_changes_the_entry(kinds):
    text = """  box:
    kind: test.Bucket
    forEach: []
environments:
  dev:
    resources:
      box: {forEach: [x]}
"""
    assert _load(text, kinds, env=None).resources == {}
    assert list(_load(text, kinds, env="dev").resources) == ["box-x"]


def test_an_escaped_reference_stays_literal(kinds):
    spec = _load("""  box:
    kind: test.Bucket
    forEach: [a]
    labels: {raw: "$${each.key}-${each.key}"}
""", kinds)
    assert spec.resources["box-a"].fields["labels"]["raw"] == "$${each.key}-a"


@pytest.mark.parametrize(("text", "expected"), [
    ("  box:\n    kind: test.Bucket\n    forEach: {Alice: x}\n",
     "s.yaml:11: resources.box.forEach: forEach key 'Alice' cannot end an address"),
    ("  box:\n    kind: test.Bucket\n    forEach: [a, a]\n",
     "s.yaml:11: resources.box.forEach: forEach key 'a' appears twice"),
    ("  box:\n    kind: test.Bucket\n    forEach: [1, 2]\n",
     "s.yaml:11: resources.box.forEach: forEach over a list takes strings"),
    ("  box:\n    kind: test.Bucket\n    forEach: 3\n",
     "s.yaml:11: resources.box.forEach: forEach must be a list of strings or a mapping"),
    ("  box:\n    kind: test.Bucket\n    forEach: ['${ds.name}']\n  ds: {kind: test.Dataset}\n",
     "s.yaml:11: resources.box.forEach: forEach items cannot hold resource outputs"),
    ("  box:\n    kind: test.Bucket\n    forEach: [a]\n  box-a: {kind: test.Bucket}\n",
     "s.yaml:11: resources.box.forEach: item address 'box-a' is also another resource's address"),
    ("  box:\n    kind: test.Bucket\n    labels: {a: '${each.key}'}\n",
     "s.yaml:11: resources.box.labels.a: '${each.key}' is only defined inside a resource with forEach"),
    ("  box:\n    kind: test.Bucket\n    forEach: [a]\n    labels: {a: '${each.nope}'}\n",
     "s.yaml:12: resources.box.labels.a: '${each.nope}': write ${each.key} or ${each.value}"),
    ("  box:\n    kind: test.Bucket\n    forEach: ${vars.owners}\n    labels: {a: '${each.value.mail}'}\n",
     "s.yaml:12: resources.box.labels.a: unknown reference '${each.value.mail}'"),
    ("  box:\n    kind: test.Bucket\n    forEach: [a]\n    locatoin: US\n",
     "s.yaml:12: resources.box-a.locatoin: unknown field (did you mean 'location'?)"),
    ("  box:\n    kind: test.Bucket\n    forEch: [a]\n",
     "s.yaml:11: resources.box.forEch: unknown field (did you mean 'forEach'?)"),
    ("  box:\n    kind: test.Bucket\n    forEach: [a, b]\n  ds:\n    kind: test.Dataset\n"
     "    description: ${box.name}\n",
     "s.yaml:14: resources.ds.description: '${box.name}': 'box' has forEach and stands for 2 "
     "resources; name one, e.g. ${box-a.name}"),
    ("  box:\n    kind: test.Bucket\n    forEach: [a]\noutputs:\n  o: ${box.url}\n",
     "s.yaml:13: outputs.o: '${box.url}': 'box' has forEach and stands for 1 resource"),
    ("  each:\n    kind: test.Bucket\n",
     "s.yaml:9: resources.each: 'each' is reserved"),
])
def test_errors_name_file_line_and_field(kinds, text, expected):
    assert _error(text, kinds).startswith(expected)


def test_the_json_schema_accepts_for_each_and_refuses_bad_keys(kinds):
    schema = export_json_schema(kinds)
    validator = jsonschema.Draft202012Validator(schema)
    good = yaml.safe_load(HEAD + "  box:\n    kind: test.Bucket\n    forEach: ${vars.people}\n")
    assert not list(validator.iter_errors(good))
    listed = yaml.safe_load(HEAD + "  box:\n    kind: test.Bucket\n    forEach: [a, b-2]\n")
    assert not list(validator.iter_errors(listed))
    bad = yaml.safe_load(HEAD + "  box:\n    kind: test.Bucket\n    forEach: [Alice]\n")
    assert list(validator.iter_errors(bad))
