"""The closed sets of values the spec models accept are the ones the client libraries send.

A new storage class, KMS algorithm or flow-log interval arrives with a client library
upgrade; these tests fail then, so the spec's lists are updated instead of going stale.
"""

from __future__ import annotations

import typing
from typing import Any

from google.cloud import compute_v1, kms_v1
from google.cloud.bigquery import enums as bq_enums
from google.cloud.storage import constants as gcs_constants

from mlops_infra.kinds import kms
from mlops_infra.kinds.bigquery import table
from mlops_infra.kinds.compute import firewall, network, subnetwork
from mlops_infra.kinds.storage import bucket as storage


def _literal(annotation: Any) -> set[str]:
    """The values of a ``Literal`` (also inside ``Annotated``/``Optional``)."""
    if typing.get_origin(annotation) is typing.Literal:
        return set(typing.get_args(annotation))
    return {v for arg in typing.get_args(annotation) for v in _literal(arg)}


def _field(model: Any, name: str) -> set[str]:
    return _literal(model.model_fields[name].annotation)


def _proto_enum(enum: Any) -> set[str]:
    return {name for name in enum.__members__ if not name.endswith("_UNSPECIFIED")}


def _compute_enum(enum: Any) -> set[str]:
    return {name for name in dir(enum) if name.isupper() and not name.startswith("UNDEFINED_")}


def test_storage_classes() -> None:
    known = {getattr(gcs_constants, n) for n in dir(gcs_constants) if n.endswith("STORAGE_CLASS")}
    assert _field(storage.BucketSpec, "storageClass") == known
    assert _field(storage.LifecycleAction, "storageClass") == known


def test_kms_enums() -> None:
    assert _field(kms.CryptoKeySpec, "purpose") == _proto_enum(kms_v1.CryptoKey.CryptoKeyPurpose)
    assert _field(kms.CryptoKeySpec, "protectionLevel") == _proto_enum(kms_v1.ProtectionLevel)
    assert set(kms.ALGORITHMS) == _proto_enum(
        kms_v1.CryptoKeyVersion.CryptoKeyVersionAlgorithm)


def test_compute_enums() -> None:
    log = subnetwork.SubnetworkLogConfig
    assert _field(log, "aggregationInterval") == _compute_enum(
        compute_v1.SubnetworkLogConfig.AggregationInterval)
    assert _field(log, "metadata") == _compute_enum(compute_v1.SubnetworkLogConfig.Metadata)
    assert _field(firewall.FirewallSpec, "direction") == _compute_enum(compute_v1.Firewall.Direction)
    assert _field(firewall.FirewallLogConfig, "metadata") == _compute_enum(
        compute_v1.FirewallLogConfig.Metadata)
    assert _field(network.RoutingConfig, "routingMode") == _compute_enum(
        compute_v1.NetworkRoutingConfig.RoutingMode)


def test_bigquery_column_types_are_types_the_client_knows() -> None:
    known = {e.value for e in bq_enums.SqlTypeNames} | {e.value for e in bq_enums.StandardSqlTypeNames}
    assert _field(table.SchemaField, "type") <= known
