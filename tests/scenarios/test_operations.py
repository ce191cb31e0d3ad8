"""The operations layer end to end on the emulator (issue 11's checks): it converges in one
run and is a no-op after, although the API rewrites alert filters and decorates dashboards; a
lost create response leaves exactly one policy or channel; Monitoring edits of a project run
one at a time (and another stack's collide and are retried); each sink's writer can write to
its destination; log bucket deletion needs the allow and the plan says why."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlops_infra.api import Stack
from mlops_infra.emulator import Emulator
from mlops_infra.engine.plan import Action, Plan
from mlops_infra.engine.sensitive import SHOWN
from mlops_infra.kinds._clients import (
    BIGQUERY,
    DASHBOARDS,
    LOGGING_CONFIG,
    MONITORING_ALERTS,
    MONITORING_CHANNELS,
)
from tests.conftest import PROJECT, start_emulator

SERVICES = ("monitoring", "logging", "dashboards", "bigquery", "storage")
LOOSE_FILTER = 'metric.type="${latency.type}" metric.label."model"="churn" resource.type="global"'
SPEC = """\
apiVersion: mlops-infra/v1
stack: STACK
project: test-project
secrets:
  slack: {env: OPS_TEST_SLACK}
  pagerduty: {env: OPS_TEST_PAGERDUTY}
resources:
  slack:
    kind: monitoring.NotificationChannel
    type: slack
    labels: {channel_name: "#ml-alerts"}
    sensitiveLabels: {authToken: "${secrets.slack}"}
  pagerduty:
    kind: monitoring.NotificationChannel
    type: pagerduty
    sensitiveLabels: {serviceKey: "${secrets.pagerduty}"}
  email:
    kind: monitoring.NotificationChannel
    type: email
    labels: {email_address: oncall@acme.example.com}
  latency:
    kind: monitoring.MetricDescriptor
    type: custom.googleapis.com/STACK/latency
    metricKind: GAUGE
    valueType: DOUBLE
    labels: [{key: model}]
  check:
    kind: monitoring.UptimeCheck
    displayName: serving
    host: serving.example.com
    httpCheck: {path: healthz}
    timeout: 10
  latency-alert:
    kind: monitoring.AlertPolicy
    displayName: latency
    conditions:
      - displayName: p99 high
        conditionThreshold:
          filter: FILTER
          aggregations: [{alignmentPeriod: 1m, perSeriesAligner: ALIGN_MEAN, crossSeriesReducer: REDUCE_NONE}]
          comparison: COMPARISON_GT
          thresholdValue: 500
          duration: 5m
    notificationChannels: ["${slack.name}", "${pagerduty.name}"]
    documentation: "## Runbook"
  uptime-alert:
    kind: monitoring.AlertPolicy
    displayName: down
    conditions:
      - displayName: check failing
        conditionThreshold:
          filter: metric.type="monitoring.googleapis.com/uptime_check/check_passed" AND metric.label.check_id="${check.checkId}"
          comparison: COMPARISON_GT
          duration: 60
    notificationChannels: ["${email.name}"]
  dash:
    kind: monitoring.Dashboard
    name: STACK-ml
    displayName: ML
    mosaicLayout:
      columns: 12
      tiles:
        - {xPos: 0, yPos: 0, width: 6, height: 4, widget: {title: latency, xyChart: {dataSets: [
            {timeSeriesQuery: {timeSeriesFilter: {filter: 'metric.type="${latency.type}"'}}}]}}}
  audit:
    kind: bigquery.Dataset
    name: STACK_audit
  archive:
    kind: storage.Bucket
    name: STACK-log-archive
    uniformBucketLevelAccess: true
    publicAccessPrevention: enforced
  audit-sink:
    kind: logging.Sink
    name: STACK-audit
    bigqueryDataset: ${audit.name}
    filter: logName:"cloudaudit.googleapis.com"
  archive-sink:
    kind: logging.Sink
    name: STACK-archive
    storageBucket: ${archive.name}
    disabled: false                   # a proto3 default the API leaves out of its answers
  logs:
    kind: logging.Bucket
    name: STACK-logs
    retentionDays: 60
    analyticsEnabled: true
  logs-sink:
    kind: logging.Sink
    name: STACK-to-bucket
    logBucket: ${logs.id}
  errors:
    kind: logging.Metric
    name: STACK_errors
    filter: severity>=ERROR
    metricDescriptor: {metricKind: DELTA, valueType: INT64, labels: [{key: model}]}
    labelExtractors: {model: EXTRACT(jsonPayload.model)}
    disabled: false
"""


@pytest.fixture(autouse=True)
def _tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPS_TEST_SLACK", "xoxb-ops-scenario-slack-token")
    monkeypatch.setenv("OPS_TEST_PAGERDUTY", "pd-ops-scenario-service-key-0001")
    monkeypatch.setenv("MLOPS_INFRA_RETRY_SCALE", "0.02")


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with start_emulator(SERVICES) as emulator:
        yield emulator


def _spec(tmp_path: Path, stack: str = "ops", text: str = SPEC, file: str = "") -> Path:
    path = tmp_path / f"{file or stack}.yaml"
    path.write_text(text.replace("STACK", stack).replace("FILTER", LOOSE_FILTER))
    return path


def _apply(path: Path, emu: Emulator, **plan_args: Any) -> Plan:
    with Stack.load(path, endpoints=emu.endpoints) as stack:
        plan = stack.plan(**plan_args)
        result = stack.apply(plan)
        assert result.ok, result.failures
        return plan


def _plan(path: Path, emu: Emulator, **plan_args: Any) -> Plan:
    with Stack.load(path, endpoints=emu.endpoints) as stack:
        return stack.plan(**plan_args)


def _live(emu: Emulator, decl: Any, method: str, **request: Any) -> list[Any]:
    from mlops_infra.clients import Clients

    return list(getattr(Clients(project=PROJECT, endpoints=emu.endpoints).get(decl), method)(
        request=request, retry=None))


def test_it_converges_in_one_run_then_is_a_noop_though_google_rewrites_and_decorates(
        tmp_path: Path, emu: Emulator) -> None:
    path = _spec(tmp_path)
    first = _apply(path, emu)
    assert all(c.action is Action.CREATE for c in first.resources)
    (policy,) = [p for p in _live(emu, MONITORING_ALERTS, "list_alert_policies",
                                  name=f"projects/{PROJECT}") if p.display_name == "latency"]
    stored = policy.conditions[0].condition_threshold.filter
    assert stored == ('resource.type = "global" AND metric.type = "custom.googleapis.com/ops/'
                      'latency" AND metric.labels.model = "churn"')          # rewritten
    dash = _live(emu, DASHBOARDS, "list_dashboards", parent=f"projects/{PROJECT}")[0]
    assert dash.mosaic_layout.tiles[0].widget.xy_chart.data_sets[0].plot_type.name == "LINE"
    emu.clear_journal()
    again = _plan(path, emu)
    assert not again.has_changes and not again.ledger_sync, \
        [(c.address, c.changes) for c in again.resources if c.changes]
    assert emu.mutating_requests() == []


def test_a_lost_create_response_leaves_exactly_one_policy_or_channel(tmp_path: Path,
                                                                       emu: Emulator) -> None:
    path = _spec(tmp_path)
    emu.set_faults(rate=0.5, statuses=(503,), seed=3, phase="after", services=["monitoring"])
    _apply(path, emu)
    lost = [e for e in emu.journal if e.fault == "after" and "/Create" in e.path]
    assert lost, "no create response was lost: pick another seed"
    emu.clear_faults()
    channels = _live(emu, MONITORING_CHANNELS, "list_notification_channels",
                     name=f"projects/{PROJECT}")
    policies = _live(emu, MONITORING_ALERTS, "list_alert_policies", name=f"projects/{PROJECT}")
    addresses = [c.user_labels["mlops-infra-address"] for c in (*channels, *policies)]
    assert sorted(addresses) == ["email", "latency-alert", "pagerduty", "slack", "uptime-alert"]
    assert not _plan(path, emu).has_changes


def test_monitoring_edits_of_a_project_run_one_at_a_time_and_others_are_retried(
        tmp_path: Path, emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    emu.set_delays(monitoring_edit=0.05)
    _apply(_spec(tmp_path, "first"), emu)
    refused = [e for e in emu.journal if e.service == "monitoring" and e.status == 409]
    assert refused == []                         # one stack: serialised, never refused
    monkeypatch.setenv("MLOPS_INFRA_RETRY_SCALE", "0.2")   # backoff long enough to outwait
    emu.set_delays(monitoring_edit=0.1)                   # the other stack's edits
    stacks = [Stack.load(_spec(tmp_path, s), endpoints=emu.endpoints) for s in ("second", "third")]
    planned = [(stack, stack.plan()) for stack in stacks]
    start = threading.Barrier(2)                 # both applies start at once, however loaded
    results: list[Any] = []                      # the machine is: their edits overlap

    def apply(stack: Stack, plan: Plan) -> None:
        start.wait()
        results.append(stack.apply(plan))

    runs = [threading.Thread(target=apply, args=pair) for pair in planned]
    for run in runs:
        run.start()
    for run in runs:
        run.join()
    for stack in stacks:
        stack.close()
    assert len(results) == 2 and all(r.ok for r in results), [r.failures for r in results]
    assert [e for e in emu.journal if e.service == "monitoring" and e.status == 409], \
        "two stacks editing one project at once should have collided (and been retried)"


def _can_write(emu: Emulator, destination: str, member: str) -> bool:
    """Whether ``member`` may write log entries to a sink ``destination``: WRITER or OWNER of
    a BigQuery dataset, an object creator (or admin) of a bucket."""
    from mlops_infra.clients import Clients

    clients = Clients(project=PROJECT, endpoints=emu.endpoints)
    email = member.removeprefix("serviceAccount:")
    if destination.startswith("bigquery.googleapis.com/"):
        dataset = clients.get(BIGQUERY).get_dataset(destination.rsplit("/", 1)[1], retry=None)
        return any(e.entity_id == email and e.role in ("WRITER", "OWNER")
                   for e in dataset.access_entries)
    bucket = clients.storage().bucket(destination.removeprefix("storage.googleapis.com/"))
    policy = bucket.get_iam_policy(requested_policy_version=3, retry=None)
    return any(member in policy.get(role, ()) for role in
               ("roles/storage.objectCreator", "roles/storage.objectAdmin", "roles/storage.admin"))


def test_each_sinks_writer_can_write_to_its_destination(tmp_path: Path, emu: Emulator) -> None:
    plan = _apply(_spec(tmp_path), emu)
    assert {"audit-sink-writer", "archive-sink-writer"} <= {c.address for c in plan.resources}
    assert "logs-sink-writer" not in {c.address for c in plan.resources}   # own log bucket
    sinks = _live(emu, LOGGING_CONFIG, "list_sinks", parent=f"projects/{PROJECT}")
    exporting = [s for s in sinks if s.writer_identity]
    assert len(exporting) == 2
    for sink in exporting:
        assert _can_write(emu, sink.destination, sink.writer_identity), sink.name
    order = [c.address for c in plan.resources]
    assert order.index("audit-sink") < order.index("audit-sink-writer")


def test_removing_a_log_bucket_needs_the_allow_and_the_plan_says_its_id_stays_blocked(
        tmp_path: Path, emu: Emulator) -> None:
    path = _spec(tmp_path)
    _apply(path, emu)
    without = SPEC.split("  logs:\n")[0] + "  errors:\n" + SPEC.split("  errors:\n")[1]
    smaller = _spec(tmp_path, text=without, file="smaller")
    blocked = next(c for c in _plan(smaller, emu).resources if c.address == "logs")
    assert blocked.action is Action.DELETE and "--allow-data-loss" in (blocked.blocked or "")
    assert any("7 days" in note for note in blocked.notes)
    _apply(smaller, emu, allow_data_loss=True)
    name = f"projects/{PROJECT}/locations/global/buckets/ops-logs"
    listed = _live(emu, LOGGING_CONFIG, "list_buckets", parent=f"projects/{PROJECT}/locations/-")
    assert [b.lifecycle_state.name for b in listed if b.name == name] == ["DELETE_REQUESTED"]
    after = _plan(smaller, emu)         # the kept proof that it is ours shows as nothing
    assert not after.has_changes and not after.ledger_sync
    again = _apply(path, emu)                             # back in the spec: undeleted
    assert next(c for c in again.resources if c.address == "logs").action is Action.CREATE
    assert not _plan(path, emu).has_changes


LOG_BUCKET = """\
apiVersion: mlops-infra/v1
stack: STACK
project: test-project
resources:
  logs: {kind: logging.Bucket, name: audit-logs, retentionDays: RETENTION}
"""


def test_another_stacks_log_bucket_pending_deletion_is_a_conflict_never_undeleted(
        tmp_path: Path, emu: Emulator) -> None:
    theirs = _spec(tmp_path, stack="team-b", text=LOG_BUCKET.replace("RETENTION", "400"))
    with Stack.load(theirs, endpoints=emu.endpoints) as stack:
        assert stack.apply(stack.plan()).ok
        assert stack.apply(stack.plan(destroy=True, allow_data_loss=True)).ok
    ours = _spec(tmp_path, stack="team-a", text=LOG_BUCKET.replace("RETENTION", "30"))
    before = len(emu.mutating_requests("logging"))
    change = next(c for c in _plan(ours, emu).resources if c.address == "logs")
    assert change.action is Action.NOOP and change.blocked
    assert "pending deletion" in change.blocked and "another name" in change.blocked
    assert len(emu.mutating_requests("logging")) == before
    name = f"projects/{PROJECT}/locations/global/buckets/audit-logs"
    listed = _live(emu, LOGGING_CONFIG, "list_buckets", parent=f"projects/{PROJECT}/locations/-")
    assert [(b.lifecycle_state.name, b.retention_days) for b in listed if b.name == name] == [
        ("DELETE_REQUESTED", 400)]


def test_turning_analytics_off_is_a_replace_that_needs_the_allow(tmp_path: Path,
                                                                  emu: Emulator) -> None:
    _apply(_spec(tmp_path), emu)
    off = _spec(tmp_path, text=SPEC.replace("analyticsEnabled: true", "analyticsEnabled: false"),
                file="off")
    change = next(c for c in _plan(off, emu).resources if c.address == "logs")
    assert change.action is Action.REPLACE and "cannot be turned off" in (change.reason or "")
    assert change.blocked and "allowDataLoss" in change.blocked


def test_a_rotated_token_is_an_update_of_that_label_only_shown_sensitive(
        tmp_path: Path, emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _spec(tmp_path)
    _apply(path, emu)
    monkeypatch.setenv("OPS_TEST_SLACK", "xoxb-ops-scenario-rotated-token")
    plan = _plan(path, emu)
    changed = [c for c in plan.resources if c.action is not Action.NOOP]
    assert [c.address for c in changed] == ["slack"]
    assert [(f.path, f.old, f.new) for f in changed[0].changes] == [
        ("labels.auth_token", SHOWN, SHOWN)]
    assert "xoxb-ops-scenario-rotated-token" not in plan.to_json()
    _apply(path, emu)
    assert not _plan(path, emu).has_changes
