"""The command line as a user runs it: subprocesses against the emulator (or --local)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.scenarios.conftest import SPEC, run_cli

ROOT = Path(__file__).resolve().parents[2]

MALFORMED = {
    "bad_yaml": ("resources:\n  raw: [unclosed\n", 2),
    "unknown_field": (SPEC.replace("    versioning: true", "    versionning: true"), 13),
    "wrong_type": (SPEC.replace("    versioning: true", "    versioning: [1, 2]"), 13),
    "duplicate_key": (SPEC.replace("    versioning: true", "    labels: {a: b}"), 13),
    "unknown_ref": (SPEC.replace("${features.name}", "${featurez.name}"), 30),
    "bucket_name": (SPEC.replace("name: ${vars.prefix}-raw", "name: ${vars.prefix}_RAW"), 10),
    "storage_class": (SPEC.replace("    versioning: true", "    storageClass: STANDART"), 13),
    "cycle": (SPEC.replace("    location: EU", "    location: EU\n    labels: {x: '${raw.name}'}")
              .replace("    labels: {team: ml, env: dev}",
                       "    labels: {team: ml, env: '${models.name}'}"), None),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_spec_is_one_line_exit_1_and_no_mutation(case: str, emulator, tmp_path: Path) -> None:
    text, line = MALFORMED[case]
    spec = tmp_path / f"{case}.yaml"
    spec.write_text(text)
    emulator.clear_journal()
    proc = run_cli(["reconcile", str(spec), "--auto-approve"], endpoints=emulator.endpoints)
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert str(spec) in lines[0]
    if line is not None:
        assert f"{spec}:{line}" in lines[0], lines[0]
    assert emulator.journal == []


def test_dry_run_makes_only_get_requests_and_detailed_exitcode(emulator, tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC)
    emulator.clear_journal()
    proc = run_cli(["reconcile", str(spec), "--dry-run", "--detailed-exitcode"],
                   endpoints=emulator.endpoints)
    assert proc.returncode == 2, proc.stderr
    assert "+" in proc.stdout and "storage.Bucket" in proc.stdout
    assert emulator.journal and {e.method for e in emulator.journal} == {"GET"}

    assert run_cli(["reconcile", str(spec), "--auto-approve"],
                   endpoints=emulator.endpoints).returncode == 0
    emulator.clear_journal()
    proc = run_cli(["reconcile", str(spec), "--auto-approve"], endpoints=emulator.endpoints)
    assert proc.returncode == 0 and emulator.mutating_requests() == []
    assert run_cli(["reconcile", str(spec), "--dry-run", "--detailed-exitcode"],
                   endpoints=emulator.endpoints).returncode == 0
    spec.write_text(SPEC.replace("env: dev", "env: staging"))
    proc = run_cli(["reconcile", str(spec), "--dry-run", "--detailed-exitcode", "--format", "markdown"],
                   endpoints=emulator.endpoints)
    assert proc.returncode == 2 and "labels.env" in proc.stdout


def test_json_format_is_the_plan_document(emulator, tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC)
    proc = run_cli(["plan", str(spec), "--format", "json", "-o", str(tmp_path / "plan.json")],
                   endpoints=emulator.endpoints)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["summary"]["create"] == 4 and doc["has_changes"] is True
    proc = run_cli(["apply", str(tmp_path / "plan.json")], endpoints=emulator.endpoints)
    assert proc.returncode == 0, proc.stderr
    proc = run_cli(["apply", str(tmp_path / "plan.json")], endpoints=emulator.endpoints)
    assert proc.returncode == 1 and "changed since the plan" in proc.stderr


def test_two_reconciles_at_once_one_applies_other_exits_3(emulator, tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC)
    emulator.set_latency(0.15)
    procs = [subprocess.Popen([sys.executable, "-m", "mlops_infra", "reconcile", str(spec),
                               "--auto-approve"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=_env(emulator.endpoints), stdin=subprocess.DEVNULL)
             for _ in range(2)]
    results = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 3], results
    locked = next(err for code, err in results if code == 3)
    assert "locked by another run" in locked and "owner=" in locked and "pid=" in locked


def test_lock_held_by_someone_else_exits_3(emulator, spec_file: Path) -> None:
    from mlops_infra.api import Stack

    with Stack.load(spec_file, endpoints=emulator.endpoints) as stack:
        stack.ensure_ledger_home()
        with stack.ledger.lock(owner="ci-runner-42", ttl=60):
            proc = run_cli(["reconcile", str(spec_file), "--auto-approve"], endpoints=emulator.endpoints)
    assert proc.returncode == 3 and "ci-runner-42" in proc.stderr


def test_what_an_error_quotes_of_a_hostile_lock_stays_on_one_line(emulator, spec_file: Path) -> None:
    from mlops_infra.api import Stack

    with Stack.load(spec_file, endpoints=emulator.endpoints) as stack:
        stack.ensure_ledger_home()
        with stack.ledger.lock(owner="evil\nsecond line \x1b[31mred", ttl=60):
            proc = run_cli(["reconcile", str(spec_file), "--auto-approve"], endpoints=emulator.endpoints)
    assert proc.returncode == 3
    assert len(proc.stderr.strip().splitlines()) == 1 and "\x1b" not in proc.stderr, proc.stderr
    assert "owner=evil\\nsecond line \\x1b[31mred" in proc.stderr


def test_validate_and_schema(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC)
    proc = run_cli(["validate", str(spec)])
    assert proc.returncode == 0 and "valid (4 resources" in proc.stdout
    proc = run_cli(["schema"])
    schema = json.loads(proc.stdout)
    import jsonschema
    import yaml

    jsonschema.validate(yaml.safe_load(SPEC), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**yaml.safe_load(SPEC), "apiVersion": 3}, schema)


def _special_path(case: str, tmp_path: Path) -> str:
    if case == "symlink-loop":
        loop = tmp_path / "loop.yaml"
        loop.symlink_to(loop)
        return str(loop)
    if case == "fifo":
        fifo = tmp_path / "spec.fifo"
        os.mkfifo(fifo)
        return str(fifo)
    return {"stdin": "/dev/stdin", "devnull": "/dev/null"}[case]


@pytest.mark.parametrize("command", ["validate", "reconcile", "plan", "apply", "graph"])
@pytest.mark.parametrize("case, says", [
    ("stdin", "not a regular file (a character device)"),   # stdin is /dev/null here
    ("devnull", "not a regular file (a character device)"),
    ("fifo", "not a regular file (a pipe)"),
    ("symlink-loop", "a symlink loop"),
])
def test_a_path_that_exists_but_is_no_file_says_what_it_is(command: str, case: str, says: str,
                                                            tmp_path: Path) -> None:
    path = _special_path(case, tmp_path)
    proc = run_cli([command, path], cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.strip() == f"error: {path}: {says}", proc.stderr


def test_an_output_file_that_cannot_be_written_is_one_line(tmp_path: Path) -> None:
    out = tmp_path / "missing" / "schema.json"
    proc = run_cli(["schema", "-o", str(out)])
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.strip() == f"error: {out}: cannot write it: No such file or directory"


@pytest.mark.parametrize("endpoint, says", [
    ("not a url", "expected http(s)://HOST[:PORT]"),
    ("http://", "expected http(s)://HOST[:PORT]"),
    ("ftp://127.0.0.1:1", "expected http(s)://HOST[:PORT]"),
    ("127.0.0.1:99999", "expected http(s)://HOST[:PORT]"),
    ("127.0.0.1:1", "this client speaks REST"),           # a gRPC target for a REST client
])
def test_an_endpoint_that_is_no_url_is_one_line_naming_the_variable_and_key(
        endpoint: str, says: str, emulator, spec_file: Path) -> None:  # type: ignore[no-untyped-def]
    emulator.clear_journal()
    proc = run_cli(["reconcile", str(spec_file), "--auto-approve"],
                   endpoints={**emulator.endpoints, "storage": endpoint})
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith(f"error: MLOPS_INFRA_ENDPOINTS: endpoint 'storage' {endpoint!r}")
    assert says in lines[0]
    assert emulator.journal == []


def test_bad_flag_is_one_line_exit_1() -> None:
    proc = run_cli(["reconcile", "x.yaml", "--format", "yaml"])
    assert proc.returncode == 1 and len(proc.stderr.strip().splitlines()) == 1


def test_the_process_ends_with_its_code_output_and_exit_handlers_but_no_final_collections() -> None:
    """``process`` (``python -m mlops_infra``, the script) freezes what is alive before the
    interpreter's shutdown (its last collections were a fifth of a no-op ``reconcile
    --local``); what it printed, its exit code and every at-exit handler still come through."""
    probe = ("import atexit, gc, sys\n"
             "atexit.register(lambda: print(f'frozen at exit: {gc.get_freeze_count() > 0}'))\n"
             "from mlops_infra.cli import process\n"
             "sys.argv = ['mlops-infra', *sys.argv[1:]]\n"
             "process()\n")
    spec = str(ROOT / "examples" / "quickstart.yaml")
    for args, code in ((["validate", spec], 0), (["validate", "missing.yaml"], 1)):
        proc = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True,
                              text=True, timeout=120, cwd=ROOT, stdin=subprocess.DEVNULL)
        assert proc.returncode == code, proc.stderr
        assert proc.stdout.splitlines()[-1] == "frozen at exit: True", proc.stdout
        assert ("valid (3 resources" in proc.stdout) == (code == 0), proc.stdout
        assert ("missing.yaml" in proc.stderr) == (code == 1), proc.stderr


def test_main_called_by_a_program_leaves_its_collector_alone(capsys: pytest.CaptureFixture[str]) -> None:
    import gc

    from mlops_infra.cli import main

    before = gc.get_freeze_count()
    with pytest.raises(SystemExit) as exited:
        main(["validate", str(ROOT / "examples" / "quickstart.yaml")])
    assert exited.value.code == 0 and "valid (3 resources" in capsys.readouterr().out
    assert gc.get_freeze_count() == before


def test_local_quickstart_twice_is_a_noop_then_label_change_exits_2(tmp_path: Path) -> None:
    quickstart = tmp_path / "quickstart.yaml"
    quickstart.write_text((ROOT / "examples" / "quickstart.yaml").read_text())
    first = run_cli(["reconcile", str(quickstart), "--local", "--auto-approve"], cwd=tmp_path)
    assert first.returncode == 0, first.stderr + first.stdout
    assert (tmp_path / ".mlops_infra").is_dir()
    second = run_cli(["reconcile", str(quickstart), "--local", "--dry-run", "--detailed-exitcode"],
                     cwd=tmp_path)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "No changes" in second.stdout and "ledger will be updated" not in second.stdout
    quickstart.write_text(quickstart.read_text().replace("team: ml-platform", "team: research", 1))
    third = run_cli(["reconcile", str(quickstart), "--local", "--dry-run", "--detailed-exitcode"],
                    cwd=tmp_path)
    assert third.returncode == 2, third.stdout + third.stderr
    state = run_cli(["state", "list", str(quickstart), "--local"], cwd=tmp_path)
    assert state.returncode == 0 and "raw-data" in state.stdout


OTHER_STACK = """\
apiVersion: mlops-infra/v1
stack: other
project: demo-project
resources:
  vb:
    kind: storage.Bucket
    name: other-stack-bucket
    uniformBucketLevelAccess: true
    publicAccessPrevention: enforced
"""


def test_local_run_of_a_stack_with_fewer_services_keeps_the_others_state(tmp_path: Path) -> None:
    """``--local`` starts only the services a spec needs; the saved state of the others
    (the quickstart's BigQuery dataset and table) survives another stack's run."""
    quickstart = tmp_path / "quickstart.yaml"
    quickstart.write_text((ROOT / "examples" / "quickstart.yaml").read_text())
    (tmp_path / "other.yaml").write_text(OTHER_STACK)
    for spec in ("quickstart.yaml", "other.yaml"):
        applied = run_cli(["reconcile", spec, "--local", "--auto-approve"], cwd=tmp_path)
        assert applied.returncode == 0, applied.stderr + applied.stdout
    again = run_cli(["reconcile", "quickstart.yaml", "--local", "--dry-run", "--detailed-exitcode"],
                    cwd=tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "No changes" in again.stdout and "(3 unchanged)" in again.stdout


def test_local_state_file_of_another_version_is_one_line_and_left_as_it_is(tmp_path: Path) -> None:
    state = tmp_path / ".mlops_infra" / "emulator-state.json"
    state.parent.mkdir()
    state.write_text('{"version": 2, "services": {"storage": {"buckets": {}}}}')
    (tmp_path / "other.yaml").write_text(OTHER_STACK)
    proc = run_cli(["reconcile", "other.yaml", "--local", "--auto-approve"], cwd=tmp_path)
    assert proc.returncode == 1 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert f"{state}: emulator state version 2" in proc.stderr and "move it away" in proc.stderr
    assert state.read_text() == '{"version": 2, "services": {"storage": {"buckets": {}}}}'


EMPTIED_QUICKSTART = "apiVersion: mlops-infra/v1\nstack: quickstart\nproject: demo-project\nresources: {}\n"


def test_local_plans_deleting_the_last_resources_of_a_service_the_spec_dropped(tmp_path: Path) -> None:
    """The quickstart's dataset and table leave the spec: ``--local`` still reads and deletes
    what the ledger records (it starts BigQuery for it), in a reconcile and in a destroy."""
    quickstart = tmp_path / "quickstart.yaml"
    quickstart.write_text((ROOT / "examples" / "quickstart.yaml").read_text())
    applied = run_cli(["reconcile", "quickstart.yaml", "--local", "--auto-approve"], cwd=tmp_path)
    assert applied.returncode == 0, applied.stderr + applied.stdout
    (tmp_path / "emptied.yaml").write_text(EMPTIED_QUICKSTART)
    for command in ("reconcile", "destroy"):
        dry = run_cli([command, "emptied.yaml", "--local", "--dry-run", "--allow-data-loss"],
                      cwd=tmp_path)
        assert dry.returncode == 0, dry.stderr + dry.stdout
        assert "3 to delete" in dry.stdout and "bigquery.Table training-events" in dry.stdout


def test_local_apply_of_a_saved_plan_starts_the_services_the_plan_calls(tmp_path: Path) -> None:
    """A saved plan is applied as it was made, with the services of its kinds, even when the
    spec it names no longer has them (no BigQuery resource left in it)."""
    quickstart = tmp_path / "quickstart.yaml"
    quickstart.write_text((ROOT / "examples" / "quickstart.yaml").read_text())
    made = run_cli(["plan", "quickstart.yaml", "--local", "-o", "plan.json"], cwd=tmp_path)
    assert made.returncode == 0, made.stderr + made.stdout
    quickstart.write_text(OTHER_STACK.replace("stack: other", "stack: quickstart"))
    applied = run_cli(["apply", "plan.json"], cwd=tmp_path)
    assert applied.returncode == 0, applied.stderr + applied.stdout
    assert "3 created" in applied.stdout


def test_local_stack_starts_the_services_of_its_spec_and_of_what_its_ledger_records(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlops_infra.api import Stack

    monkeypatch.setenv("MLOPS_INFRA_EMULATOR_DELAY_SCALE", "0.005")
    quickstart, emptied, state = (tmp_path / "quickstart.yaml", tmp_path / "emptied.yaml",
                                  tmp_path / "state")
    quickstart.write_text((ROOT / "examples" / "quickstart.yaml").read_text())
    emptied.write_text(EMPTIED_QUICKSTART)
    with Stack.load(quickstart, local=True, state_dir=state) as stack:
        assert set(stack.clients.endpoints) == {"storage", "bigquery", "control"}
        _, result = stack.reconcile()
        assert result is not None and result.ok
    with Stack.load(emptied, local=True, state_dir=state) as stack:
        assert set(stack.clients.endpoints) == {"storage", "bigquery", "control"}
        plan, result = stack.reconcile(allow_data_loss=True)
        assert plan.summary()["delete"] == 3 and result is not None and result.ok
    with Stack.load(emptied, local=True, state_dir=state) as stack:    # nothing recorded now
        assert set(stack.clients.endpoints) == {"storage", "control"}
    with Stack.load(quickstart, local=True, state_dir=state) as stack:  # really deleted
        assert stack.plan().summary()["create"] == 3


def test_an_endpoint_missing_from_the_variable_says_what_to_do(emulator, spec_file: Path) -> None:
    from mlops_infra.api import Stack
    from mlops_infra.clients import NoEndpoint

    storage_only = {"storage": emulator.endpoints["storage"]}
    proc = run_cli(["reconcile", str(spec_file), "--dry-run"], endpoints=storage_only)
    assert proc.returncode == 1 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "MLOPS_INFRA_ENDPOINTS has no endpoint for 'bigquery' (it names: storage)" in proc.stderr
    assert "python -m mlops_infra emulator" in proc.stderr
    assert "unset MLOPS_INFRA_ENDPOINTS to call Google" in proc.stderr
    with Stack.load(spec_file, endpoints=storage_only) as stack, \
            pytest.raises(NoEndpoint, match="the endpoints given have no endpoint for 'bigquery'"):
        stack.plan()


def test_emulator_command_prints_endpoints_first(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "mlops_infra", "emulator"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    try:
        endpoints = json.loads(proc.stdout.readline())
        assert {"storage", "bigquery", "control"} <= set(endpoints)
        spec = tmp_path / "spec.yaml"
        spec.write_text(SPEC)
        assert run_cli(["reconcile", str(spec), "--auto-approve"], endpoints=endpoints).returncode == 0
        import urllib.request

        with urllib.request.urlopen(endpoints["control"] + "/journal") as resp:
            journal = json.loads(resp.read())
        assert any(e["method"] == "POST" for e in journal)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _env(endpoints: dict[str, str]) -> dict[str, str]:
    import os

    return {**os.environ, "MLOPS_INFRA_ENDPOINTS": json.dumps(endpoints), "MLOPS_INFRA_RETRY_SCALE": "0.02"}


def test_destroy_removes_what_the_stack_owns(emulator, tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC)
    assert run_cli(["reconcile", str(spec), "--auto-approve"], endpoints=emulator.endpoints).returncode == 0
    dry = run_cli(["destroy", str(spec), "--dry-run"], endpoints=emulator.endpoints)
    assert dry.returncode == 1 and "4 to delete" in dry.stdout      # the dataset has a table
    assert "bigquery.Dataset features: it holds tables" in dry.stderr
    assert len(dry.stderr.strip().splitlines()) == 1
    dry = run_cli(["destroy", str(spec), "--dry-run", "--allow-data-loss"],
                  endpoints=emulator.endpoints)
    assert dry.returncode == 0 and "4 to delete" in dry.stdout
    proc = run_cli(["destroy", str(spec), "--auto-approve", "--allow-data-loss"],
                   endpoints=emulator.endpoints)
    assert proc.returncode == 0, proc.stderr
    from mlops_infra.clients import Clients

    storage = Clients(project="test-project", endpoints=emulator.endpoints).storage()
    assert [b.name for b in storage.list_buckets(retry=None)] == ["test-project-mlops-infra-state"]
    listing = run_cli(["state", "list", str(spec)], endpoints=emulator.endpoints)
    assert listing.returncode == 0 and "scn-raw" not in listing.stdout


def test_validate_runs_guardrails_without_any_api(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC.replace("    publicAccessPrevention: enforced\n  models:", "  models:"))
    proc = run_cli(["validate", str(spec)], endpoints={})
    assert proc.returncode == 1 and "guardrail 'bucket-public-access-prevention'" in proc.stderr
    assert f"{spec}:" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
