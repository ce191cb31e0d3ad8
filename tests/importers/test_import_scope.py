"""What an import leaves alone (unmapped types, data sources, sensitive values, Google's own
resources), environments folded from several states, and the live round trip."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from mlops_infra.api import Stack, validate
from mlops_infra.emulator import Emulator
from mlops_infra.importers import Options, import_live, import_terraform
from tests.importers.tfapply import FIXTURES, TerraformApply

pytestmark = pytest.mark.emulator_services("storage", "bigquery", "iam", "kms", "serviceusage",
                                           "compute", "resourcemanager", "monitoring",
                                           "logging", "dashboards", "container")
TF = FIXTURES / "terraform"


def test_unmapped_and_sensitive_never_reach_spec_or_ledger(emulator: Emulator,
                                                           tmp_path: Path) -> None:
    state = TF / "unmapped.tfstate"
    TerraformApply(emulator.endpoints).apply(state)
    out = tmp_path / "spec.yaml"
    result = import_terraform([str(state)], envs=None,
                              options=Options(out=out, stack="imported", endpoints=emulator.endpoints))
    skipped = {s.origin: s.category for s in result.skipped}
    assert skipped["google_pubsub_topic.events"] == "unmapped"
    assert skipped["data.google_project.this"] == "data source"
    assert skipped["random_id.suffix"] == "unmapped"
    text = out.read_text()
    raw = state.read_text()
    doc = json.loads(raw)
    sensitive = [i["attributes"].get("private_key") for r in doc["resources"]
                 for i in r["instances"] if i["attributes"].get("private_key")]
    assert sensitive
    ledger = Stack.load(out, endpoints=emulator.endpoints).ledger.read()
    stored = json.dumps([e.to_json() for e in ledger.entries.values()])
    for value in sensitive:
        assert value not in text and value not in stored
    kinds = {e.kind for e in ledger.entries.values()}
    assert kinds == {"iam.ServiceAccount"}
    assert "google_pubsub_topic.events" in text       # listed at the end with its reason


def _env_state(env: str, project: str) -> dict[str, object]:
    doc = json.loads((TF / "google_storage_bucket.tfstate").read_text())
    text = json.dumps(doc).replace("acme-test-", f"acme-{env}-").replace("test-project", project)
    out = json.loads(text)
    if env == "prod":   # prod keeps its noncurrent versions longer: a difference to overlay
        for r in out["resources"]:
            for i in r["instances"]:
                if i.get("index_key") == "raw":
                    i["attributes"]["labels"]["tier"] = "gold"
                    i["attributes"]["terraform_labels"] = {**i["attributes"]["labels"],
                                                           "goog-terraform-provisioned": "true"}
    return out


def test_three_environments_fold_into_one_spec(emulator: Emulator, tmp_path: Path) -> None:
    paths = []
    for env in ("dev", "staging", "prod"):
        path = tmp_path / f"{env}.tfstate"
        path.write_text(json.dumps(_env_state(env, f"acme-ml-{env}")))
        emulator.enable_apis(f"acme-ml-{env}", ["storage.googleapis.com"])
        TerraformApply(emulator.endpoints).apply(path)
        paths.append(str(path))
    out = tmp_path / "platform.yaml"
    result = import_terraform(paths, envs=None, options=Options(
        out=out, stack="platform", endpoints=emulator.endpoints, ledger_bucket="acme-ml-state"))
    assert result.clean, {e: [c.address for c in c.differences] for e, c in result.checks.items()}
    spec = yaml.safe_load(out.read_text())
    assert set(spec["environments"]) == {"dev", "staging", "prod"}
    assert "tier" not in json.dumps(spec["resources"])         # only prod has it: an overlay
    assert "gold" in json.dumps(spec["environments"]["prod"])
    validate(out)
    for env in ("dev", "staging", "prod"):
        plan = Stack.load(out, env=env, endpoints=emulator.endpoints).plan()
        assert [c.address for c in plan.resources if c.mutates] == [], env


def test_live_round_trip_is_a_no_op(emulator: Emulator, tmp_path: Path) -> None:
    for name in ("google_storage_bucket", "google_service_account", "google_compute",
                 "google_kms", "google_bigquery_table"):
        TerraformApply(emulator.endpoints).apply(TF / f"{name}.tfstate")
    out = tmp_path / "live.yaml"
    emulator.clear_journal()
    result = import_live("test-project", kinds_wanted=None,
                         regions=["us-central1", "europe-west1", "us"], env=None,
                         options=Options(out=out, stack="live", endpoints=emulator.endpoints))
    assert result.clean, [c.address for c in result.checks[None].differences]
    kinds = {e.kind for imp in result.imports.values() for e in imp.entries}
    assert {"storage.Bucket", "iam.ServiceAccount", "compute.Network", "compute.Subnetwork",
            "compute.Firewall", "kms.KeyRing", "kms.CryptoKey", "bigquery.Table"} <= kinds
    # Google's own resources are left out, not owned
    managed = {s.origin for s in result.skipped if s.category == "google-managed"}
    names = {e.name for imp in result.imports.values() for e in imp.entries}
    assert not any(n == "storage.googleapis.com" for n in names)
    assert all(n != "default" for n in names) or managed
    plan = Stack.load(out, endpoints=emulator.endpoints).plan()
    assert [c.address for c in plan.resources if c.mutates] == []


def _live(emulator: Emulator, out: Path, stack: str, **options: object) -> object:
    return import_live("test-project", kinds_wanted=["storage"], regions=["us"], env=None,
                       options=Options(out=out, stack=stack, endpoints=emulator.endpoints,
                                       **options))  # type: ignore[arg-type]


def test_the_ledger_bucket_is_never_imported(emulator: Emulator, tmp_path: Path) -> None:
    TerraformApply(emulator.endpoints).apply(TF / "google_storage_bucket.tfstate")
    first = _live(emulator, tmp_path / "a.yaml", "first")     # creates the ledger bucket
    ledger_bucket = "test-project-mlops-infra-state"
    assert ledger_bucket in emulator.state("storage")["buckets"]
    second = _live(emulator, tmp_path / "b.yaml", "second")
    for result in (first, second):
        names = {e.name for imp in result.imports.values() for e in imp.entries}  # type: ignore[attr-defined]
        assert names and ledger_bucket not in names
    skipped = {s.origin: s.category for s in second.skipped}  # type: ignore[attr-defined]
    assert skipped[f"projects/test-project/buckets/{ledger_bucket}"] == "ledger"
    assert ledger_bucket not in (tmp_path / "b.yaml").read_text().split("# Not imported")[0]
    custom = _live(emulator, tmp_path / "c.yaml", "third", ledger_bucket="acme-test-raw")
    assert "acme-test-raw" not in {e.name for imp in custom.imports.values()  # type: ignore[attr-defined]
                                   for e in imp.entries}


def test_a_project_with_nothing_to_import_gives_a_valid_spec(emulator: Emulator,
                                                              tmp_path: Path) -> None:
    out = tmp_path / "empty.yaml"
    _live(emulator, out, "empty")
    spec = yaml.safe_load(out.read_text())
    assert spec["project"] == "test-project" and not spec.get("resources")
    validate(out)
