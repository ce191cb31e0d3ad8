"""Constraints Google enforces with a 400 are spec errors naming file:line, found before any
API call (``validate``), so nothing the API would refuse reaches it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mlops_infra.api import validate
from mlops_infra.engine.errors import SpecError

HEAD = """\
apiVersion: mlops-infra/v1
stack: conflicts
project: test-project
region: us-central1
resources:
"""
CASES = [
    ("  raw: {kind: storage.Bucket, name: cf-raw, versioning: true, retentionPeriod: 60}\n",
     6, "object versioning and a retention policy"),
    ("  raw: {kind: storage.Bucket, name: cf-raw, softDeleteRetentionSeconds: 86400}\n",
     6, "0 (off) or 7 to 90 days"),
    ("  vpc: {kind: compute.Network, name: vpc}\n"
     "  fw:\n    kind: compute.Firewall\n    network: ${vpc.selfLink}\n"
     "    allowed: [{IPProtocol: tcp}]\n    sourceTags: [web]\n"
     "    sourceServiceAccounts: [a@test-project.iam.gserviceaccount.com]\n",
     7, "cannot be used together with 'sourceTags'"),
    ("  ds: {kind: bigquery.Dataset, name: ds, defaultTableExpirationMs: 60000}\n",
     6, "greater than or equal to 3600000"),
    ("  sa: {kind: iam.ServiceAccount, name: ml-trainer}\n"
     "  wi:\n    kind: iam.ServiceAccountBindings\n    serviceAccount: ${sa.email}\n"
     "    bindings:\n      - role: roles/iam.workloadIdentityUser\n"
     "        members: ['serviceAccount:test-project.svc.id.goog[ml/trainer]']\n",
     7, "GKE cluster with Workload Identity"),
]


@pytest.mark.parametrize(("resources", "line", "message"), CASES)
def test_googles_400s_are_spec_errors_with_file_and_line(tmp_path: Path, resources: str,
                                                         line: int, message: str) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(HEAD + resources)
    with pytest.raises(SpecError) as caught:
        validate(spec)
    assert f"{spec}:{line}" in str(caught.value)
    assert message in str(caught.value)


def test_the_platform_spec_is_valid_in_every_environment() -> None:
    spec = Path(__file__).resolve().parents[2] / "specs" / "platform.yaml"
    checked = validate(spec)                      # every environment at once
    assert set(checked) >= {"dev", "staging", "prod"}
    assert all(s.resources for s in checked.values())


def test_the_platform_converges_in_one_local_run_then_is_a_noop(tmp_path: Path) -> None:
    """``reconcile specs/platform.yaml --env dev --local``: a fresh emulated project with Google's
    behaviours (delays shortened by run_cli's MLOPS_INFRA_EMULATOR_DELAY_SCALE)."""
    from tests.scenarios.conftest import run_cli

    spec = Path(__file__).resolve().parents[2] / "specs" / "platform.yaml"
    first = run_cli(["reconcile", str(spec), "--env", "dev", "--local", "--auto-approve"],
                    cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    created = re.search(r"(\d+) created, 0 updated, 0 replaced, 0 deleted", first.stdout)
    assert created and int(created.group(1)) >= 40, first.stdout[-500:]   # every resource created
    again = run_cli(["reconcile", str(spec), "--env", "dev", "--local", "--auto-approve",
                     "--detailed-exitcode"], cwd=tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "No changes" in again.stdout
