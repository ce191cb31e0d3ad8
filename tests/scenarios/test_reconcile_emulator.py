"""End to end through the library API against the emulator: plan, apply, converge, no-op."""

from __future__ import annotations

from pathlib import Path

from mlops_infra.clients import Clients
from mlops_infra.engine.plan import Action
from mlops_infra.kinds._clients import BIGQUERY


def _actions(plan) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {r.address: r.action.value for r in plan.resources}


def test_first_plan_creates_everything_and_is_read_only(emulator, open_stack, spec_file: Path) -> None:
    stack = open_stack(spec_file)
    emulator.clear_journal()
    plan = stack.plan()
    assert _actions(plan) == {"raw": "create", "models": "create", "features": "create",
                              "events": "create"}
    assert emulator.mutating_requests() == []
    assert plan.outputs == {"raw_url": "gs://scn-raw"}


def test_apply_then_reconcile_is_a_noop_with_zero_mutations(emulator, open_stack,
                                                            spec_file: Path) -> None:
    stack = open_stack(spec_file)
    result = stack.apply(stack.plan())
    assert result.ok, result.failures
    emulator.clear_journal()
    plan, applied = stack.reconcile()
    assert not plan.has_changes and applied is None
    assert emulator.mutating_requests() == []


def test_live_resources_match_spec_and_carry_ownership_labels(emulator, open_stack,
                                                              spec_file: Path) -> None:
    stack = open_stack(spec_file)
    assert stack.apply(stack.plan()).ok
    clients = Clients(project="test-project", endpoints=emulator.endpoints)
    bucket = clients.storage().get_bucket("scn-raw", retry=None)
    assert bucket.labels == {"team": "ml", "env": "dev", "managed-by": "mlops-infra",
                             "mlops-infra-stack": "scenario"}
    assert bucket.versioning_enabled is True
    table = clients.get(BIGQUERY).get_table("test-project.features.events", retry=None)
    assert [f.name for f in table.schema] == ["id", "ts"]


def test_removed_label_is_removed_live_and_foreign_labels_stay(emulator, open_stack,
                                                               spec_file: Path) -> None:
    stack = open_stack(spec_file)
    assert stack.apply(stack.plan()).ok
    clients = Clients(project="test-project", endpoints=emulator.endpoints)
    bucket = clients.storage().get_bucket("scn-raw", retry=None)
    bucket.labels = {**bucket.labels, "added-by-someone": "yes"}
    bucket.patch(retry=None)

    spec_file.write_text(spec_file.read_text().replace("labels: {team: ml, env: dev}",
                                                       "labels: {team: ml}"))
    stack2 = open_stack(spec_file)
    plan = stack2.plan()
    raw = next(r for r in plan.resources if r.address == "raw")
    assert raw.action is Action.UPDATE
    assert [(c.path, c.op) for c in raw.changes] == [("labels.env", "remove")]
    assert stack2.apply(plan).ok
    labels = clients.storage().get_bucket("scn-raw", retry=None).labels
    assert "env" not in labels and labels["added-by-someone"] == "yes"
    assert not stack2.plan().has_changes


def test_resource_removed_from_spec_is_deleted(emulator, open_stack, spec_file: Path) -> None:
    stack = open_stack(spec_file)
    assert stack.apply(stack.plan()).ok
    text = spec_file.read_text()
    start, end = text.index("  models:"), text.index("  features:")
    spec_file.write_text(text[:start] + text[end:])
    stack2 = open_stack(spec_file)
    plan = stack2.plan()
    assert _actions(plan)["models"] == "delete"
    assert stack2.apply(plan).ok
    clients = Clients(project="test-project", endpoints=emulator.endpoints)
    assert clients.storage().lookup_bucket("scn-models", retry=None) is None
    assert "models" not in _actions(stack2.plan())


def test_bucket_with_objects_is_not_deleted_without_allow(emulator, open_stack,
                                                          spec_file: Path) -> None:
    stack = open_stack(spec_file)
    assert stack.apply(stack.plan()).ok
    clients = Clients(project="test-project", endpoints=emulator.endpoints)
    clients.storage().bucket("scn-models").blob("model.bin").upload_from_string(b"x", retry=None)
    text = spec_file.read_text()
    spec_file.write_text(text[:text.index("  models:")] + text[text.index("  features:"):])
    plan = open_stack(spec_file).plan()
    models = next(r for r in plan.resources if r.address == "models")
    assert models.action is Action.DELETE and "holds objects" in (models.blocked or "")
    allowed = open_stack(spec_file).plan(allow_data_loss=True)
    assert not allowed.blocked


def test_crash_after_create_before_ledger_write_adopts_on_rerun(emulator, open_stack,
                                                                spec_file: Path) -> None:
    """A resource created by a run that died before saving the ledger is adopted, not duplicated."""
    stack = open_stack(spec_file)
    plan = stack.plan()
    raw = next(r for r in plan.resources if r.address == "raw")
    clients = Clients(project="test-project", endpoints=emulator.endpoints)
    stack.kinds["storage.Bucket"].create(stack.kinds["storage.Bucket"].id_from_name(raw.id),
                                         raw.desired)          # the "crashed" run's create
    plan2 = open_stack(spec_file).plan()
    raw2 = next(r for r in plan2.resources if r.address == "raw")
    assert raw2.action is Action.NOOP and raw2.adopt
    assert open_stack(spec_file).apply(plan2).ok
    assert not open_stack(spec_file).plan().has_changes
    names = [b.name for b in clients.storage().list_buckets(retry=None)]
    assert names.count("scn-raw") == 1


def test_foreign_bucket_with_same_name_blocks_the_plan(emulator, open_stack,
                                                       spec_file: Path) -> None:
    clients = Clients(project="test-project", endpoints=emulator.endpoints)
    clients.storage().create_bucket("scn-raw", retry=None)
    plan = open_stack(spec_file).plan()
    raw = next(r for r in plan.resources if r.address == "raw")
    assert raw.blocked and "conflict" in raw.blocked and "adopt: true" in raw.blocked


def test_saved_plan_is_refused_after_the_ledger_moved(emulator, open_stack, spec_file: Path) -> None:
    import pytest

    from mlops_infra.engine.errors import PlanStale
    from mlops_infra.engine.plan import Plan

    stack = open_stack(spec_file)
    saved = Plan.from_json(stack.plan().to_json())
    assert stack.apply(stack.plan()).ok
    with pytest.raises(PlanStale):
        open_stack(spec_file).apply(saved)


def test_faults_30_percent_converge_without_duplicates(emulator, open_stack, spec_file: Path) -> None:
    emulator.set_faults(rate=0.3, statuses=(503, 429), seed=7, phase="random")
    stack = open_stack(spec_file)
    plan = stack.plan()
    result = stack.apply(plan)
    assert result.ok, result.failures
    emulator.clear_faults()
    assert not open_stack(spec_file).plan().has_changes
    clients = Clients(project="test-project", endpoints=emulator.endpoints)
    names = sorted(b.name for b in clients.storage().list_buckets(retry=None)
                   if b.name.startswith("scn-"))
    assert names == ["scn-models", "scn-raw"]
    tables = [t.table_id for t in clients.get(BIGQUERY).list_tables("features", retry=None)]
    assert tables == ["events"]


def test_reference_resolving_to_a_wrong_type_is_a_spec_error(open_stack, tmp_path: Path) -> None:
    import pytest

    from mlops_infra.engine.errors import SpecError

    spec = tmp_path / "spec.yaml"
    spec.write_text("""\
apiVersion: mlops-infra/v1
stack: types
project: test-project
resources:
  a:
    kind: storage.Bucket
    name: types-a
    uniformBucketLevelAccess: true
    publicAccessPrevention: enforced
  b:
    kind: storage.Bucket
    name: types-b
    versioning: ${a.name}
""")
    with pytest.raises(SpecError, match=r"spec.yaml:13: resources.b.versioning"):
        open_stack(spec).plan()


def test_corrupt_ledger_is_refused_untouched(emulator, open_stack, spec_file: Path) -> None:
    import pytest

    from mlops_infra.engine.errors import LedgerError
    from tests.scenarios.conftest import run_cli

    stack = open_stack(spec_file)
    assert stack.apply(stack.plan()).ok
    clients = Clients(project="test-project", endpoints=emulator.endpoints)
    blob = clients.storage().bucket("test-project-mlops-infra-state").blob("mlops-infra/scenario.json")
    blob.upload_from_string(b"{not json", retry=None)
    generation = clients.storage().bucket("test-project-mlops-infra-state").get_blob(
        "mlops-infra/scenario.json", retry=None).generation
    with pytest.raises(LedgerError):
        open_stack(spec_file).plan()
    emulator.clear_journal()
    proc = run_cli(["reconcile", str(spec_file), "--auto-approve"], endpoints=emulator.endpoints)
    assert proc.returncode == 1 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "scenario.json" in proc.stderr
    assert emulator.mutating_requests() == []
    assert clients.storage().bucket("test-project-mlops-infra-state").get_blob(
        "mlops-infra/scenario.json", retry=None).generation == generation


def test_ledger_records_dependencies_so_removed_resources_delete_dependents_first(
        emulator, open_stack, spec_file: Path) -> None:
    stack = open_stack(spec_file)
    assert stack.apply(stack.plan()).ok
    entries = {e.address: e for e in stack.ledger.read().entries.values()}
    assert entries["events"].depends_on == (entries["features"].key,)
    text = spec_file.read_text()
    spec_file.write_text(text[:text.index("  features:")] + text[text.index("outputs:"):])
    plan = open_stack(spec_file).plan()
    deletes = {r.address: r for r in plan.resources if r.action is Action.DELETE}
    assert set(deletes) == {"features", "events"}
    assert "events" in deletes["features"].depends_on
