"""Fidelity: every route the emulator serves exists (same HTTP method) in Google's own
discovery documents, and responses only use fields those documents define."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import googleapiclient
import pytest
from google.cloud import bigquery

from mlops_infra.emulator import Emulator
from mlops_infra.emulator.services import build_service
from tests.emulator.support import PROJECT, bq, gcs, raw

DOCUMENTS = Path(googleapiclient.__file__).parent / "discovery_cache" / "documents"
DISCOVERY = {"storage": "storage.v1.json", "bigquery": "bigquery.v2.json"}
# Cloud Storage documents media download as `objects.get` with alt=media
# ("supportsMediaDownload"); the client library sends it to the documented alias
# /download/storage/v1/..., which is the same GET with a "/download" prefix.
DOWNLOAD_PREFIX = "/download"


@cache
def _document(service: str) -> dict[str, Any]:
    return json.loads((DOCUMENTS / DISCOVERY[service]).read_text())


def _normalise(path: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", path)


def _methods(resource: dict[str, Any]) -> list[dict[str, Any]]:
    found = list(resource.get("methods", {}).values())
    for child in resource.get("resources", {}).values():
        found += _methods(child)
    return found


@cache
def _documented(service: str) -> frozenset[tuple[str, str]]:
    """(HTTP method, normalised absolute path) for every documented method and media path."""
    doc = _document(service)
    base = "/" + doc["servicePath"]
    routes = set()
    for method in _methods(doc):
        routes.add((method["httpMethod"], _normalise(base + method["path"])))
        for protocol in method.get("mediaUpload", {}).get("protocols", {}).values():
            routes.add((method["httpMethod"], _normalise(protocol["path"])))
        if method.get("supportsMediaDownload"):
            routes.add((method["httpMethod"],
                        _normalise(DOWNLOAD_PREFIX + base + method["path"])))
    return frozenset(routes)


@pytest.mark.parametrize("service", sorted(DISCOVERY))
def test_every_route_is_documented(service: str) -> None:
    routes = build_service(service).route_table
    assert routes
    undocumented = [(r.method, r.template) for r in routes
                    if (r.method, _normalise(r.template)) not in _documented(service)]
    assert undocumented == []


def test_an_undocumented_route_would_be_caught() -> None:
    assert ("GET", _normalise("/storage/v1/b/{bucket}/nonsense")) not in _documented("storage")
    assert ("DELETE", _normalise("/bigquery/v2/projects/{p}/datasets")) not in \
        _documented("bigquery")


def _undefined_keys(value: Any, schema: dict[str, Any], doc: dict[str, Any], path: str
                    ) -> list[str]:
    """Dotted paths of keys in ``value`` that ``schema`` does not define."""
    if "$ref" in schema:
        schema = doc["schemas"][schema["$ref"]]
    if isinstance(value, list) and "items" in schema:
        return [bad for i, item in enumerate(value)
                for bad in _undefined_keys(item, schema["items"], doc, f"{path}[{i}]")]
    if not isinstance(value, dict):
        return []
    if "properties" not in schema:
        extra = schema.get("additionalProperties")
        return [bad for k, v in value.items()
                for bad in _undefined_keys(v, extra, doc, f"{path}.{k}")] if extra else []
    bad = [f"{path}.{k}" for k in value if k not in schema["properties"]]
    return bad + [b for k, v in value.items() if k in schema["properties"]
                  for b in _undefined_keys(v, schema["properties"][k], doc, f"{path}.{k}")]


def _check(service: str, schema_name: str, value: dict[str, Any]) -> None:
    doc = _document(service)
    assert value
    assert _undefined_keys(value, doc["schemas"][schema_name], doc, schema_name) == []


def test_schema_checker_notices_unknown_fields() -> None:
    doc = _document("storage")
    bogus = {"name": "b", "iamConfiguration": {"madeUp": 1}}
    assert _undefined_keys(bogus, doc["schemas"]["Bucket"], doc, "Bucket") == [
        "Bucket.iamConfiguration.madeUp"]


def test_storage_responses_fit_the_documented_schemas(emulator: Emulator) -> None:
    client = gcs(emulator)
    bucket = client.bucket("schema-bucket")
    bucket.labels = {"a": "b"}
    bucket.versioning_enabled = True
    bucket.iam_configuration.uniform_bucket_level_access_enabled = True
    bucket.add_lifecycle_delete_rule(age=3)
    bucket.default_kms_key_name = "projects/p/locations/l/keyRings/r/cryptoKeys/k"
    client.create_bucket(bucket, retry=None)
    blob = client.bucket("schema-bucket").blob("dir/o.json")
    blob.metadata = {"k": "v"}
    blob.upload_from_string(b"{}", retry=None)
    _check("storage", "Bucket", raw(emulator, "storage", "GET", "/storage/v1/b/schema-bucket").json())
    _check("storage", "Buckets", raw(emulator, "storage", "GET", "/storage/v1/b",
                                     params={"project": PROJECT}).json())
    _check("storage", "Object", raw(emulator, "storage", "GET",
                                    "/storage/v1/b/schema-bucket/o/dir%2Fo.json").json())
    _check("storage", "Objects", raw(emulator, "storage", "GET", "/storage/v1/b/schema-bucket/o",
                                     params={"delimiter": "/"}).json())


def test_bigquery_responses_fit_the_documented_schemas(emulator: Emulator) -> None:
    client = bq(emulator)
    dataset = bigquery.Dataset(f"{PROJECT}.ds")
    dataset.labels = {"a": "b"}
    dataset.default_table_expiration_ms = 3_600_000
    client.create_dataset(dataset, retry=None)
    table = bigquery.Table(f"{PROJECT}.ds.t", schema=[
        bigquery.SchemaField("d", "DATE"),
        bigquery.SchemaField("r", "RECORD", fields=[bigquery.SchemaField("x", "STRING")])])
    table.time_partitioning = bigquery.TimePartitioning(field="d")
    table.clustering_fields = ["d"]
    table.labels = {"k": "v"}
    client.create_table(table, retry=None)
    base = f"/bigquery/v2/projects/{PROJECT}/datasets"
    _check("bigquery", "Dataset", raw(emulator, "bigquery", "GET", base + "/ds").json())
    _check("bigquery", "DatasetList", raw(emulator, "bigquery", "GET", base).json())
    _check("bigquery", "Table", raw(emulator, "bigquery", "GET", base + "/ds/tables/t").json())
    _check("bigquery", "TableList", raw(emulator, "bigquery", "GET", base + "/ds/tables").json())
