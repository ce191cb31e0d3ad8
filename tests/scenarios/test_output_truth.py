"""Output that tells the truth: what apply logs list, how it counts, what destroy and guards say,
and what Ctrl-C during an apply leaves behind (a rerun continues)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.scenarios.conftest import SPEC, run_cli

pytestmark = pytest.mark.emulator_services("storage", "bigquery", "iam", "resourcemanager")


def test_apply_logs_leave_out_unchanged_resources_unless_verbose(emulator, spec_file: Path) -> None:  # type: ignore[no-untyped-def]
    assert run_cli(["reconcile", str(spec_file), "--auto-approve"], endpoints=emulator.endpoints).returncode == 0
    spec_file.write_text(spec_file.read_text().replace("team: ml, env: dev", "team: ml2, env: dev"))
    quiet = run_cli(["reconcile", str(spec_file), "--auto-approve"], endpoints=emulator.endpoints)
    assert quiet.returncode == 0 and "~ raw updated" in quiet.stdout
    assert "unchanged (" not in quiet.stdout
    spec_file.write_text(spec_file.read_text().replace("team: ml2, env: dev", "team: ml3, env: dev"))
    loud = run_cli(["reconcile", str(spec_file), "--auto-approve", "-v"], endpoints=emulator.endpoints)
    assert "= models unchanged" in loud.stdout


def test_counts_never_overlap_and_the_time_is_the_runs(emulator, spec_file: Path, open_stack) -> None:  # type: ignore[no-untyped-def]
    stack = open_stack(spec_file)
    raw = next(r for r in stack.plan().resources if r.address == "raw")
    kind = stack.kinds["storage.Bucket"]
    kind.create(kind.id_from_name(raw.id), raw.desired)          # a crashed run made it
    started = time.monotonic()
    proc = run_cli(["reconcile", str(spec_file), "--auto-approve"], endpoints=emulator.endpoints)
    wall = time.monotonic() - started
    headline = next(line for line in proc.stdout.splitlines() if line.startswith("Apply complete"))
    assert "3 created" in headline and "1 adopted" in headline        # 4 resources, each once
    took = float(headline.rsplit(" in ", 1)[1].rstrip("s."))
    assert 0 < took <= wall


def test_a_plan_with_only_blocked_changes_does_not_say_no_changes(emulator, spec_file: Path) -> None:  # type: ignore[no-untyped-def]
    from mlops_infra.clients import Clients

    assert run_cli(["reconcile", str(spec_file), "--auto-approve"], endpoints=emulator.endpoints).returncode == 0
    Clients(project="test-project", endpoints=emulator.endpoints).storage().create_bucket(
        "scn-other", retry=None)
    spec_file.write_text(spec_file.read_text().replace(
        "outputs:", "  other:\n    kind: storage.Bucket\n    name: scn-other\n"
        "    uniformBucketLevelAccess: true\n    publicAccessPrevention: enforced\noutputs:"))
    proc = run_cli(["plan", str(spec_file)], endpoints=emulator.endpoints)
    assert proc.returncode == 1 and "No changes" not in proc.stdout and "1 blocked" in proc.stdout


def test_destroy_says_why_and_prints_no_outputs(emulator, spec_file: Path) -> None:  # type: ignore[no-untyped-def]
    assert run_cli(["reconcile", str(spec_file), "--auto-approve"], endpoints=emulator.endpoints).returncode == 0
    proc = run_cli(["destroy", str(spec_file), "--auto-approve", "--allow-data-loss"],
                   endpoints=emulator.endpoints)
    assert proc.returncode == 0 and "# removed by destroy" in proc.stdout
    assert "no longer in the spec" not in proc.stdout
    assert "Outputs:" not in proc.stdout and "${" not in proc.stdout


def test_a_service_account_deletion_guard_says_what_breaks(emulator, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC.replace("outputs:", "  trainer:\n    kind: iam.ServiceAccount\n"
                                             "    name: scn-trainer\noutputs:"))
    emulator.enable_apis("test-project", ["iam.googleapis.com"])
    assert run_cli(["reconcile", str(spec), "--auto-approve"], endpoints=emulator.endpoints).returncode == 0
    proc = run_cli(["destroy", str(spec), "--dry-run"], endpoints=emulator.endpoints)
    assert proc.returncode == 1
    assert "! blocked: its keys stop working and every binding that names it breaks" in proc.stdout


def test_ctrl_c_during_an_apply_says_what_happened_and_a_rerun_continues(emulator, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    spec = tmp_path / "spec.yaml"
    buckets = "".join(f"  b{i}:\n    kind: storage.Bucket\n    name: scn-int-{i}\n"
                      "    uniformBucketLevelAccess: true\n    publicAccessPrevention: enforced\n"
                      for i in range(12))
    spec.write_text("apiVersion: mlops-infra/v1\nstack: interrupted\nproject: test-project\n"
                    f"resources:\n{buckets}")
    emulator.set_latency(0.2)
    env = {**os.environ, "MLOPS_INFRA_ENDPOINTS": json.dumps(emulator.endpoints),
           "MLOPS_INFRA_RETRY_SCALE": "0.02"}
    proc = subprocess.Popen([sys.executable, "-m", "mlops_infra", "reconcile", str(spec),
                             "--auto-approve", "--concurrency", "2"], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and sum(
            1 for e in emulator.journal if e.method == "POST" and e.path == "/storage/v1/b") < 3:
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, out + err
    assert "Apply interrupted" in out and "not started (" in out and "Run the same command again" in out
    assert "Traceback" not in err
    emulator.set_latency(0)
    again = run_cli(["reconcile", str(spec), "--auto-approve"], endpoints=emulator.endpoints)
    assert again.returncode == 0, again.stderr
    check = run_cli(["reconcile", str(spec), "--dry-run", "--detailed-exitcode"], endpoints=emulator.endpoints)
    assert check.returncode == 0
