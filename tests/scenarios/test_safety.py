"""Safety holes a new user hit: every likely mistake is one line, exit 1 and zero mutations;
what is applied is what was approved; a blocked plan fails the check; a plan file that is not
ours is refused; a no-op stays write-free."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from mlops_infra.api import Stack, validate
from mlops_infra.engine.errors import LockHeld, SpecError, UserError
from mlops_infra.engine.plan import Plan, digest_of
from tests.scenarios.conftest import SPEC, run_cli

ROOT = Path(__file__).resolve().parents[2]


def _one_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 1, (proc.returncode, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])          # closed again once the socket goes


def test_no_credentials_is_one_line_with_the_fix(tmp_path: Path, spec_file: Path) -> None:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MLOPS_INFRA_ENDPOINTS", "GOOGLE_", "CLOUDSDK_"))}
    env.update(HOME=str(tmp_path), CLOUDSDK_CONFIG=str(tmp_path / "gcloud"),
               GCE_METADATA_HOST=f"127.0.0.1:{_closed_port()}", GCE_METADATA_IP=f"127.0.0.1:{_closed_port()}",
               NO_GCE_CHECK="True")
    for command in (["plan", str(spec_file)], ["reconcile", str(spec_file), "--auto-approve"]):
        proc = subprocess.run([sys.executable, "-m", "mlops_infra", *command], capture_output=True,
                              text=True, env=env, timeout=120, stdin=subprocess.DEVNULL)
        line = _one_line(proc)
        assert "no Google credentials" in line and "--local" in line


def test_a_plan_made_with_local_applies_without_flags(tmp_path: Path) -> None:
    spec = tmp_path / "quickstart.yaml"
    spec.write_text((ROOT / "examples" / "quickstart.yaml").read_text())
    made = run_cli(["plan", str(spec), "--local", "-o", "plan.json"], cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    applied = run_cli(["apply", "plan.json"], cwd=tmp_path)
    assert applied.returncode == 0, applied.stderr
    again = run_cli(["reconcile", str(spec), "--local", "--dry-run", "--detailed-exitcode"],
                    cwd=tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr


def _saved_plan(emulator, spec_file: Path, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    out = tmp_path / "plan.json"
    made = run_cli(["plan", str(spec_file), "-o", str(out)], endpoints=emulator.endpoints)
    assert made.returncode == 0, made.stderr
    return out


def _crafted(document: dict[str, object], path: Path) -> None:
    """A hand-made plan with a valid digest (so only the shape checks can refuse it)."""
    document["digest"] = digest_of(document)
    path.write_text(json.dumps(document))


FORGED = {   # damage -> (edit of a plan document whose digest is then recomputed, what is said)
    "unknown-kind": (lambda r: r[0].update(kind="storage.Buckett"),
                     "kind 'storage.Buckett' is not one this installation of mlops_infra knows"),
    "desired-a-list": (lambda r: r[-1].update(desired=[1, 2]), "desired must be an object"),
    "create-without-desired": (lambda r: r[-1].update(desired=None),
                               "a create needs its desired state"),
    "missing-dependency": (lambda r: r[0].update(depends_on=["nowhere"]),
                           "depends on 'nowhere', which is not in the plan"),
    "garbage-id": (lambda r: r[0].update(id="garbage"), "id 'garbage': a storage.Bucket is named"),
    "parts-of-another": (lambda r: r[0].update(parts={**r[0]["parts"], "buckets": "victim"}),
                         "its scope and parts are not those of its id"),
    "no-id": (lambda r: r[0].update(id=""), "no id: only a server-named kind's create"),
    "bad-field-change": (lambda r: r[0].update(changes=[{"op": "add", "path": "x", "evil": 1}]),
                         "changes[0] is not a field change"),
    "flag-not-bool": (lambda r: r[0].update(allow_data_loss="yes"),
                      "allow_data_loss must be true or false"),
    "address-with-a-newline": (lambda r: r[0].update(address="raw\nsecond line"),
                               "address must be a non-empty string without blanks"),
}


@pytest.mark.parametrize("damage", sorted(FORGED))
def test_a_plan_forged_with_a_valid_digest_is_refused_whole_before_any_change(
        damage: str, emulator, spec_file: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    plan_file = _saved_plan(emulator, spec_file, tmp_path)
    document = json.loads(plan_file.read_text())
    assert [r["action"] for r in document["resources"]] == ["create"] * 4
    edit, says = FORGED[damage]
    edit(document["resources"])
    _crafted(document, plan_file)
    emulator.clear_journal()
    line = _one_line(run_cli(["apply", str(plan_file)], endpoints=emulator.endpoints))
    assert line.startswith(f"error: {plan_file}: not a usable plan: resources[") and says in line
    assert emulator.mutating_requests() == []           # nothing applied before the bad one


def test_stack_apply_checks_the_kinds_of_a_plan_read_without_them(
        emulator, open_stack, spec_file: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    document = json.loads(_saved_plan(emulator, spec_file, tmp_path).read_text())
    document["resources"][-1]["kind"] = "bigquery.Tablee"
    document["digest"] = digest_of(document)
    plan = Plan.from_json(json.dumps(document))          # a library reads it: no kinds given
    emulator.clear_journal()
    with pytest.raises(UserError, match=r"^plan: not a usable plan: resources\[3\] \(events\): "
                                        "kind 'bigquery.Tablee' is not one"):
        open_stack(spec_file).apply(plan)
    assert emulator.mutating_requests() == []


@pytest.mark.parametrize("damage", ["not-json", "truncated", "edited", "cycle", "unknown-action",
                                    "binary", "old-format", "deep", "huge-int", "duplicate-key"])
def test_a_damaged_or_edited_plan_is_refused_in_one_line_with_zero_mutations(
        damage: str, emulator, spec_file: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    plan_file = _saved_plan(emulator, spec_file, tmp_path)
    text = plan_file.read_text()
    document = json.loads(text)
    if damage == "not-json":
        plan_file.write_text("this is not a plan")
    elif damage == "truncated":
        plan_file.write_text(text[: len(text) // 2])
    elif damage == "edited":
        plan_file.write_text(text.replace('"location": "EU"', '"location": "ASIA"'))
    elif damage == "cycle":
        first, second = document["resources"][0], document["resources"][1]
        first["depends_on"], second["depends_on"] = [second["address"]], [first["address"]]
        _crafted(document, plan_file)
    elif damage == "unknown-action":
        document["resources"][0]["action"] = "explode"
        _crafted(document, plan_file)
    elif damage == "binary":
        plan_file.write_bytes(b"\xff\xfe\x00\x01")
    elif damage == "deep":
        plan_file.write_text("[" * 100_000 + "]" * 100_000)
    elif damage == "huge-int":
        plan_file.write_text(text.replace('"format_version": 2', '"format_version": ' + "2" * 5000))
    elif damage == "duplicate-key":      # the last one would win: a second stack, unseen
        plan_file.write_text(text.replace('"stack": ', '"stack": "other", "stack": ', 1))
    else:
        document["format_version"] = 1
        _crafted(document, plan_file)
    assert plan_file.read_bytes() != text.encode()
    emulator.clear_journal()
    line = _one_line(run_cli(["apply", str(plan_file)], endpoints=emulator.endpoints))
    assert str(plan_file) in line and "not a usable plan" in line
    assert emulator.mutating_requests() == []


def _edit_ledger(emulator, edit) -> str:  # type: ignore[no-untyped-def]
    """Apply ``edit`` to the stored ledger document of the scenario stack; its location."""
    from mlops_infra.clients import Clients

    blob = Clients(project="test-project", endpoints=emulator.endpoints).storage().bucket(
        "test-project-mlops-infra-state").blob("mlops-infra/scenario.json")
    document = json.loads(blob.download_as_bytes(retry=None))
    edit(document)
    blob.upload_from_string(json.dumps(document), retry=None)
    return f"gs://{blob.bucket.name}/{blob.name}"


def _rekeyed(document: dict, key: str, **changes: str) -> None:  # type: ignore[type-arg]
    entry = {**document["resources"].pop(key), **changes}
    document["resources"][f"{entry['kind']}:{entry['address']}"] = entry


BAD_ENTRIES = {   # case -> (edit of the ledger document, what the one line says)
    "unknown-kind": (lambda d: _rekeyed(d, "storage.Bucket:models", kind="storage.Buckett"),
                     "entry 'storage.Buckett:models': kind 'storage.Buckett' is not one this "
                     "installation of mlops_infra knows (did you mean 'storage.Bucket'?)"),
    "garbage-id": (lambda d: d["resources"]["storage.Bucket:models"].update(id="garbage"),
                   "entry 'storage.Bucket:models': id 'garbage': a storage.Bucket is named "
                   "projects/*/buckets/*"),
    "another-kinds-id": (lambda d: d["resources"]["storage.Bucket:models"].update(
                             id="projects/test-project/datasets/features"),
                         "a storage.Bucket is named projects/*/buckets/*"),
    "dot-dot-id": (lambda d: d["resources"]["storage.Bucket:models"].update(
                       id="projects/test-project/buckets/../../b/x"),
                   "an empty, '.' or '..' segment"),
    "not-a-kind-name": (lambda d: _rekeyed(d, "storage.Bucket:models", kind="bucket"),
                        "entry 'bucket:models': kind 'bucket' is not a kind name"),
    "intent-of-unknown-kind": (lambda d: d.setdefault("intents", {}).update({"nope.Kind:zz": {
                                   "kind": "nope.Kind", "id": "", "address": "zz"}}),
                               "intent 'nope.Kind:zz': kind 'nope.Kind' is not one this"),
}


@pytest.mark.parametrize("case", sorted(BAD_ENTRIES))
def test_a_bad_ledger_entry_is_refused_in_one_line_with_zero_mutations(
        case: str, emulator, spec_file: Path) -> None:  # type: ignore[no-untyped-def]
    assert run_cli(["reconcile", str(spec_file), "--auto-approve"],
                   endpoints=emulator.endpoints).returncode == 0
    edit, says = BAD_ENTRIES[case]
    location = _edit_ledger(emulator, edit)
    spec_file.write_text(SPEC.replace("{team: ml, env: dev}", "{team: ml, env: prod}"))  # an update
    emulator.clear_journal()
    for command in (["plan", str(spec_file)], ["reconcile", str(spec_file), "--auto-approve"],
                    ["destroy", str(spec_file), "--auto-approve"]):
        line = _one_line(run_cli(command, endpoints=emulator.endpoints))
        assert line.startswith(f"error: ledger {location}: ") and says in line, line
        assert line.endswith("refusing to use or overwrite it"), line
    assert emulator.mutating_requests() == []


def _forged_change(action: str, **extra: object) -> dict[str, object]:
    from mlops_infra.engine.plan import Action, ResourceChange
    from mlops_infra.engine.registry import kind_class

    rid = kind_class("storage.Bucket")(None).id_from_name(  # type: ignore[arg-type]
        "projects/test-project/buckets/scn-theirs")
    change = ResourceChange(address="theirs", kind="storage.Bucket", id=rid.name,
                            action=Action(action), scope=rid.scope, parts=dict(rid.parts),
                            **extra)  # type: ignore[arg-type]
    return change.to_dict()


@pytest.mark.parametrize("forgery", ["delete", "update", "adopt", "intent", "moved"])
def test_a_plan_edited_to_touch_what_the_ledger_does_not_record_is_refused(
        forgery: str, emulator, open_stack, spec_file: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The digest only catches damage: a plan edited and digested again may still touch
    nothing this stack's ledger does not show to be its own (review finding: a forged
    delete removed another stack's bucket)."""
    from mlops_infra.clients import Clients

    open_stack(spec_file).reconcile()                       # a ledger with entries of its own
    Clients(project="test-project", endpoints=emulator.endpoints).storage().create_bucket(
        "scn-theirs", retry=None)                           # someone else's
    plan_file = _saved_plan(emulator, spec_file, tmp_path)
    document = json.loads(plan_file.read_text())
    desired = {"name": "scn-theirs", "labels": {"team": "ml"}}
    forged = {"delete": lambda: _forged_change("delete", last_applied={}),
              "update": lambda: _forged_change("update", desired=desired),
              "adopt": lambda: _forged_change("noop", desired=desired, adopt=True,
                                              adopt_reason="its labels name this stack"),
              "intent": lambda: _forged_change(
                  "create", desired=desired,
                  adopt_reason="this stack recorded the intent to create it before a run stopped"),
              "moved": lambda: _forged_change("noop", desired=desired,
                                              moved_from="storage.Bucket:raw")}[forgery]()
    document["resources"].append(forged)
    _crafted(document, plan_file)
    emulator.clear_journal()
    line = _one_line(run_cli(["apply", str(plan_file)], endpoints=emulator.endpoints))
    assert "refusing the plan" in line and "theirs" in line, line
    assert emulator.mutating_requests() == []
    assert Clients(project="test-project", endpoints=emulator.endpoints).storage().lookup_bucket(
        "scn-theirs", retry=None) is not None


def test_an_unedited_saved_plan_with_deletes_and_adoptions_still_applies(
        emulator, open_stack, spec_file: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    open_stack(spec_file).reconcile()
    spec_file.write_text(SPEC.replace("  models:\n    kind: storage.Bucket\n    name: ${vars.prefix}-models\n"
                                      "    location: EU\n", "  other:\n    kind: storage.Bucket\n"
                                      "    name: ${vars.prefix}-other\n    location: EU\n", 1))
    plan_file = _saved_plan(emulator, spec_file, tmp_path)
    actions = {c["action"] for c in json.loads(plan_file.read_text())["resources"]}
    assert "delete" in actions, actions
    applied = run_cli(["apply", str(plan_file)], endpoints=emulator.endpoints)
    assert applied.returncode == 0, applied.stderr


def test_a_blocked_plan_fails_plan_and_dry_run(emulator, spec_file: Path) -> None:  # type: ignore[no-untyped-def]
    from mlops_infra.clients import Clients

    Clients(project="test-project", endpoints=emulator.endpoints).storage().create_bucket(
        "scn-raw", retry=None)                          # someone else's bucket, our name
    emulator.clear_journal()
    for command in (["plan", str(spec_file)], ["reconcile", str(spec_file), "--dry-run"]):
        proc = run_cli(command, endpoints=emulator.endpoints)
        assert proc.returncode == 1 and "conflict" in proc.stderr and "adopt: true" in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1
    assert emulator.mutating_requests() == []


def test_two_addresses_naming_one_resource_are_a_spec_error(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC.replace("outputs:", "  raw-again:\n    kind: storage.Bucket\n    name: scn-raw\n"
                                             "    uniformBucketLevelAccess: true\n"
                                             "    publicAccessPrevention: enforced\noutputs:"))
    line = _one_line(run_cli(["validate", str(spec)]))
    assert f"{spec}:" in line and "raw-again" in line and "same storage.Bucket as resource 'raw'" in line


def test_what_is_applied_is_what_was_approved(emulator, open_stack, spec_file: Path) -> None:  # type: ignore[no-untyped-def]
    """While the confirmation waits, another run cannot move the ledger under it."""
    stack = open_stack(spec_file)
    other_outcome: list[BaseException | None] = []

    def confirm(plan: Plan) -> bool:
        def other_run() -> None:
            try:
                with Stack.load(spec_file, endpoints=emulator.endpoints) as other:
                    other.reconcile()
                other_outcome.append(None)
            except BaseException as exc:  # noqa: BLE001 - recorded for the assertion
                other_outcome.append(exc)
        thread = threading.Thread(target=other_run)
        thread.start()
        thread.join()
        return True

    shown: list[Plan] = []
    plan, result = stack.reconcile(confirm=confirm, show=shown.append)
    assert result is not None and result.ok
    assert [type(e) for e in other_outcome] == [LockHeld]
    assert shown == [plan]
    assert {o.address for o in result.outcomes} == {c.address for c in plan.resources}


def test_a_spec_with_environments_needs_one(tmp_path: Path) -> None:
    line = _one_line(run_cli(["plan", str(ROOT / "specs" / "platform.yaml"), "--local"], cwd=tmp_path))
    assert "defines environments dev, staging, prod: pass --env" in line


def test_unknown_policy_settings_and_waiver_rules_are_errors(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC.replace("resources:", "policy: {require_cmk: true}\nresources:", 1))
    assert "did you mean 'require_cmek'" in _one_line(run_cli(["validate", str(spec)]))
    spec.write_text(SPEC.replace("resources:", "policy: {require_cmek: 'yes please'}\nresources:", 1))
    assert "require_cmek" in _one_line(run_cli(["validate", str(spec)]))
    spec.write_text(SPEC.replace("    location: EU\n",
                                 "    location: EU\n    waivers: {no-pubic-members: 'approved in SEC-1'}\n"))
    assert "did you mean 'no-public-members'" in _one_line(run_cli(["validate", str(spec)]))


def test_a_label_named_like_a_secret_stays_visible_and_the_noop_writes_nothing(
        emulator, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC.replace("labels: {team: ml, env: dev}",
                                 "labels: {team: ml, env: dev, api-token-owner: team-ml}"))
    assert run_cli(["reconcile", str(spec), "--auto-approve"], endpoints=emulator.endpoints).returncode == 0
    emulator.clear_journal()
    again = run_cli(["reconcile", str(spec), "--auto-approve", "--format", "json"],
                    endpoints=emulator.endpoints)
    assert again.returncode == 0 and emulator.mutating_requests() == []
    assert json.loads(again.stdout)["has_changes"] is False


def test_state_unlock_refuses_a_live_lease_and_names_the_holder(emulator, spec_file: Path) -> None:  # type: ignore[no-untyped-def]
    with Stack.load(spec_file, endpoints=emulator.endpoints) as stack:
        stack.ensure_ledger_home()
        with stack.ledger.lock(owner="busy-run", ttl=60):
            refused = run_cli(["state", "unlock", str(spec_file)], endpoints=emulator.endpoints)
            assert "busy-run" in _one_line(refused) and "--force" in refused.stderr
            held = run_cli(["reconcile", str(spec_file), "--auto-approve"], endpoints=emulator.endpoints)
            assert held.returncode == 3
            assert f"state unlock {spec_file}" in held.stderr and "s left" in held.stderr
            forced = run_cli(["state", "unlock", str(spec_file), "--force"], endpoints=emulator.endpoints)
            assert forced.returncode == 0 and "busy-run" in forced.stdout


def test_spec_errors_from_the_library_carry_file_and_line(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC.replace("    name: features\n", "    name: my-features\n"))
    with pytest.raises(SpecError) as info:
        validate(spec)
    assert str(info.value).startswith(f"{spec}:") and "dataset" in str(info.value)


def test_a_workload_identity_binding_needs_its_pool_or_an_assumption(tmp_path: Path) -> None:
    binding = ("  wi:\n    kind: iam.ServiceAccountBindings\n    serviceAccount: a@test-project.iam.gserviceaccount.com\n"
               "    bindings: [{role: roles/iam.workloadIdentityUser,\n"
               "                members: ['serviceAccount:test-project.svc.id.goog[ml/trainer]']}]\n")
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC.replace("outputs:", binding + "outputs:"))
    line = _one_line(run_cli(["validate", str(spec)]))
    assert "resources.wi" in line and "assume: [workload-pool:test-project.svc.id.goog]" in line
    spec.write_text(SPEC.replace("outputs:", binding + "outputs:").replace(
        "resources:", "assume: [workload-pool:test-project.svc.id.goog]\nresources:", 1))
    assert run_cli(["validate", str(spec)]).returncode == 0


def test_the_public_api_shows_in_dir_for_tab_completion() -> None:
    import mlops_infra

    assert {"Stack", "Plan", "ApplyResult", "load", "MlopsInfraError"} <= set(dir(mlops_infra))
    assert mlops_infra.Stack is Stack


def test_two_specs_whose_ledgers_coincide_are_refused_not_merged(
        emulator, open_stack, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """``stack: ml`` in ``--env dev`` and ``stack: ml-dev`` name one ledger object: the second
    spec's plan would delete the first's resources as "no longer in the spec" (review finding)."""
    bucket = ("resources:\n  raw:\n    kind: storage.Bucket\n    name: {name}\n    location: US\n"
              "    uniformBucketLevelAccess: true\n    publicAccessPrevention: enforced\n")
    head = "apiVersion: mlops-infra/v1\nproject: test-project\n"
    first = tmp_path / "first.yaml"
    first.write_text(head + "stack: ml\nenvironments:\n  dev: {}\n" + bucket.format(name="ml-first"))
    second = tmp_path / "second.yaml"
    second.write_text(head + "stack: ml-dev\n" + bucket.format(name="ml-second"))
    _, result = open_stack(first, env="dev").reconcile()
    assert result is not None and result.ok
    emulator.clear_journal()
    with pytest.raises(UserError, match="belongs to stack 'ml' in environment 'dev'"):
        open_stack(second).plan()
    line = _one_line(run_cli(["reconcile", str(second), "--auto-approve"],
                             endpoints=emulator.endpoints))
    assert "give one of them a ledger of its own" in line
    assert emulator.mutating_requests() == []
    assert not open_stack(first, env="dev").plan().has_changes
