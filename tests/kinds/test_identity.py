"""A ResourceId rebuilt from its name (ledger entries gone from the spec) equals identify()'s."""

from __future__ import annotations

from typing import Any

import pytest

from mlops_infra.engine.kind import Kind
from mlops_infra.kinds.bigquery.dataset import Dataset
from mlops_infra.kinds.bigquery.table import Table
from mlops_infra.kinds.storage.bucket import Bucket
from tests.kinds.kinds_testlib import ctx


@pytest.mark.parametrize("kind_cls, name, fields", [
    (Bucket, "demo-raw", {}), (Dataset, "features", {}), (Table, "events", {"dataset": "features"}),
])
def test_id_from_name_round_trips(kind_cls: type[Kind], name: str, fields: dict[str, Any]) -> None:
    kind = kind_cls(None)
    rid = kind.identify(ctx(name), fields)
    rebuilt = kind.id_from_name(rid.name)
    assert (rebuilt, rebuilt.scope, rebuilt.parts) == (rid, rid.scope, rid.parts)
    assert kind.outputs_of(rebuilt, None) == kind.outputs_of(rid, None)
