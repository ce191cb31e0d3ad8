"""Project ids and the default region are checked where the spec writes them, as Google would."""

from __future__ import annotations

import pytest

from mlops_infra.spec import load_spec_text
from mlops_infra.spec.errors import SpecError
from mlops_infra.spec.identifiers import project_id_problem, region_problem

HEAD = "apiVersion: mlops-infra/v1\nstack: demo\n"


@pytest.mark.parametrize("value", [
    "abcdef",                                  # 6: the shortest
    "a" + "b" * 28 + "9",                      # 30: the longest
    "acme-ml-dev", "a-1-2-3-4", "x12345",
])
def test_valid_project_ids_pass(value: str) -> None:
    assert project_id_problem(value) is None


@pytest.mark.parametrize("value, words", [
    ("abcde", "6-30"),                         # 5
    ("a" * 31, "6-30"),
    ("1acme-ml", "starting with a letter"),
    ("acme-ml-", "not ending with '-'"),
    ("Acme-ML", "did you mean 'acme-ml'?"),
    ("acme_ml_dev", "did you mean 'acme-ml-dev'?"),
    ("acme.ml.dev", "lowercase letters, digits or '-'"),
    ("123456789012", "is a project number"),
    ("example.com:acme-ml", "domain-scoped"),
])
def test_invalid_project_ids_name_the_rule(value: str, words: str) -> None:
    problem = project_id_problem(value)
    assert problem is not None and words in problem


@pytest.mark.parametrize("value", ["us-central1", "europe-west10", "northamerica-northeast1",
                                   "me-central2", "u-germany-northeast1"])
def test_region_shapes_pass(value: str) -> None:
    assert region_problem(value) is None


@pytest.mark.parametrize("value, words", [
    ("us-east-1", "did you mean 'us-east1'?"),
    ("US-CENTRAL1", "did you mean 'us-central1'?"),
    ("us-central1-a", "is a zone, not a region (its region is 'us-central1')"),
    ("us", "a region looks like 'us-central1'"),
    ("uscentral1", "a region looks like 'us-central1'"),
])
def test_bad_regions_are_explained(value: str, words: str) -> None:
    problem = region_problem(value)
    assert problem is not None and words in problem


def _error(text: str, kinds: object, env: str | None = None) -> str:
    with pytest.raises(SpecError) as caught:
        load_spec_text(HEAD + text, filename="s.yaml", kinds=kinds, env=env)  # type: ignore[arg-type]
    return str(caught.value)


def test_top_level_project_is_located(kinds) -> None:
    message = _error("project: My_Project\nresources: {}\n", kinds)
    assert message.startswith("s.yaml:3: project: 'My_Project' is not a valid project id")
    assert "did you mean 'my-project'?" in message


def test_project_built_from_variables_is_checked_once_resolved(kinds) -> None:
    text = "project: ${vars.p}-\nvars: {p: acme-ml}\nresources: {}\n"
    assert _error(text, kinds).startswith("s.yaml:3: project: 'acme-ml-' is not a valid project id")


def test_resource_project_is_located(kinds) -> None:
    text = "project: acme-ml\nresources:\n  b:\n    kind: test.Bucket\n    project: shared_\n"
    assert _error(text, kinds).startswith(
        "s.yaml:7: resources.b.project: 'shared_' is not a valid project id")


def test_resource_project_from_a_reference_is_left_for_later(kinds) -> None:
    text = ("project: acme-ml\nresources:\n  a: {kind: test.Dataset}\n"
            "  b: {kind: test.Bucket, project: '${a.id}'}\n")
    spec = load_spec_text(HEAD + text, filename="s.yaml", kinds=kinds)
    assert spec.resources["b"].project == "${a.id}"


def test_overlay_project_error_names_the_environment(kinds) -> None:
    text = "project: acme-ml\nresources: {}\nenvironments:\n  prod: {project: PROD}\n"
    message = _error(text, kinds, env="prod")
    assert "'PROD' is not a valid project id" in message and "s.yaml:6:" in message


def test_default_region_is_shaped_like_a_region(kinds) -> None:
    message = _error("project: acme-ml\nregion: us-east-1\nresources: {}\n", kinds)
    assert message.startswith("s.yaml:4: region: 'us-east-1' is not a region")
    assert "did you mean 'us-east1'?" in message
