"""`import live` of the Monitoring and Logging kinds: what the kinds' own reconcile and the
Terraform-shaped fixtures left live comes back as a spec whose first plan changes nothing
(a channel's token aside: Google never returns it, so it is a secret to fill in, sent once);
Google's own buckets, sinks and metric descriptors are skipped; server-named resources keep
their API names in the ledger; references between the imported resources are rebuilt."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops_infra.api import Stack, validate
from mlops_infra.clients import Clients
from mlops_infra.emulator import Emulator
from mlops_infra.importers import Options, import_live
from mlops_infra.importers.run import ImportResult
from mlops_infra.importers.summary import next_steps, rows
from tests.conftest import PROJECT
from tests.importers.tfapply import FIXTURES, TerraformApply

pytestmark = pytest.mark.emulator_services("monitoring", "logging", "dashboards", "bigquery",
                                           "storage")
TF = FIXTURES / "terraform"
SLACK = FIXTURES / "sensitive" / "google_monitoring_slack.tfstate"
KINDS = ["monitoring", "logging", "storage", "bigquery"]
REGIONS = ["us-central1", "europe-west1"]
TOKEN = "xoxb-live-import-slack-token-0042"
SPEC = """\
apiVersion: mlops-infra/v1
stack: ops
project: test-project
secrets:
  slack: {env: LIVE_OPS_SLACK}
resources:
  slack:
    kind: monitoring.NotificationChannel
    type: slack
    displayName: ML alerts
    labels: {channel_name: "#ml-alerts"}
    sensitiveLabels: {authToken: "${secrets.slack}"}
  email:
    kind: monitoring.NotificationChannel
    type: email
    displayName: On call
    labels: {email_address: oncall@acme.example.com}
    enabled: false
  latency:
    kind: monitoring.MetricDescriptor
    type: custom.googleapis.com/serving/latency
    metricKind: GAUGE
    valueType: DOUBLE
    unit: ms
    labels: [{key: model}, {key: replica, valueType: INT64}]
  check:
    kind: monitoring.UptimeCheck
    displayName: serving
    host: serving.example.com
    httpCheck: {path: healthz, useSsl: true}
    period: 300
    timeout: 10
  latency-alert:
    kind: monitoring.AlertPolicy
    displayName: latency high
    combiner: OR
    conditions:
      - displayName: p99 high
        conditionThreshold:
          filter: metric.type="${latency.type}" resource.type="global"
          aggregations: [{alignmentPeriod: 1m, perSeriesAligner: ALIGN_MEAN, crossSeriesReducer: REDUCE_NONE}]
          comparison: COMPARISON_GT
          thresholdValue: 500
          duration: 5m
    notificationChannels: ["${slack.name}", "${email.name}"]
    documentation: "## Runbook"
    userLabels: {team: ml}
  dash:
    kind: monitoring.Dashboard
    name: serving-ml
    displayName: ML serving
    mosaicLayout:
      columns: 12
      tiles:
        - {width: 6, height: 4, widget: {title: latency, xyChart: {dataSets: [
            {timeSeriesQuery: {timeSeriesFilter: {filter: 'metric.type="${latency.type}"'}}}]}}}
  audit:
    kind: bigquery.Dataset
    name: ops_audit
  archive:
    kind: storage.Bucket
    name: ops-log-archive
    uniformBucketLevelAccess: true
    publicAccessPrevention: enforced
  audit-sink:
    kind: logging.Sink
    name: ops-audit
    bigqueryDataset: ${audit.name}
    filter: logName:"cloudaudit.googleapis.com"
    exclusions: [{name: no-debug, filter: severity<INFO}]
  archive-sink:
    kind: logging.Sink
    name: ops-archive
    storageBucket: ${archive.name}
    disabled: true
  logs:
    kind: logging.Bucket
    name: ops-logs
    location: europe-west1
    retentionDays: 60
    analyticsEnabled: true
  logs-sink:
    kind: logging.Sink
    name: ops-to-bucket
    logBucket: ${logs.id}
  errors:
    kind: logging.Metric
    name: ops_errors
    filter: severity>=ERROR
    bucketName: ${logs.id}
    metricDescriptor: {metricKind: DELTA, valueType: INT64, labels: [{key: model}]}
    labelExtractors: {model: EXTRACT(jsonPayload.model)}
  requests:
    kind: logging.Metric
    name: ops_requests
    filter: resource.type="global"
"""


@pytest.fixture(autouse=True)
def _fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLOPS_INFRA_RETRY_SCALE", "0.02")
    monkeypatch.setenv("LIVE_OPS_SLACK", TOKEN)


def _reconciled(emulator: Emulator, tmp_path: Path) -> None:
    """SPEC applied by the kinds' own reconcile (stack ``ops``), then its ledger forgotten (a
    project with no record of who made what: the import writes the stack's ledger anew)."""
    path = tmp_path / "made" / "ops.yaml"
    path.parent.mkdir()
    path.write_text(SPEC)
    with Stack.load(path, endpoints=emulator.endpoints) as stack:
        result = stack.apply(stack.plan())
        assert result.ok, result.failures
        location = stack.ledger.location
    bucket, _, prefix = location.removeprefix("gs://").partition("/")
    storage = Clients(project=PROJECT, endpoints=emulator.endpoints).storage()
    for blob in storage.list_blobs(bucket, prefix=prefix.removesuffix(".json")):
        blob.delete()


def _import(emulator: Emulator, tmp_path: Path, **kwargs: Any) -> tuple[ImportResult, Path]:
    out = tmp_path / "live.yaml"
    result = import_live(PROJECT, kinds_wanted=kwargs.get("kinds", KINDS),
                         regions=kwargs.get("regions", REGIONS), env=None,
                         options=Options(out=out, stack=kwargs.get("stack", "moved"),
                                         endpoints=emulator.endpoints))
    return result, out


def _mutating(out: Path, emulator: Emulator) -> list[tuple[str, list[str]]]:
    plan = Stack.load(out, endpoints=emulator.endpoints).plan()
    return [(c.address, [f.path for f in c.changes]) for c in plan.resources if c.mutates]


def _by_kind(doc: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {a: r for a, r in doc["resources"].items() if r["kind"] == kind}


def test_what_reconcile_made_comes_back_as_a_no_op_spec(emulator: Emulator, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    _reconciled(emulator, tmp_path)
    result, out = _import(emulator, tmp_path, stack="ops")     # its labels say stack ops
    differences = [(c.address, [f.path for f in c.changes]) for c in result.checks[None].differences]
    assert result.clean, differences
    validate(out)
    text = out.read_text()
    doc = yaml.safe_load(text)
    kinds = {r["kind"] for r in doc["resources"].values()}
    assert {"monitoring.NotificationChannel", "monitoring.AlertPolicy", "monitoring.Dashboard",
            "monitoring.UptimeCheck", "monitoring.MetricDescriptor", "logging.Sink",
            "logging.Bucket", "logging.Metric"} <= kinds
    # only what was set: the API's defaults and the server's fields are left out
    check = next(iter(_by_kind(doc, "monitoring.UptimeCheck").values()))
    assert check["host"] == "serving.example.com" and check["period"] == "300s"
    assert check["httpCheck"] == {"path": "/healthz", "useSsl": True}   # no port 443, no GET
    assert "checkerType" not in check
    logs = _by_kind(doc, "logging.Bucket")["ops-logs"]
    assert logs == {"kind": "logging.Bucket", "location": "europe-west1", "retentionDays": 60,
                    "analyticsEnabled": True}
    metrics = _by_kind(doc, "logging.Metric")
    assert "metricDescriptor" not in metrics["ops-requests"]          # the API's counter
    assert metrics["ops-errors"]["metricDescriptor"] == {
        "metricKind": "DELTA", "valueType": "INT64", "labels": [{"key": "model"}]}
    assert "xPos" not in json.dumps(doc) and "plotType" not in json.dumps(doc)
    # references between the imported resources, rebuilt
    policy = _by_kind(doc, "monitoring.AlertPolicy")["latency-high"]
    assert sorted(policy["notificationChannels"]) == ["${ml-alerts.name}", "${on-call.name}"]
    assert "name" not in policy["conditions"][0] and "mimeType" not in json.dumps(policy)
    sinks = _by_kind(doc, "logging.Sink")
    assert sinks["ops-to-bucket"]["logBucket"] == "${ops-logs.id}"
    assert sinks["ops-audit-sink"]["bigqueryDataset"] == "${ops-audit-dataset.name}"
    assert sinks["ops-archive"]["storageBucket"] == "${ops-log-archive.name}"
    assert sinks["ops-archive"]["disabled"] is True
    assert metrics["ops-errors"]["bucketName"] == "${ops-logs.id}"
    assert _by_kind(doc, "monitoring.NotificationChannel")["on-call"]["enabled"] is False
    # Google's own are skipped, with their reason
    managed = {s.origin: s.reason for s in result.skipped if s.category == "google-managed"}
    for bucket in ("_Default", "_Required"):
        assert f"projects/{PROJECT}/locations/global/buckets/{bucket}" in managed
        assert f"projects/{PROJECT}/sinks/{bucket}" in managed
    for name in ("ops_errors", "ops_requests"):
        assert "log-based metric" in managed[
            f"projects/{PROJECT}/metricDescriptors/logging.googleapis.com/user/{name}"]
    assert {r["type"] for r in _by_kind(doc, "monitoring.MetricDescriptor").values()} == \
        {"custom.googleapis.com/serving/latency"}
    # server-named: the ledger holds their API names
    ledger = Stack.load(out, endpoints=emulator.endpoints).ledger.read()
    ids = {e.address: e.id for e in ledger.entries.values()}
    assert ids["latency-high"].startswith(f"projects/{PROJECT}/alertPolicies/")
    assert ids["ml-alerts"].startswith(f"projects/{PROJECT}/notificationChannels/")
    assert ids["serving"].startswith(f"projects/{PROJECT}/uptimeCheckConfigs/")
    assert ids["serving-ml"] == f"projects/{PROJECT}/dashboards/serving-ml"
    # the token: never a value, a secret to fill in, sent once
    stored = json.dumps([e.to_json() for e in ledger.entries.values()])
    assert TOKEN not in text and TOKEN[-4:] not in text and TOKEN not in stored
    slack = _by_kind(doc, "monitoring.NotificationChannel")["ml-alerts"]
    assert slack["sensitiveLabels"] == {"authToken": "${secrets.ml_alerts_authtoken}"}
    assert "auth_token" not in slack["labels"]
    assert doc["secrets"] == {"ml_alerts_authtoken": {"env": "ML_ALERTS_AUTHTOKEN"}}
    summary = {r["address"]: r["plan"] for r in rows(result)}
    assert summary["ml-alerts"] == "its secrets are sent once (fill them in first)"
    assert any("the first apply sends them to 1 resource(s)" in line
               for line in next_steps(result))
    monkeypatch.setenv("ML_ALERTS_AUTHTOKEN", TOKEN)
    assert _mutating(out, emulator) == [("ml-alerts", ["labels.auth_token"])]


def test_terraform_made_resources_come_back_as_a_no_op_spec(
        emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    applier = TerraformApply(emulator.endpoints)
    for name in ("google_monitoring", "google_logging", "google_logging_sink_bucket"):
        applier.apply(TF / f"{name}.tfstate")
    applier.apply(SLACK)
    token = json.loads(SLACK.read_text())["resources"][0]["instances"][0]["attributes"][
        "sensitive_labels"][0]["auth_token"]
    result, out = _import(emulator, tmp_path)
    differences = [(c.address, [f.path for f in c.changes]) for c in result.checks[None].differences]
    assert result.clean, differences
    validate(out)
    doc = yaml.safe_load(out.read_text())
    kinds = {r["kind"] for r in doc["resources"].values()}
    assert {"monitoring.NotificationChannel", "monitoring.AlertPolicy", "monitoring.Dashboard",
            "monitoring.UptimeCheck", "monitoring.MetricDescriptor", "logging.Sink",
            "logging.Bucket", "logging.Metric"} <= kinds
    policies = _by_kind(doc, "monitoring.AlertPolicy")
    channels = {f"${{{a}.name}}" for a in _by_kind(doc, "monitoring.NotificationChannel")}
    for policy in policies.values():
        assert set(policy.get("notificationChannels", [])) <= channels, policy
    assert any(policy.get("notificationChannels") for policy in policies.values())
    text = out.read_text()
    ledger = Stack.load(out, endpoints=emulator.endpoints).ledger.read()
    assert token not in text and token not in json.dumps([e.to_json() for e in
                                                          ledger.entries.values()])
    (secret,) = doc["secrets"]
    assert {r["plan"] for r in rows(result) if r["kind"] == "monitoring.NotificationChannel"
            and "sensitiveLabels" in doc["resources"][r["address"]]} == \
        {"its secrets are sent once (fill them in first)"}
    monkeypatch.setenv(secret.upper(), token)
    assert [address for address, _ in _mutating(out, emulator)] == [
        a for a, r in doc["resources"].items() if "sensitiveLabels" in r]


def test_only_global_and_the_regions_asked_are_looked_in(emulator: Emulator,
                                                          tmp_path: Path) -> None:
    _reconciled(emulator, tmp_path)
    result, out = _import(emulator, tmp_path, kinds=["logging"], regions=["us-central1"],
                          stack="ops")
    doc = yaml.safe_load(out.read_text())
    assert "ops-logs" not in doc["resources"]                  # europe-west1: not asked
    sinks = _by_kind(doc, "logging.Sink")           # so what routes to it keeps its name
    assert sinks["ops-to-bucket"]["logBucket"] == \
        f"projects/{PROJECT}/locations/europe-west1/buckets/ops-logs"
    assert result.clean


def test_googles_own_sinks_and_metric_types_are_there_and_never_imported(
        emulator: Emulator, tmp_path: Path) -> None:
    from google.api_core.exceptions import FailedPrecondition, InvalidArgument

    from mlops_infra.kinds._clients import LOGGING_CONFIG, MONITORING_METRICS
    from mlops_infra.kinds.monitoring.descriptor import MetricDescriptor

    _reconciled(emulator, tmp_path)
    clients = Clients(project=PROJECT, endpoints=emulator.endpoints)
    every = {d.type for d in clients.get(MONITORING_METRICS).list_metric_descriptors(
        request={"name": f"projects/{PROJECT}"}, retry=None)}
    assert "compute.googleapis.com/instance/cpu/utilization" in every      # Google's, listed
    assert "logging.googleapis.com/user/ops_errors" in every               # the log metric's
    builtin = f"projects/{PROJECT}/metricDescriptors/compute.googleapis.com/instance/cpu/utilization"
    with pytest.raises(InvalidArgument):
        clients.get(MONITORING_METRICS).delete_metric_descriptor(request={"name": builtin},
                                                                 retry=None)
    with pytest.raises(FailedPrecondition):
        clients.get(LOGGING_CONFIG).delete_sink(
            request={"sink_name": f"projects/{PROJECT}/sinks/_Required"}, retry=None)
    kind = MetricDescriptor(clients)
    found = kind.live_resources(PROJECT, ())
    assert {live["type"] for live in found.values()} == {
        "custom.googleapis.com/serving/latency", "logging.googleapis.com/user/ops_errors",
        "logging.googleapis.com/user/ops_requests"}          # no built-in type is even read
    assert "built-in" in (kind.google_managed(builtin, {"type": builtin.split("/", 3)[3]}) or "")
