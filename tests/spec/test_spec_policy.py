"""``policy:`` and ``waivers:`` checked against what the caller declares (and only then)."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from pydantic import Field

from mlops_infra.api import registered_kinds
from mlops_infra.engine.errors import SpecError
from mlops_infra.engine.registry import guardrail_rules
from mlops_infra.spec import load_every_environment_text, load_spec_text

registered_kinds()
RULES = guardrail_rules()

HEAD = "apiVersion: mlops-infra/v1\nstack: demo\nproject: p\n"
SETTINGS: dict[str, Any] = {"require_cmek": bool, "allowed_public_ports": list[int],
                            "max-nodes": Annotated[int, Field(ge=1)]}


def _load(text: str, kinds, **kwargs: Any):
    return load_spec_text(HEAD + text, filename="s.yaml", kinds=kinds, **kwargs)


def _error(text: str, kinds, **kwargs: Any) -> SpecError:
    with pytest.raises(SpecError) as info:
        _load(text, kinds, **kwargs)
    assert "\n" not in str(info.value)
    return info.value


# --- policy ---------------------------------------------------------------------------------

def test_declared_settings_load_with_their_values(kinds):
    spec = _load("vars: {cmek: true}\npolicy:\n  require_cmek: ${vars.cmek}\n"
                 "  allowed_public_ports: [443, 80]\n  max-nodes: 3\nresources: {}\n", kinds,
                 policy_settings=SETTINGS)
    assert spec.policy == {"require_cmek": True, "allowed_public_ports": [443, 80],
                           "max-nodes": 3}


def test_unset_settings_stay_unset(kinds):
    spec = _load("policy: {}\nresources: {}\n", kinds, policy_settings=SETTINGS)
    assert spec.policy == {}


def test_misspelt_setting_is_refused_with_a_hint(kinds):
    err = _error("policy:\n  require_cmk: true\nresources: {}\n", kinds, policy_settings=SETTINGS)
    assert str(err) == ("s.yaml:5: policy.require_cmk: unknown policy setting (did you mean "
                        "'require_cmek'?) (settings: allowed_public_ports, max-nodes, "
                        "require_cmek)")


@pytest.mark.parametrize("value,line_fragment", [
    ("'yes please'", "valid boolean (got 'yes please')"),
    ("'true'", "valid boolean (got 'true')"),
    ("1", "valid boolean (got 1)"),
    ("null", "valid boolean (got None)"),
])
def test_wrong_type_is_refused_without_coercion(kinds, value, line_fragment):
    err = _error(f"policy:\n  require_cmek: {value}\nresources: {{}}\n", kinds,
                 policy_settings=SETTINGS)
    assert err.field == "policy.require_cmek" and err.location.line == 5
    assert line_fragment in str(err)


def test_wrong_item_type_names_the_item(kinds):
    err = _error("policy:\n  allowed_public_ports:\n    - 443\n    - '80'\nresources: {}\n",
                 kinds, policy_settings=SETTINGS)
    assert err.field == "policy.allowed_public_ports.1" and err.location.line == 7
    assert "valid integer" in str(err)


def test_constraints_of_a_setting_apply(kinds):
    err = _error("policy: {max-nodes: 0}\nresources: {}\n", kinds, policy_settings=SETTINGS)
    assert err.field == "policy.max-nodes" and "greater than or equal to 1" in str(err)


def test_overlay_policy_is_checked_at_the_overlay_line(kinds):
    text = ("policy: {require_cmek: false}\nresources: {}\nenvironments:\n"
            "  dev: {}\n  prod:\n    policy: {require_cmek: 'on'}\n")
    with pytest.raises(SpecError) as info:
        load_every_environment_text(HEAD + text, filename="s.yaml", kinds=kinds,
                                    policy_settings=SETTINGS)
    assert info.value.location.line == 9 and info.value.field == "policy.require_cmek"


def test_policy_is_permissive_when_nothing_is_declared(kinds):
    spec = _load("policy: {require_cmk: 'yes please', anything: [1]}\nresources: {}\n", kinds)
    assert spec.policy == {"require_cmk": "yes please", "anything": [1]}


def test_no_settings_declared_refuses_any(kinds):
    err = _error("policy: {x: 1}\nresources: {}\n", kinds, policy_settings={})
    assert "unknown policy setting (settings: none)" in str(err)


# --- waivers --------------------------------------------------------------------------------

WAIVED = ("resources:\n  a:\n    kind: test.Bucket\n    waivers:\n"
          "      {rule}: the bucket is public on purpose\n")


def test_known_rule_can_be_waived(kinds):
    spec = _load(WAIVED.format(rule="bucket-uniform-access"), kinds, guardrail_rules=RULES)
    assert spec.resources["a"].waivers == {
        "bucket-uniform-access": "the bucket is public on purpose"}


def test_unknown_rule_is_refused_with_a_hint(kinds):
    err = _error(WAIVED.format(rule="require-cmk"), kinds, guardrail_rules=RULES)
    assert err.field == "resources.a.waivers.require-cmk" and err.location.line == 8
    assert "unknown guardrail rule 'require-cmk' (did you mean 'require-cmek'?)" in str(err)
    assert "(rules: bucket-public-access-prevention, " in str(err)


def test_any_rule_name_when_rules_are_not_given(kinds):
    spec = _load(WAIVED.format(rule="whatever"), kinds)
    assert list(spec.resources["a"].waivers) == ["whatever"]
