"""`python -m mlops_infra import ...` as a user runs it (subprocesses against the emulator):
bad state files are one located line and no API call; a good one gives a spec whose dry run
exits 0, a ledger owning exactly what was imported, and one labelling step."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlops_infra.emulator import Emulator
from tests.importers.tfapply import FIXTURES, TerraformApply
from tests.scenarios.conftest import run_cli

pytestmark = pytest.mark.emulator_services("storage", "iam", "resourcemanager")

GOOD = FIXTURES / "terraform" / "google_storage_bucket_iam.tfstate"
_V4 = json.loads(GOOD.read_text())


def _with(**changes: object) -> str:
    return json.dumps({**_V4, **changes}, indent=2)


def _broken_resource(**changes: object) -> str:
    resources = [dict(r) for r in _V4["resources"]]
    resources[2] = {**resources[2], **changes}
    return _with(resources=resources)


def _attributes(index: int, **changes: object) -> str:
    resources = json.loads(json.dumps(_V4["resources"]))
    attributes = resources[index]["instances"][0]["attributes"]
    attributes.update(changes)
    for name in [k for k, v in changes.items() if v is None]:
        del attributes[name]
    return _with(resources=resources)


def _line_of(text: str, fragment: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if fragment in line)


_RETENTION = _attributes(1, retention_policy=[{"is_locked": False, "retention_period": "abc"}])

BAD_STATES = {   # case -> (text, the line the error names, a word it says)
    "not_json": (GOOD.read_text().replace('"mode": "managed"', '"mode": managed', 1), None, "JSON"),
    "version_3": (_with(version=3), 2, "version 3"),
    "resources_not_list": (_with(resources={"a": 1}), None, "'resources'"),
    "resource_without_type": (_broken_resource(type=""), None, "'type'"),
    "attributes_not_object": (_broken_resource(instances=[{"attributes": "x"}]), None,
                              "attributes"),
    "empty_file": ("", 1, "JSON"),
    "retention_not_a_number": (_RETENTION, _line_of(_RETENTION, '"retention_period": "abc"'),
                               "retention_policy[0].retention_period': "
                               "google_storage_bucket.models: 'abc' is not an integer"),
    "member_without_role": (_attributes(3, role=None), None, "attribute 'role' is missing"),
    "deep": ("[" * 100_000 + "]" * 100_000, 1, "nested more than 200 levels deep"),
    "huge_int": (_with(serial=0).replace('"serial": 0', '"serial": ' + "9" * 5000), 4,
                 "an integer of more than"),
    "duplicate_key": (_with(version=4).replace('"version": 4', '"version": 4,\n  "version": 3'),
                      3, "the key 'version' appears twice"),
    # values the spec cannot hold (a hand-edited state): the instance they came from, and
    # the spec field they would have been
    "bucket_name_refused": (_attributes(1, name="Bad..Name"), None,
                            "google_storage_bucket.models: cannot be imported: as resources."),
    "project_refused": (_attributes(1, project="Bad_Proj"), None,
                        "'Bad_Proj' is not a valid project id"),
}


@pytest.mark.parametrize("case", sorted(BAD_STATES))
def test_bad_state_is_one_located_line_and_no_api_call(case: str, emulator: Emulator,
                                                        tmp_path: Path) -> None:
    text, line, word = BAD_STATES[case]
    state = tmp_path / f"{case}.tfstate"
    state.write_text(text)
    emulator.clear_journal()
    proc = run_cli(["import", "terraform", str(state), "-o", str(tmp_path / "spec.yaml")],
                   endpoints=emulator.endpoints)
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    lines[0] = lines[0].removeprefix("error: ")
    assert lines[0].startswith(f"{state}:"), lines[0]
    located = lines[0].removeprefix(f"{state}:").split(":", 1)[0]
    assert located.isdigit() and int(located) >= 1, lines[0]
    if line is not None:
        assert int(located) == line, lines[0]
    assert word in lines[0]
    assert emulator.journal == []
    assert not (tmp_path / "spec.yaml").exists()


def test_located_line_is_the_field_in_error(tmp_path: Path) -> None:
    state = tmp_path / "s.tfstate"
    text = _broken_resource(instances=[{"attributes": "x"}])
    state.write_text(text)
    proc = run_cli(["import", "terraform", str(state), "-o", str(tmp_path / "o.yaml"),
                    "--no-ledger"], endpoints={})
    line = int(proc.stderr.removeprefix("error: ").removeprefix(f"{state}:").split(":")[0])
    assert '"attributes": "x"' in text.splitlines()[line - 1]
    assert "resources[2].instances[0].attributes" in proc.stderr


@pytest.mark.parametrize("case", ["out-folder-missing", "live-out-folder-missing", "gs-no-bucket",
                                  "gs-bad-bucket"])
def test_an_unwritable_output_or_a_bucketless_source_is_one_line_and_no_api_call(
        case: str, emulator: Emulator, tmp_path: Path) -> None:
    out = tmp_path / "missing" / "x.yaml"
    args, words = {
        "out-folder-missing": (["terraform", str(GOOD), "-o", str(out), "--no-ledger"],
                               [str(out), "no directory"]),
        "live-out-folder-missing": (["live", "--project", "test-project", "--region",
                                     "us-central1", "-o", str(out)],
                                    [str(out), "no directory"]),
        "gs-no-bucket": (["terraform", "gs://", "-o", str(tmp_path / "x.yaml")],
                         ["gs://: no bucket named"]),
        "gs-bad-bucket": (["terraform", "gs://Bad..B/s.tfstate", "-o", str(tmp_path / "x.yaml")],
                          ["gs://Bad..B/s.tfstate: bucket name"]),
    }[case]
    emulator.clear_journal()
    proc = run_cli(["import", *args], endpoints=emulator.endpoints)
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert all(word in lines[0] for word in words), lines[0]
    assert emulator.journal == []


def test_import_then_dry_run_is_no_op_then_labels_in_one_step(emulator: Emulator,
                                                              tmp_path: Path) -> None:
    TerraformApply(emulator.endpoints).apply(GOOD)
    spec = tmp_path / "platform.yaml"
    proc = run_cli(["import", "terraform", str(GOOD), "-o", str(spec)], endpoints=emulator.endpoints)
    assert proc.returncode == 0, proc.stderr
    assert "models" in proc.stdout                       # the summary table names them
    assert run_cli(["validate", str(spec)], endpoints=emulator.endpoints).returncode == 0

    emulator.clear_journal()
    dry = run_cli(["reconcile", str(spec), "--dry-run", "--detailed-exitcode"],
                  endpoints=emulator.endpoints)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "import labels" in dry.stdout + dry.stderr      # the pending step is named
    assert emulator.mutating_requests() == []

    # the one step: only ownership labels, on the bucket (the kinds here that carry labels)
    step = run_cli(["import", "labels", str(spec), "--dry-run"], endpoints=emulator.endpoints)
    assert step.returncode == 0 and "managed-by" in step.stdout, step.stdout + step.stderr
    assert emulator.mutating_requests() == []
    applied = run_cli(["import", "labels", str(spec), "--auto-approve"], endpoints=emulator.endpoints)
    assert applied.returncode == 0, applied.stderr
    labels = emulator.state("storage")["buckets"]["acme-test-models"]["bucket"]["labels"]
    assert labels.get("mlops-infra-stack") == "platform"
    after = run_cli(["reconcile", str(spec), "--dry-run", "--detailed-exitcode"],
                    endpoints=emulator.endpoints)
    assert after.returncode == 0 and "import labels" not in after.stdout + after.stderr


def test_refuses_a_ledger_that_owns_other_resources(emulator: Emulator, tmp_path: Path) -> None:
    TerraformApply(emulator.endpoints).apply(GOOD)
    spec = tmp_path / "platform.yaml"
    assert run_cli(["import", "terraform", str(GOOD), "-o", str(spec)],
                   endpoints=emulator.endpoints).returncode == 0
    other = tmp_path / "other.tfstate"
    doc = json.loads(GOOD.read_text())
    doc["resources"] = [r for r in doc["resources"] if r["type"] == "google_service_account"]
    other.write_text(json.dumps(doc))
    emulator.clear_journal()
    proc = run_cli(["import", "terraform", str(other), "-o", str(tmp_path / "again.yaml"),
                    "--stack", "platform"], endpoints=emulator.endpoints)
    assert proc.returncode == 1 and "refusing to overwrite" in proc.stderr, proc.stderr
    assert [e for e in emulator.mutating_requests() if not e.path.endswith(".lock")] == []
    # re-running the same import is allowed (the ledger holds exactly these resources)
    again = run_cli(["import", "terraform", str(GOOD), "-o", str(spec), "--force"],
                    endpoints=emulator.endpoints)
    assert again.returncode == 0, again.stderr



def test_a_ledger_bucket_flag_cloud_storage_would_refuse_is_one_line_and_writes_nothing(
        emulator: Emulator, tmp_path: Path) -> None:
    out = tmp_path / "x.yaml"
    emulator.clear_journal()
    proc = run_cli(["import", "terraform", str(GOOD), "-o", str(out), "--ledger-bucket", "Bad..B"],
                   endpoints=emulator.endpoints)
    assert proc.returncode == 1 and proc.stderr.startswith("error: --ledger-bucket: bucket name"), \
        proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not out.exists() and emulator.mutating_requests() == []


def test_a_bucket_labelled_for_another_stack_is_never_imported(emulator: Emulator,
                                                               tmp_path: Path) -> None:
    """Review finding: an import wrote another stack's bucket into its own ledger, and
    ``import labels`` then offered to relabel it."""
    from mlops_infra.api import Stack

    other = tmp_path / "other.yaml"
    other.write_text("apiVersion: mlops-infra/v1\nstack: other\nproject: demo-project\n"
                     "resources:\n  b:\n    kind: storage.Bucket\n    name: other-stack-bkt\n"
                     "    location: US\n    uniformBucketLevelAccess: true\n"
                     "    publicAccessPrevention: enforced\n")
    with Stack.load(other, endpoints=emulator.endpoints) as stack:
        assert stack.reconcile()[1].ok                                  # type: ignore[union-attr]
    state = tmp_path / "grab.tfstate"
    state.write_text(json.dumps({"version": 4, "terraform_version": "1.9.5", "serial": 1,
                                 "lineage": "x", "outputs": {}, "resources": [{
                                     "mode": "managed", "type": "google_storage_bucket",
                                     "name": "grab",
                                     "provider": 'provider["registry.terraform.io/hashicorp/google"]',
                                     "instances": [{"schema_version": 3, "attributes": {
                                         "name": "other-stack-bkt", "id": "other-stack-bkt",
                                         "project": "demo-project", "location": "US",
                                         "uniform_bucket_level_access": True,
                                         "public_access_prevention": "enforced", "labels": {},
                                         "terraform_labels": {}, "effective_labels": {}}}]}]}))
    emulator.clear_journal()
    out = tmp_path / "grab.yaml"
    proc = run_cli(["import", "terraform", str(state), "-o", str(out), "--stack", "grabber"],
                   endpoints=emulator.endpoints)
    assert proc.returncode == 1 and "mlops-infra stack 'other'" in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert [e for e in emulator.mutating_requests() if "grabber" in e.path] == []
