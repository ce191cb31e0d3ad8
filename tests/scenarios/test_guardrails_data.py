"""Guardrails on buckets and datasets stop the plan before any API call, unless waived in writing."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_infra.engine.errors import PolicyViolation

BASE = """\
apiVersion: mlops-infra/v1
stack: guard
project: test-project
{policy}
resources:
  data:
    kind: storage.Bucket
    name: guard-data
{bucket}
  ds:
    kind: bigquery.Dataset
    name: guard_ds
{dataset}
"""
SAFE_BUCKET = "    uniformBucketLevelAccess: true\n    publicAccessPrevention: enforced"


def _write(tmp_path: Path, *, policy: str = "", bucket: str = SAFE_BUCKET, dataset: str = "") -> Path:
    spec = tmp_path / "spec.yaml"
    spec.write_text(BASE.format(policy=policy, bucket=bucket, dataset=dataset))
    return spec


CASES = {
    "bucket-uniform-access": dict(bucket="    publicAccessPrevention: enforced"),
    "bucket-public-access-prevention": dict(bucket="    uniformBucketLevelAccess: true"),
    "require-cmek": dict(policy="policy: {require_cmek: true}"),
    "no-public-members": dict(dataset="    access:\n      - {role: READER, iamMember: allUsers}"),
}


@pytest.mark.parametrize("rule", sorted(CASES))
def test_violation_stops_the_plan_with_zero_requests(rule: str, emulator, open_stack,
                                                     tmp_path: Path) -> None:
    spec = _write(tmp_path, **CASES[rule])
    emulator.clear_journal()
    with pytest.raises(PolicyViolation, match=rf"spec.yaml:\d+: resources\.\w+.*guardrail '{rule}'"):
        open_stack(spec).plan()
    assert emulator.journal == []


@pytest.mark.parametrize("rule", sorted(CASES))
def test_written_waiver_lets_it_plan_and_shows_in_the_plan(rule: str, open_stack, tmp_path: Path) -> None:
    target = "ds" if rule == "no-public-members" else "data"
    waiver = f"    waivers: {{{rule}: \"public dataset of open data, approved in SEC-42\"}}"
    case = dict(CASES[rule])
    key = "dataset" if target == "ds" else "bucket"
    case[key] = (case.get(key, SAFE_BUCKET if key == "bucket" else "") + "\n" + waiver).lstrip("\n")
    if rule == "require-cmek":
        case["dataset"] = waiver.replace("public dataset of open data", "no CMEK for scratch")
    plan = open_stack(_write(tmp_path, **case)).plan()
    waived = next(r for r in plan.resources if r.address == target)
    assert rule in waived.waivers


def test_waiver_without_a_reason_is_refused(open_stack, tmp_path: Path) -> None:
    from mlops_infra.engine.errors import SpecError

    spec = _write(tmp_path, bucket="    waivers: {bucket-uniform-access: ok}")
    with pytest.raises(SpecError, match="written reason"):
        open_stack(spec).plan()
