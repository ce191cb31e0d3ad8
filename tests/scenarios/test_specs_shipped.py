"""The specs we ship load cleanly, and environments are isolated stack instances."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_infra.api import load, validate
from mlops_infra.engine.errors import SpecError
from mlops_infra.engine.plan import Action

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_platform_spec_loads_in_every_environment(env: str) -> None:
    spec = load(ROOT / "specs" / "platform.yaml", env=env)
    assert spec.stack == f"ml-platform-{env}"
    assert {"raw-data", "features", "prediction-log"} <= set(spec.resources)


def test_platform_spec_refuses_to_load_without_an_environment() -> None:
    with pytest.raises(SpecError, match="defines environments dev, staging, prod: pass --env"):
        load(ROOT / "specs" / "platform.yaml")


def test_validate_checks_every_environment_whichever_is_asked(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(ENV_SPEC.replace("  dev: {}\n", "  dev:\n    resources:\n      data: {storageClas: X}\n"))
    with pytest.raises(SpecError, match=r"spec.yaml:13: resources.data.storageClas.*in environment .dev."):
        validate(spec, env="prod")


def test_quickstart_loads() -> None:
    assert len(load(ROOT / "examples" / "quickstart.yaml").resources) == 3


ENV_SPEC = """\
apiVersion: mlops-infra/v1
stack: iso
project: test-project
resources:
  data:
    kind: storage.Bucket
    name: iso-data-${env}
    uniformBucketLevelAccess: true
    publicAccessPrevention: enforced
environments:
  dev: {}
  prod: {}
"""


def test_environments_have_separate_ledgers_and_never_delete_each_other(open_stack,
                                                                       tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(ENV_SPEC)
    dev = open_stack(spec, env="dev")
    assert dev.apply(dev.plan()).ok
    prod = open_stack(spec, env="prod")
    plan = prod.plan()
    assert [(r.address, r.action) for r in plan.resources] == [("data", Action.CREATE)]
    assert prod.apply(plan).ok
    assert not open_stack(spec, env="dev").plan().has_changes
    assert prod.ledger.location != dev.ledger.location


def test_committed_json_schema_is_current_and_accepts_the_shipped_specs() -> None:
    import json

    import jsonschema
    import yaml

    from mlops_infra.api import kind_schemas
    from mlops_infra.spec import export_json_schema

    committed = json.loads((ROOT / "specs" / "spec.schema.json").read_text())
    assert committed == export_json_schema(kind_schemas()), \
        "regenerate it: python -m mlops_infra schema -o specs/spec.schema.json"
    for path in (ROOT / "specs" / "platform.yaml", ROOT / "examples" / "quickstart.yaml"):
        jsonschema.validate(yaml.safe_load(path.read_text()), committed)
