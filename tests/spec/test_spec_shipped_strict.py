"""The specs we ship pass the strict checks the api layer is to enable: every environment,
declared policy settings and known guardrail rules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mlops_infra.api import kind_schemas, registered_kinds
from mlops_infra.engine.errors import SpecError
from mlops_infra.engine.registry import guardrail_rules, policy_settings
from mlops_infra.spec import load_every_environment, load_spec

ROOT = Path(__file__).resolve().parents[2]
registered_kinds()
RULES = guardrail_rules()
SETTINGS: dict[str, Any] = policy_settings()


def test_platform_spec_passes_in_every_environment() -> None:
    specs = load_every_environment(ROOT / "specs" / "platform.yaml", kinds=kind_schemas(),
                                   policy_settings=SETTINGS, guardrail_rules=RULES)
    assert list(specs) == ["dev", "staging", "prod"]
    assert all(spec.policy["require_cmek"] is True for spec in specs.values())


def test_platform_spec_needs_an_env_for_a_concrete_stack() -> None:
    with pytest.raises(SpecError, match="defines environments dev, staging, prod: pass --env"):
        load_spec(ROOT / "specs" / "platform.yaml", kinds=kind_schemas(), require_env=True)


def test_quickstart_has_only_its_base() -> None:
    specs = load_every_environment(ROOT / "examples" / "quickstart.yaml", kinds=kind_schemas(),
                                   policy_settings=SETTINGS, guardrail_rules=RULES)
    assert list(specs) == [None]
