"""Every user-named kind checks its name (``Kind.check_name``): edge cases Google accepts pass,
and the first name it would refuse is explained. Server-named and binding kinds check none."""

from __future__ import annotations

from typing import Any

import pytest

from mlops_infra.api import registered_kinds
from mlops_infra.engine.kind import Kind
from tests.kinds.kinds_testlib import ctx

ACCEPTED: list[tuple[str, str, dict[str, Any]]] = [
    ("storage.Bucket", "a" * 63, {}),
    ("storage.Bucket", "raw.data.example.com", {}),
    ("storage.Bucket", "abc", {}),
    ("bigquery.Dataset", "A" * 1024, {}),
    ("bigquery.Table", "events 2024-01", {"dataset": "features"}),
    ("compute.Network", "v" * 63, {}),
    ("compute.Subnetwork", "ml-us-central1", {}),
    ("compute.Firewall", "a", {}),
    ("iam.ServiceAccount", "a" * 30, {}),
    ("iam.ServiceAccount", "X", {"accountId": "ml-trainer"}),   # accountId is checked instead
    ("iam.Role", "feature-reader", {}),                         # -> feature_reader
    ("iam.Role", "x", {"roleId": "custom.role"}),
    ("kms.KeyRing", "k" * 63, {}),
    ("kms.CryptoKey", "Data_Key-1", {}),
    ("serviceusage.Service", "compute.googleapis.com", {}),
    ("container.Cluster", "c" * 40, {}),
    ("container.NodePool", "gpu-pool", {}),
    ("compute.Instance", "v" * 63, {}),
    ("compute.Router", "ml-router", {"nats": [{"name": "ml-nat"}]}),
    ("monitoring.Dashboard", "ml-platform_dev", {}),
    ("monitoring.MetricDescriptor", "any", {"type": "custom.googleapis.com/ml/latency"}),
    ("logging.Sink", "a.b-c_d", {}),
    ("logging.Bucket", "b" * 100, {}),
    ("logging.Metric", "nginx/requests", {}),
    ("vertex.FeatureOnlineStore", "_" + "f" * 59, {}),
    ("vertex.FeatureView", "customer_features", {"featureOnlineStore": "s"}),
    ("vertex.MetadataStore", "default", {}),
    ("workbench.Instance", "w" * 63, {"zone": "us-central1-a"}),
]

REFUSED: list[tuple[str, str, dict[str, Any], str]] = [
    ("storage.Bucket", "a" * 64, {}, "3-63 characters"),
    ("bigquery.Dataset", "ml-features", {}, "dataset id"),
    ("bigquery.Table", "a.b", {"dataset": "features"}, "table id"),
    ("compute.Network", "v" * 64, {}, "network name"),
    ("compute.Subnetwork", "Subnet", {}, "subnetwork name"),
    ("compute.Firewall", "allow_ssh", {}, "firewall name"),
    ("iam.ServiceAccount", "short", {}, "service account id"),
    ("iam.Role", "ab", {}, "role id"),
    ("kms.KeyRing", "a/b", {}, "key ring name"),
    ("kms.CryptoKey", "k" * 64, {}, "crypto key name"),
    ("serviceusage.Service", "compute", {}, "not an API name"),
    ("container.Cluster", "c" * 41, {}, "cluster name"),
    ("container.Cluster", "ml-", {}, "cluster name"),
    ("container.NodePool", "gpu-r1a2b", {}, "kept for the pools that replace it"),
    ("compute.Instance", "Trainer", {}, "instance name"),
    ("compute.Router", "ml-router", {"nats": [{"name": "a"}, {"name": "a"}]}, "unique"),
    ("monitoring.Dashboard", "-dash", {}, "dashboard id"),
    ("monitoring.MetricDescriptor", "x", {"type": "compute.googleapis.com/cpu"}, "metric type"),
    ("logging.Sink", "_sink", {}, "sink name"),
    ("logging.Bucket", "_Default", {}, "log bucket id"),
    ("logging.Metric", "/errors", {}, "log metric name"),
    ("vertex.FeatureOnlineStore", "ml-features", {}, "did you mean 'ml_features'"),
    ("vertex.FeatureView", "1view", {"featureOnlineStore": "s"}, "feature view id"),
    ("vertex.MetadataStore", "ml1", {}, "metadata store id"),
    ("workbench.Instance", "Alice", {"zone": "us-central1-a"}, "Workbench instance name"),
]


def _kind(name: str) -> Kind:
    return registered_kinds()[name](None)


@pytest.mark.parametrize("kind, name, fields", ACCEPTED)
def test_accepted_names(kind: str, name: str, fields: dict[str, Any]) -> None:
    assert _kind(kind).check_name(ctx(name), fields) is None


@pytest.mark.parametrize("kind, name, fields, words", REFUSED)
def test_refused_names(kind: str, name: str, fields: dict[str, Any], words: str) -> None:
    problem = _kind(kind).check_name(ctx(name), fields)
    assert problem is not None and words in problem


def test_every_user_named_kind_with_an_api_name_checks_it() -> None:
    """A new kind that forgets ``check_name`` fails here. Kinds managing part of something
    shared (bindings, audit configs, grants) are exempt: their name is an address, never sent;
    an enabled API is shared too, but its name is the API's."""
    checked = {kind for kind, *_ in REFUSED}
    exempt = {name for name, cls in registered_kinds().items()
              if cls.shared or cls.naming == "server"} - {"serviceusage.Service"}
    assert set(registered_kinds()) - exempt == checked
