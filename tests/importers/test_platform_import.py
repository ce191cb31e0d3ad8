"""The seed-shaped platform: one Terraform root of modules (``module.vpc``, ``module.gcs``,
``module.big_query``, ``module.service_accounts``, ``module.logging``, ``module.monitoring``)
applied to three
projects (dev, staging, prod) folds into one spec with ``environments:`` overlays, and each
environment's first plan is "no changes"."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from mlops_infra.api import Stack, validate
from mlops_infra.emulator import Emulator
from mlops_infra.importers import Options, import_terraform
from tests.importers.tfapply import FIXTURES, TerraformApply

pytestmark = pytest.mark.emulator_services("storage", "bigquery", "iam", "compute", "logging", "monitoring",
                                           "resourcemanager", "serviceusage")
ENVS = ("dev", "staging", "prod")
APIS = ["storage.googleapis.com", "bigquery.googleapis.com", "iam.googleapis.com",
        "compute.googleapis.com", "logging.googleapis.com", "monitoring.googleapis.com"]


def test_three_environment_platform_folds_into_one_spec(emulator: Emulator, tmp_path: Path) -> None:
    paths = []
    for env in ENVS:
        emulator.enable_apis(f"acme-ml-{env}", APIS)
        paths.append(str(TerraformApply(emulator.endpoints).applied(
            FIXTURES / "platform" / f"{env}.tfstate", tmp_path)))
    out = tmp_path / "platform.yaml"
    result = import_terraform(paths, envs=None, options=Options(
        out=out, stack="platform", endpoints=emulator.endpoints, ledger_bucket="acme-ml-state"))
    assert result.clean, {e: [c.address for c in c.differences] for e, c in result.checks.items()}
    spec = yaml.safe_load(out.read_text())
    assert set(spec["environments"]) == set(ENVS)
    resources = spec["resources"]
    assert {"vpc", "vpc-subnet", "gcs-raw", "big-query-features", "service-accounts-workers-0",
            "logging-app-logs", "logging-serving", "monitoring-oncall",
            "monitoring-prediction-errors"} <= set(resources)
    assert "gold" not in json.dumps(resources) and "gold" in json.dumps(spec["environments"]["prod"])
    assert resources["logging-app-logs"]["retentionDays"] == 90
    assert spec["environments"]["prod"]["resources"]["logging-app-logs"] == {"retentionDays": 365}
    assert "acme-ml-dev" not in json.dumps(resources)   # projects differ: not in the base
    validate(out)
    for env in ENVS:
        stack = Stack.load(out, env=env, endpoints=emulator.endpoints)
        plan = stack.plan()
        assert [c.address for c in plan.resources if c.mutates] == [], env
        # server-named: each environment's ledger holds its own project's policy
        ids = [e.id for e in stack.ledger.read().entries.values() if e.kind == "monitoring.AlertPolicy"]
        assert len(ids) == 1 and ids[0].startswith(f"projects/acme-ml-{env}/alertPolicies/"), ids
