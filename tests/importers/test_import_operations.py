"""Operations kinds moving in: a notification channel's sensitive labels become a secret to fill
in (never the value, in the spec or the ledger), and its channel's name goes to the ledger."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from mlops_infra.api import Stack
from mlops_infra.emulator import Emulator
from mlops_infra.importers import Options, import_terraform
from tests.importers.tfapply import FIXTURES, TerraformApply

pytestmark = pytest.mark.emulator_services("storage", "monitoring")
SLACK = FIXTURES / "sensitive" / "google_monitoring_slack.tfstate"


def test_sensitive_channel_labels_become_a_secret_to_fill_in(emulator: Emulator, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    state = TerraformApply(emulator.endpoints).applied(SLACK, tmp_path)
    token = json.loads(SLACK.read_text())["resources"][0]["instances"][0]["attributes"][
        "sensitive_labels"][0]["auth_token"]
    out = tmp_path / "spec.yaml"
    import_terraform([str(state)], envs=None,
                     options=Options(out=out, stack="imported", endpoints=emulator.endpoints))
    text = out.read_text()
    doc = yaml.safe_load(text)
    entry = doc["resources"]["slack"]
    assert entry["sensitiveLabels"] == {"authToken": "${secrets.slack_authtoken}"}
    assert doc["secrets"] == {"slack_authtoken": {"env": "SLACK_AUTHTOKEN"}}
    assert "auth_token" not in entry["labels"]
    stack = Stack.load(out, endpoints=emulator.endpoints)
    entries = list(stack.ledger.read().entries.values())
    assert [e.id.split("/notificationChannels/")[0] for e in entries] == ["projects/test-project"]
    assert token not in text and token not in json.dumps([e.to_json() for e in entries])
    # filled in, the first plan re-sends the token once: Google returns it obfuscated, so
    # nothing can tell whether it is the one live (NotificationChannel.yaml ``ignore_read``)
    monkeypatch.setenv("SLACK_AUTHTOKEN", token)
    plan = stack.plan()
    assert [(c.address, [f.path for f in c.changes]) for c in plan.resources if c.mutates] == \
        [("slack", ["labels.auth_token"])]
