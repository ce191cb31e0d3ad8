"""Alerting tokens never touch disk or output (issue 11's check): the shipped platform spec's
dev environment, whose Slack token and PagerDuty key come from the environment
(``tests.conftest.PLATFORM_DEV_SECRETS``), planned in every format, saved as a plan file,
applied verbosely, rotated, inspected with ``state`` and destroyed through the command line;
then no file the runs wrote, no output, no ledger version and no other service's state holds
a token, while Monitoring does (so the check can fail). Tokens from Secret Manager work the
same way, and a missing one is one line naming it before anything changes."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlops_infra.api import Stack
from mlops_infra.emulator import Emulator
from mlops_infra.emulator.services import DEFAULT_SERVICES
from mlops_infra.engine.errors import MlopsInfraError
from mlops_infra.engine.plan import Action
from mlops_infra.engine.sensitive import SHOWN
from mlops_infra.kinds._clients import SECRET_MANAGER
from tests.conftest import PLATFORM_DEV_SECRETS, PROJECT, start_emulator
from tests.emulator import discovery_check
from tests.scenarios.conftest import run_cli

PLATFORM = Path(__file__).resolve().parents[2] / "specs" / "platform.yaml"
ROTATED = "xoxb-7304-rotated-slack-token-do-not-leak"
TOKENS = (*PLATFORM_DEV_SECRETS.values(), ROTATED)


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with start_emulator(DEFAULT_SERVICES) as emulator:
        emulator.set_iam_propagation_delay(0.3)
        emulator.record_bodies()
        yield emulator


def _leaks(text: str) -> list[str]:
    """The tokens, or their plain (unkeyed) SHA-256 digests, found in ``text``."""
    digests = [hashlib.sha256(t.encode()).hexdigest() for t in TOKENS]
    return [t for t in (*TOKENS, *digests) if t in text]


def _cli(args: list[str], emu: Emulator, cwd: Path, outputs: list[str]) -> str:
    run: subprocess.CompletedProcess[str] = run_cli(args, endpoints=emu.endpoints, cwd=cwd)
    outputs.append(f"$ {' '.join(args)}\n{run.stdout}\n{run.stderr}")
    assert run.returncode in (0, 2), outputs[-1][-3000:]
    return run.stdout


def test_tokens_never_reach_a_file_an_output_or_the_ledger(
        tmp_path: Path, emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = tmp_path / "platform.yaml"
    shutil.copy(PLATFORM, spec)
    outputs: list[str] = []
    dev = [str(spec), "--env", "dev"]
    _cli(["plan", *dev, "-o", str(tmp_path / "plan.json")], emu, tmp_path, outputs)
    _cli(["apply", str(tmp_path / "plan.json")], emu, tmp_path, outputs)
    shown = _cli(["plan", *dev, "--detailed-exitcode"], emu, tmp_path, outputs)
    assert "No changes" in shown, shown

    monkeypatch.setenv("MLOPS_SLACK_TOKEN", ROTATED)
    rotation = _cli(["plan", *dev, "--format", "markdown"], emu, tmp_path, outputs)
    assert SHOWN in rotation and "auth_token" in rotation      # the change is visible, masked
    _cli(["plan", *dev, "--format", "json", "-o", str(tmp_path / "rotate.json")], emu, tmp_path,
         outputs)
    _cli(["apply", str(tmp_path / "rotate.json")], emu, tmp_path, outputs)
    _cli(["state", "show", *dev, "oncall-slack-alerts"], emu, tmp_path, outputs)
    _cli(["destroy", *dev, "--auto-approve", "--allow-data-loss", "-v"], emu, tmp_path, outputs)

    assert _leaks("\n".join(outputs)) == []
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "plan.json" for p in written)
    for path in written:
        assert _leaks(path.read_text(errors="replace")) == [], path
    # Every version of the ledger object (the bucket is versioned) and everything else the
    # other services keep: only Monitoring, where the channels live, ever got a token.
    for service in emu.services:
        found = _leaks(repr(emu.state(service)))
        assert found == [] or service == "monitoring", (service, found)
    sent = [e for e in emu.journal if _leaks(repr(e.request))]
    assert sent and {e.service for e in sent} == {"monitoring"}
    assert any(ROTATED in repr(e.request) for e in sent)       # the rotated one was sent too


SM_SPEC = """\
apiVersion: mlops-infra/v1
stack: sm
project: test-project
secrets:
  pagerduty: {secretManager: projects/test-project/secrets/pagerduty-key/versions/latest}
  unused: {secretManager: projects/test-project/secrets/never-created/versions/1}
resources:
  pagerduty:
    kind: monitoring.NotificationChannel
    type: pagerduty
    sensitiveLabels: {serviceKey: "${secrets.pagerduty}"}
"""


def _add_version(emu: Emulator, value: str) -> None:
    from mlops_infra.clients import Clients

    client = Clients(project=PROJECT, endpoints=emu.endpoints).get(SECRET_MANAGER)
    parent = f"projects/{PROJECT}/secrets/pagerduty-key"
    try:
        client.get_secret(request={"name": parent}, retry=None)
    except Exception:  # noqa: BLE001 - NotFound: create it first
        client.create_secret(request={"parent": f"projects/{PROJECT}", "secret_id": "pagerduty-key",
                                      "secret": {"replication": {"automatic": {}}}}, retry=None)
    client.add_secret_version(request={"parent": parent, "payload": {"data": value.encode()}},
                              retry=None)


def _sent_to_monitoring(emu: Emulator, value: str) -> bool:
    return any(value in repr(e.request) for e in emu.journal if e.service == "monitoring")


def test_a_token_from_secret_manager_is_sent_only_to_the_api_and_a_new_version_updates_it(
        tmp_path: Path) -> None:
    spec = tmp_path / "sm.yaml"
    spec.write_text(SM_SPEC)
    with start_emulator(("monitoring", "secretmanager", "storage")) as emu:
        emu.record_bodies()
        _add_version(emu, "pd-from-secret-manager-0001")
        with Stack.load(spec, endpoints=emu.endpoints) as stack:
            plan = stack.plan()
            assert "pd-from-secret-manager-0001" not in plan.to_json()
            assert stack.apply(plan).ok
        assert _sent_to_monitoring(emu, "pd-from-secret-manager-0001")
        _add_version(emu, "pd-from-secret-manager-0002")           # rotated: latest moves on
        with Stack.load(spec, endpoints=emu.endpoints) as stack:
            plan = stack.plan()
            (change,) = [c for c in plan.resources if c.action is not Action.NOOP]
            assert [(f.path, f.old, f.new) for f in change.changes] == [
                ("labels.service_key", SHOWN, SHOWN)]
            assert stack.apply(plan).ok
        assert _sent_to_monitoring(emu, "pd-from-secret-manager-0002")
        traffic = [e for e in emu.journal if e.service == "secretmanager"]
        assert traffic and [p for e in traffic for p in discovery_check.check_entry(e)] == []
        ledger = repr(emu.state("storage"))
        assert "pd-from-secret-manager-000" not in ledger
        assert not any(p.is_file() and "pd-from-secret-manager" in p.read_text(errors="replace")
                       for p in tmp_path.rglob("*"))


def test_a_missing_secret_manager_secret_is_one_line_naming_it_before_any_change(
        tmp_path: Path) -> None:
    spec = tmp_path / "sm.yaml"
    spec.write_text(SM_SPEC)
    with start_emulator(("monitoring", "secretmanager", "storage")) as emu:
        emu.clear_journal()
        with Stack.load(spec, endpoints=emu.endpoints) as stack, \
                pytest.raises(MlopsInfraError) as caught:
            stack.plan()
        message = str(caught.value)
        assert "\n" not in message and "'pagerduty'" in message
        assert message.startswith(f"{spec}:5: ")              # where the source is written
        assert "projects/test-project/secrets/pagerduty-key/versions/latest" in message
        assert "never-created" not in message                 # unreferenced: never fetched
        assert emu.mutating_requests("monitoring") == []


def test_secret_manager_off_in_the_secrets_project_is_said_once(tmp_path: Path) -> None:
    """The API is off in a project that never enabled it: one line, the secret named once."""
    spec = tmp_path / "off.yaml"
    spec.write_text(SM_SPEC.replace("projects/test-project/secrets/pagerduty-key",
                                    "projects/never-enabled-proj/secrets/pagerduty-key"))
    with start_emulator(("monitoring", "secretmanager", "storage")) as emu:
        with Stack.load(spec, endpoints=emu.endpoints) as stack, \
                pytest.raises(MlopsInfraError) as caught:
            stack.plan()
        message = str(caught.value)
        assert "\n" not in message and "is not enabled" in message, message
        assert message.count("secret 'pagerduty' (") == 1, message
        assert message.startswith(f"{spec}:5: ")
        assert emu.mutating_requests() == []
