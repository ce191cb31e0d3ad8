"""Malformed specs: each fixture fails with one SpecError naming file:line, field and cause."""

from __future__ import annotations

import pytest

from mlops_infra.engine.errors import SpecError
from mlops_infra.spec import load_spec, load_spec_text
from mlops_infra.spec.hints import did_you_mean

CASES = [
    # fixture, env, line, field, message fragment
    ("bad_yaml.yaml", None, 9, None, "invalid YAML"),
    ("duplicate_key.yaml", None, 9, "resources.a.location", "duplicate key 'location'"),
    ("unknown_field.yaml", None, 9, "resources.a.storageClas",
     "unknown field (did you mean 'storageClass'?)"),
    ("nested_unknown_field.yaml", None, 9, "resources.a.versioning.enabld",
     "unknown field (did you mean 'enabled'?)"),
    ("wrong_type.yaml", None, 9, "resources.a.retentionDays", "valid integer"),
    ("wrong_type_nested.yaml", None, 10, "resources.a.labels.cost", "valid string (got 12)"),
    ("unknown_ref.yaml", None, 10, "resources.events.dataset", "did you mean '${features.name}'?"),
    ("unknown_output.yaml", None, 10, "resources.events.dataset",
     "'features' has no output 'nam' (did you mean 'name'?)"),
    ("unknown_var.yaml", None, 10, "resources.a.name", "did you mean '${vars.prefix}'?"),
    ("cycle.yaml", None, 8, "resources.a.dataset", "dependency cycle: a -> b -> a"),
    ("cycle_depends_on.yaml", None, 10, "resources.b.dependsOn.0", "cycle: b -> c -> b"),
    ("unknown_kind.yaml", None, 7, "resources.a.kind", "did you mean 'test.Bucket'?"),
    ("missing_field.yaml", None, 6, "resources.a.dataset", "required field is missing"),
    ("wrong_api_version.yaml", None, 1, "apiVersion", "must be 'mlops-infra/v1'"),
    ("bad_stack.yaml", None, 2, "stack", "invalid stack name"),
    ("unknown_top_key.yaml", None, 4, "resorces", "unknown key (did you mean 'resources'?)"),
    ("missing_resources.yaml", None, 1, None, "missing required key 'resources'"),
    ("not_mapping.yaml", None, 1, None, "must be a mapping"),
    ("var_cycle.yaml", None, 7, "vars.b", "variable cycle: vars.a -> vars.b -> vars.a"),
    ("depends_on_unknown.yaml", None, 8, "resources.a.dependsOn.0", "did you mean 'b'?"),
    ("malformed_ref.yaml", None, 8, "resources.a.location", "unterminated reference"),
    ("overlay_wrong_type.yaml", "dev", 13, "resources.a.retentionDays", "valid integer"),
    ("output_unknown.yaml", None, 9, "outputs.url", "did you mean 'url'?"),
    ("ledger_resource_ref.yaml", None, 12, "ledger.bucket", "not allowed here"),
    ("bad_address.yaml", None, 6, "resources.Bad_Name", "invalid address"),
    ("interpolate_mapping.yaml", None, 10, "resources.a.location", "cannot be interpolated"),
]


@pytest.mark.parametrize("name,env,line,field,fragment", CASES, ids=[c[0] for c in CASES])
def test_bad_spec_reports_file_line_and_field(fixtures, kinds, name, env, line, field, fragment):
    path = fixtures / name
    with pytest.raises(SpecError) as info:
        load_spec(path, env=env, kinds=kinds)
    err = info.value
    assert err.location is not None and err.location.line == line, str(err)
    assert err.location.file == str(path)
    assert err.field == field
    assert fragment in str(err)
    assert "\n" not in str(err)
    prefix = f"{path}:{line}: " + (f"{field}: " if field else "")
    assert str(err).startswith(prefix)


def test_message_format_matches_documented_example(fixtures, kinds):
    with pytest.raises(SpecError) as info:
        load_spec(fixtures / "unknown_field.yaml", kinds=kinds)
    assert str(info.value) == (f"{fixtures / 'unknown_field.yaml'}:9: resources.a.storageClas: "
                               "unknown field (did you mean 'storageClass'?)")


def test_overlay_file_is_fine_without_env(fixtures, kinds):
    spec = load_spec(fixtures / "overlay_wrong_type.yaml", kinds=kinds)
    assert spec.resources["a"].fields == {"location": "US"}


HEAD = "apiVersion: mlops-infra/v1\nstack: demo\nproject: proj-1\n"


def _error(text: str, kinds, env: str | None = None) -> SpecError:
    with pytest.raises(SpecError) as info:
        load_spec_text(HEAD + text, filename="s.yaml", env=env, kinds=kinds)
    return info.value


def test_unknown_environment_lists_known_ones(kinds):
    err = _error("resources: {}\nenvironments:\n  dev: {}\n  prod: {}\n", kinds, env="stage")
    assert "unknown environment 'stage' (known: dev, prod)" in str(err)
    assert err.location.line == 5


def test_unknown_environment_without_environments(kinds):
    assert "none are defined" in str(_error("resources: {}\n", kinds, env="dev"))


def test_unknown_key_in_environment_overlay(kinds):
    err = _error("resources: {}\nenvironments:\n  dev:\n    stak: x\n", kinds, env="dev")
    assert err.field == "environments.dev.stak" and err.location.line == 7


def test_self_reference_is_a_cycle(kinds):
    err = _error("resources:\n  t:\n    kind: test.Table\n    dataset: ${t.name}\n", kinds)
    assert "dependency cycle: t -> t" in str(err) and err.location.line == 7


def test_missing_kind(kinds):
    err = _error("resources:\n  a:\n    location: US\n", kinds)
    assert "missing required key 'kind'" in str(err) and err.location.line == 5


def test_reserved_key_is_suggested_for_typo(kinds):
    err = _error("resources:\n  a:\n    kind: test.Bucket\n    dependOn: [b]\n", kinds)
    assert "did you mean 'dependsOn'?" in str(err)


def test_allow_data_loss_must_be_boolean(kinds):
    err = _error("resources:\n  a:\n    kind: test.Bucket\n    allowDataLoss: yes please\n", kinds)
    assert err.field == "resources.a.allowDataLoss"


def test_project_is_needed_somewhere(kinds):
    text = "apiVersion: mlops-infra/v1\nstack: demo\nresources:\n  a: {kind: test.Bucket}\n"
    with pytest.raises(SpecError, match="no project"):
        load_spec_text(text, filename="s.yaml", kinds=kinds)


def test_reserved_address(kinds):
    assert "reserved" in str(_error("resources:\n  vars: {kind: test.Bucket}\n", kinds))


def test_unknown_single_reference(kinds):
    err = _error("resources:\n  a:\n    kind: test.Bucket\n    location: ${regoin.x.y}\n", kinds)
    assert "not a known reference" in str(err) and err.location.line == 7


def test_missing_nested_var_key_gets_hint(kinds):
    err = _error("vars: {team: {name: ml}}\nresources:\n  a:\n    kind: test.Bucket\n"
                 "    location: ${vars.team.nmae}\n", kinds)
    assert "'vars.team' has no key 'nmae' (did you mean 'name'?)" in str(err)


def test_missing_file_is_a_spec_error(tmp_path, kinds):
    with pytest.raises(SpecError, match="cannot read spec"):
        load_spec(tmp_path / "nope.yaml", kinds=kinds)


def test_empty_document(kinds):
    with pytest.raises(SpecError, match="must be a mapping"):
        load_spec_text("", filename="s.yaml", kinds=kinds)


def test_did_you_mean_ignores_case_but_keeps_the_candidates_spelling() -> None:
    assert did_you_mean("ingress", ["INGRESS", "EGRESS"]) == " (did you mean 'INGRESS'?)"
    assert did_you_mean("storageclass", ["storageClass", "labels"]) == \
        " (did you mean 'storageClass'?)"
    assert did_you_mean("zzz", ["INGRESS"]) == ""


@pytest.mark.parametrize("bucket", ["Bad..Bucket", "gs://x/y", "goog-state", "ab"])
def test_a_ledger_bucket_cloud_storage_would_refuse_is_a_spec_error(kinds, bucket):
    err = _error(f"ledger: {{bucket: '{bucket}'}}\nresources: {{}}\n", kinds)
    assert err.field == "ledger.bucket" and err.location.line == 4, (err.field, err.location)
    assert "bucket name" in str(err)


def test_a_ledger_bucket_in_an_environment_is_checked_there(kinds):
    err = _error("resources: {}\nenvironments:\n  dev:\n    ledger: {bucket: 'Bad..B'}\n", kinds,
                 env="dev")
    assert err.field == "ledger.bucket" and "bucket name" in str(err)
