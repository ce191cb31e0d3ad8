"""The operations emulators behave as Google does where a reconciler can tell: Monitoring
rewrites filters, obfuscates tokens and refuses concurrent edits; Logging gives sinks writer
identities and keeps deleted log buckets for 7 days; dashboards are decorated and guarded by
etags; Secret Manager resolves ``latest``. Real client libraries throughout."""

from __future__ import annotations

import hashlib
import json
import threading
from typing import Any

import pytest
from google.api_core import exceptions as gexc

from mlops_infra.clients import Clients
from mlops_infra.emulator import Emulator
from mlops_infra.kinds._clients import (
    DASHBOARDS,
    LOGGING_CONFIG,
    LOGGING_METRICS,
    MONITORING_ALERTS,
    MONITORING_CHANNELS,
    MONITORING_METRICS,
    MONITORING_UPTIME,
    SECRET_MANAGER,
)
from tests.emulator.support import PROJECT

pytestmark = pytest.mark.emulator_services("monitoring", "logging", "dashboards", "secretmanager")
P = f"projects/{PROJECT}"
TOKEN = "xoxb-0000-emulator-test-token"
LOOSE = ('metric.type="custom.googleapis.com/ml/latency" metric.label."model"="churn" AND '
         'resource.type="global"\n')
GOOGLE_FORM = ('resource.type = "global" AND metric.type = "custom.googleapis.com/ml/latency" '
               'AND metric.labels.model = "churn"')


@pytest.fixture
def clients(emulator: Emulator) -> Clients:
    return Clients(project=PROJECT, endpoints=emulator.endpoints)


def _channel(clients: Clients, project: str = PROJECT, **labels: str) -> Any:
    return clients.get(MONITORING_CHANNELS).create_notification_channel(request={
        "name": f"projects/{project}", "notification_channel": {
            "type": "slack", "labels": {"channel_name": "#a", "auth_token": TOKEN, **labels}}},
        retry=None)


def _policy(clients: Clients, *, channels: list[str] | None = None, **condition: Any) -> Any:
    body = condition or {"condition_threshold": {
        "filter": LOOSE, "comparison": "COMPARISON_GT", "threshold_value": 1,
        "duration": {"seconds": 60}, "aggregations": [{
            "alignment_period": {"seconds": 60}, "per_series_aligner": "ALIGN_MEAN",
            "cross_series_reducer": "REDUCE_NONE"}]}}
    return clients.get(MONITORING_ALERTS).create_alert_policy(request={"name": P, "alert_policy": {
        "display_name": "p", "notification_channels": channels or [],
        "conditions": [{"display_name": "c", **body}]}}, retry=None)


# --- Monitoring ------------------------------------------------------------------------------

def test_a_policy_filter_is_stored_in_googles_form_and_reduce_none_is_not_returned(
        clients: Clients) -> None:
    made = _policy(clients)
    read = clients.get(MONITORING_ALERTS).get_alert_policy(request={"name": made.name}, retry=None)
    threshold = read.conditions[0].condition_threshold
    assert threshold.filter == GOOGLE_FORM                     # hashicorp/t-p-google#20507
    assert "crossSeriesReducer" not in json.dumps(type(read).to_dict(read))
    assert read.conditions[0].name.startswith(made.name + "/conditions/")


def test_sensitive_labels_are_obfuscated_and_never_kept(emulator: Emulator, clients: Clients) -> None:
    made = _channel(clients)
    assert made.labels["auth_token"] != TOKEN and "*" in made.labels["auth_token"]
    state = json.dumps(emulator.state("monitoring"))
    assert TOKEN not in state
    assert "sha256:" + hashlib.sha256(TOKEN.encode()).hexdigest() in state   # what was sent


def test_a_second_edit_of_a_project_while_one_runs_is_refused(emulator: Emulator,
                                                               clients: Clients) -> None:
    emulator.set_delays(monitoring_edit=0.5)
    errors: list[BaseException] = []

    def make(project: str) -> None:
        try:
            _channel(clients, project)
        except gexc.GoogleAPICallError as exc:
            errors.append(exc)
    threads = [threading.Thread(target=make, args=(p,)) for p in (PROJECT, PROJECT, "other-1")]
    emulator.enable_apis("other-1", ["monitoring.googleapis.com"])
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(errors) == 1 and isinstance(errors[0], gexc.Aborted)
    assert "Too many concurrent edits to the project configuration" in str(errors[0])


def test_a_channel_in_use_is_deleted_only_with_force_which_unlinks_it(clients: Clients) -> None:
    channel = _channel(clients).name
    policy = _policy(clients, channels=[channel]).name
    api = clients.get(MONITORING_CHANNELS)
    with pytest.raises(gexc.FailedPrecondition):
        api.delete_notification_channel(request={"name": channel}, retry=None)
    api.delete_notification_channel(request={"name": channel, "force": True}, retry=None)
    read = clients.get(MONITORING_ALERTS).get_alert_policy(request={"name": policy}, retry=None)
    assert list(read.notification_channels) == []


def test_policies_need_existing_channels_and_log_policies_a_rate_limit(clients: Clients) -> None:
    with pytest.raises(gexc.InvalidArgument, match="does not exist"):
        _policy(clients, channels=[f"{P}/notificationChannels/404"])
    with pytest.raises(gexc.InvalidArgument, match="notification_rate_limit"):
        _policy(clients, condition_matched_log={"filter": "severity>=ERROR"})
    with pytest.raises(gexc.InvalidArgument, match="metric.type"):
        _policy(clients, condition_absent={"filter": 'resource.type="global"',
                                           "duration": {"seconds": 60}})


def test_uptime_checks_get_defaults_keep_their_resource_and_outlive_no_policy(
        clients: Clients) -> None:
    api = clients.get(MONITORING_UPTIME)
    made = api.create_uptime_check_config(request={"parent": P, "uptime_check_config": {
        "display_name": "Serving VM", "timeout": {"seconds": 10}, "http_check": {"path": "health"},
        "monitored_resource": {"type": "uptime_url", "labels": {"host": "h", "project_id": PROJECT}}}},
        retry=None)
    assert (made.http_check.path, made.http_check.port, made.period.seconds) == ("/health", 80, 60)
    assert made.checker_type.name == "STATIC_IP_CHECKERS"
    moved = {"name": made.name, "monitored_resource": {"type": "uptime_url", "labels": {"host": "x"}}}
    with pytest.raises(gexc.InvalidArgument, match="cannot be changed"):
        api.update_uptime_check_config(request={"uptime_check_config": moved,
                                                "update_mask": {"paths": ["monitored_resource"]}},
                                       retry=None)
    check_id = made.name.rsplit("/", 1)[1]
    _policy(clients, condition_threshold={
        "filter": f'metric.type="monitoring.googleapis.com/uptime_check/check_passed" AND '
                  f'metric.label.check_id="{check_id}"', "duration": {"seconds": 60},
        "comparison": "COMPARISON_GT"})
    with pytest.raises(gexc.FailedPrecondition):
        api.delete_uptime_check_config(request={"name": made.name}, retry=None)


def test_only_user_defined_metric_descriptors_and_a_create_replaces(clients: Clients) -> None:
    api = clients.get(MONITORING_METRICS)

    def create(kind: str, unit: str) -> Any:
        return api.create_metric_descriptor(request={"name": P, "metric_descriptor": {
            "type": kind, "metric_kind": "GAUGE", "value_type": "DOUBLE", "unit": unit}}, retry=None)
    with pytest.raises(gexc.InvalidArgument):
        create("compute.googleapis.com/instance/cpu/utilization", "1")
    create("custom.googleapis.com/ml/drift", "1")
    create("custom.googleapis.com/ml/drift", "ms")
    read = api.get_metric_descriptor(
        request={"name": f"{P}/metricDescriptors/custom.googleapis.com/ml/drift"}, retry=None)
    assert read.unit == "ms"


# --- Logging ---------------------------------------------------------------------------------

def test_sinks_get_writer_identities_and_an_empty_mask_is_the_legacy_one(clients: Clients) -> None:
    api = clients.get(LOGGING_CONFIG)

    def sink(name: str, destination: str, unique: bool) -> Any:
        return api.create_sink(request={"parent": P, "unique_writer_identity": unique, "sink": {
            "name": name, "destination": destination, "filter": "severity>=ERROR"}}, retry=None)
    unique = sink("a", f"bigquery.googleapis.com/{P}/datasets/audit", True).writer_identity
    assert unique.startswith("serviceAccount:service-") and "@gcp-sa-logging." in unique
    assert sink("b", "storage.googleapis.com/archive", False).writer_identity == \
        "serviceAccount:cloud-logs@system.gserviceaccount.com"
    assert sink("c", f"logging.googleapis.com/{P}/locations/global/buckets/app", True) \
        .writer_identity == ""
    api.update_sink(request={"sink_name": f"{P}/sinks/a", "unique_writer_identity": True, "sink": {
        "name": "a", "destination": f"bigquery.googleapis.com/{P}/datasets/audit",
        "description": "ignored"}}, retry=None)
    read = api.get_sink(request={"sink_name": f"{P}/sinks/a"}, retry=None)
    assert read.description == "" and read.filter == ""        # destination,filter,includeChildren


def test_a_deleted_log_bucket_blocks_its_id_for_7_days(emulator: Emulator, clients: Clients) -> None:
    api = clients.get(LOGGING_CONFIG)
    name = f"{P}/locations/global/buckets/app"

    def create() -> Any:
        return api.create_bucket(request={"parent": f"{P}/locations/global", "bucket_id": "app",
                                          "bucket": {"retention_days": 60}}, retry=None)
    create()
    api.delete_bucket(request={"name": name}, retry=None)
    assert api.get_bucket(request={"name": name}, retry=None).lifecycle_state.name == \
        "DELETE_REQUESTED"
    with pytest.raises(gexc.AlreadyExists, match="pending deletion"):
        create()
    with pytest.raises(gexc.FailedPrecondition, match="ACTIVE state"):
        api.update_bucket(request={"name": name, "bucket": {"retention_days": 9},
                                   "update_mask": {"paths": ["retention_days"]}}, retry=None)
    api.undelete_bucket(request={"name": name}, retry=None)
    assert api.get_bucket(request={"name": name}, retry=None).lifecycle_state.name == "ACTIVE"
    api.delete_bucket(request={"name": name}, retry=None)
    buckets = emulator.services["logging"].buckets  # type: ignore[attr-defined]
    now = buckets.clock()
    buckets.clock = lambda: now + 7 * 24 * 3600 + 1          # 7 days later: purged
    assert create().lifecycle_state.name == "ACTIVE"


def test_analytics_locks_and_built_in_buckets_are_guarded(clients: Clients) -> None:
    api = clients.get(LOGGING_CONFIG)
    api.create_bucket(request={"parent": f"{P}/locations/global", "bucket_id": "an", "bucket": {
        "analytics_enabled": True, "locked": True, "retention_days": 30}}, retry=None)
    name = f"{P}/locations/global/buckets/an"

    def update(field: str, **bucket: Any) -> None:
        api.update_bucket(request={"name": name, "bucket": bucket,
                                   "update_mask": {"paths": [field]}}, retry=None)
    with pytest.raises(gexc.InvalidArgument, match="cannot be disabled"):
        update("analytics_enabled", analytics_enabled=False, locked=True, retention_days=30)
    with pytest.raises(gexc.FailedPrecondition, match="locked"):
        update("retention_days", retention_days=60, locked=True, analytics_enabled=True)
    with pytest.raises(gexc.FailedPrecondition):
        api.delete_bucket(request={"name": f"{P}/locations/global/buckets/_Default"}, retry=None)


def test_log_metrics_check_distributions_and_update_is_an_upsert(clients: Clients) -> None:
    api = clients.get(LOGGING_METRICS)
    with pytest.raises(gexc.InvalidArgument, match="DISTRIBUTION"):
        api.create_log_metric(request={"parent": P, "metric": {
            "name": "latency", "filter": "x", "metric_descriptor": {
                "metric_kind": "DELTA", "value_type": "DISTRIBUTION"}}}, retry=None)
    made = api.update_log_metric(request={"metric_name": f"{P}/metrics/errors", "metric": {
        "name": "errors", "filter": "severity>=ERROR"}}, retry=None)
    assert made.metric_descriptor.type == "logging.googleapis.com/user/errors"
    with pytest.raises(gexc.InvalidArgument, match="cannot be changed"):
        api.update_log_metric(request={"metric_name": f"{P}/metrics/errors", "metric": {
            "name": "errors", "filter": "x", "metric_descriptor": {
                "metric_kind": "GAUGE", "value_type": "INT64"}}}, retry=None)


# --- Dashboards ------------------------------------------------------------------------------

def _dashboard(clients: Clients, **extra: Any) -> Any:
    return clients.get(DASHBOARDS).create_dashboard(request={"parent": P, "dashboard": {
        "name": f"{P}/dashboards/ml", "display_name": "ML", "mosaic_layout": {"columns": 12, "tiles": [
            {"x_pos": 0, "width": 6, "height": 4, "widget": {"title": "t", "xy_chart": {
                "data_sets": [{"time_series_query": {"time_series_filter": {
                    "filter": 'metric.type="a/b"'}}}]}}}]}}, **extra}, retry=None)


def test_dashboards_are_decorated_and_guarded_by_etags(clients: Clients) -> None:
    preview = _dashboard(clients, validate_only=True)
    with pytest.raises(gexc.NotFound):
        clients.get(DASHBOARDS).get_dashboard(request={"name": preview.name}, retry=None)
    made = _dashboard(clients)
    data_set = made.mosaic_layout.tiles[0].widget.xy_chart.data_sets[0]
    assert data_set.plot_type.name == "LINE" and data_set.target_axis.name == "Y1"
    api = clients.get(DASHBOARDS)
    api.update_dashboard(request={"dashboard": {"name": made.name, "display_name": "ML 2",
                                                "etag": made.etag, "grid_layout": {}}}, retry=None)
    with pytest.raises(gexc.Conflict):         # the etag read before that update is stale
        api.update_dashboard(request={"dashboard": {"name": made.name, "display_name": "ML 3",
                                                    "etag": made.etag, "grid_layout": {}}},
                             retry=None)


# --- Secret Manager ------------------------------------------------------------------------

def test_latest_is_the_newest_version_and_a_disabled_one_is_not_served(clients: Clients) -> None:
    api = clients.get(SECRET_MANAGER)
    api.create_secret(request={"parent": P, "secret_id": "tok",
                               "secret": {"replication": {"automatic": {}}}}, retry=None)
    for value in (b"one", b"two"):
        api.add_secret_version(request={"parent": f"{P}/secrets/tok", "payload": {"data": value}},
                               retry=None)
    latest = api.access_secret_version(request={"name": f"{P}/secrets/tok/versions/latest"},
                                       retry=None)
    assert latest.payload.data == b"two" and latest.name.endswith("/versions/2")
    api.disable_secret_version(request={"name": f"{P}/secrets/tok/versions/2"}, retry=None)
    with pytest.raises(gexc.BadRequest, match="DISABLED"):    # REST maps 400 by status alone
        api.access_secret_version(request={"name": f"{P}/secrets/tok/versions/latest"}, retry=None)
    with pytest.raises(gexc.BadRequest, match="checksum"):
        api.add_secret_version(request={"parent": f"{P}/secrets/tok", "payload": {
            "data": b"three", "data_crc32c": 1}}, retry=None)
