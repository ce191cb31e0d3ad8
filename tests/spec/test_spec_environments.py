"""Environments: a concrete stack needs --env, every overlay can be validated, names are checked."""

from __future__ import annotations

import pytest

from mlops_infra.engine.errors import SpecError
from mlops_infra.spec import (
    load_every_environment,
    load_every_environment_text,
    load_spec,
    load_spec_text,
)

HEAD = "apiVersion: mlops-infra/v1\nstack: demo\nproject: p\n"
ENVS = (HEAD + "resources:\n  a:\n    kind: test.Bucket\n    name: data-${env}\n"
        "environments:\n  dev: {}\n  staging: {}\n  prod: {project: p-prod}\n")


def _error(fn, *args, **kwargs) -> SpecError:
    with pytest.raises(SpecError) as info:
        fn(*args, **kwargs)
    assert "\n" not in str(info.value)
    return info.value


# --- a concrete stack needs --env -----------------------------------------------------------

def test_require_env_refuses_the_base_of_a_spec_with_environments(kinds):
    err = _error(load_spec_text, ENVS, filename="s.yaml", kinds=kinds, require_env=True)
    assert str(err) == ("s.yaml:8: environments: this spec defines environments dev, staging, "
                        "prod: pass --env NAME")


def test_require_env_from_a_file(fixtures, kinds):
    err = _error(load_spec, fixtures / "good.yaml", kinds=kinds, require_env=True)
    assert "defines environments dev, prod: pass --env NAME" in str(err)
    assert err.location.line == 42


def test_require_env_with_an_env_loads_it(kinds):
    spec = load_spec_text(ENVS, filename="s.yaml", env="prod", kinds=kinds, require_env=True)
    assert spec.resources["a"].name == "data-prod" and spec.project == "p-prod"


def test_require_env_without_environments_loads_the_base(kinds):
    text = HEAD + "resources:\n  a: {kind: test.Bucket}\n"
    assert load_spec_text(text, filename="s.yaml", kinds=kinds, require_env=True).env is None
    empty = text + "environments: {}\n"
    assert load_spec_text(empty, filename="s.yaml", kinds=kinds, require_env=True).env is None


def test_base_is_loaded_only_when_asked_for(kinds):
    """Without require_env the base loads (for tooling); ${env} is then empty."""
    spec = load_spec_text(ENVS, filename="s.yaml", kinds=kinds)
    assert spec.env is None and spec.resources["a"].name == "data-"


def test_unknown_env_gets_a_did_you_mean_hint(kinds):
    err = _error(load_spec_text, ENVS, filename="s.yaml", env="prd", kinds=kinds)
    assert str(err) == ("s.yaml:8: environments: unknown environment 'prd' "
                        "(did you mean 'prod'?) (known: dev, prod, staging)")


@pytest.mark.parametrize("name", ["Prod", "prod_1", "1dev", "a" * 23, "true"])
def test_environment_names_must_be_usable_in_a_stack_name(kinds, name):
    text = HEAD + f"resources: {{}}\nenvironments:\n  {name}: {{}}\n"
    err = _error(load_spec_text, text, filename="s.yaml", kinds=kinds)
    assert "invalid environment name" in str(err) and err.location.line == 6


# --- every environment ----------------------------------------------------------------------

def test_every_environment_is_loaded_in_file_order(kinds):
    specs = load_every_environment_text(ENVS, filename="s.yaml", kinds=kinds)
    assert list(specs) == ["dev", "staging", "prod"]
    assert [s.resources["a"].name for s in specs.values()] == ["data-dev", "data-staging",
                                                              "data-prod"]
    for env, spec in specs.items():
        assert spec == load_spec_text(ENVS, filename="s.yaml", env=env, kinds=kinds)


def test_every_environment_of_a_file_matches_loading_each(fixtures, kinds):
    path = fixtures / "good.yaml"
    specs = load_every_environment(path, kinds=kinds)
    assert list(specs) == ["dev", "prod"]
    for env, spec in specs.items():
        again = load_spec(path, env=env, kinds=kinds)
        assert spec == again
        for address, resource in spec.resources.items():      # lines are per environment
            assert resource.field_lines == again.resources[address].field_lines


def test_without_environments_the_base_is_the_only_one(kinds):
    text = HEAD + "resources:\n  a: {kind: test.Bucket}\n"
    specs = load_every_environment_text(text, filename="s.yaml", kinds=kinds)
    assert list(specs) == [None] and specs[None].resources["a"].name == "a"


def test_a_typo_in_one_overlay_fails_validation_of_all(kinds):
    text = ENVS.replace("  dev: {}", "  dev: {resources: {a: {locaton: EU}}}")
    err = _error(load_every_environment_text, text, filename="s.yaml", kinds=kinds)
    assert str(err) == ("s.yaml:9: resources.a.locaton: unknown field (did you mean "
                        "'location'?) (in environment 'dev')")
    assert load_spec_text(text, filename="s.yaml", env="prod", kinds=kinds).env == "prod"


def test_a_base_error_seen_in_one_environment_names_it(kinds):
    text = (HEAD + "resources:\n  a:\n    kind: test.Bucket\n    location: ${vars.where}\n"
            "environments:\n  dev: {}\n  prod: {vars: {where: EU}}\n")
    err = _error(load_every_environment_text, text, filename="s.yaml", kinds=kinds)
    assert str(err) == ("s.yaml:7: resources.a.location: unknown variable '${vars.where}' "
                        "(in environment 'dev')")


def test_a_bad_overlay_shape_is_found_in_every_environment(kinds):
    text = ENVS.replace("  staging: {}", "  staging: [not, a, mapping]")
    err = _error(load_every_environment_text, text, filename="s.yaml", kinds=kinds)
    assert err.field == "environments.staging" and "must be a mapping" in str(err)
