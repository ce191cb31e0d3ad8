"""Unit tests of kinds/bigquery/schema.py: canonical columns and in-place compatibility."""

from __future__ import annotations

import pytest

from mlops_infra.kinds.bigquery.schema import canonical_fields, incompatibility


def col(name: str, type_: str = "STRING", mode: str = "NULLABLE", **extra: object) -> dict:
    return {"name": name, "type": type_, "mode": mode, **extra}


def test_canonical_resolves_aliases_fills_mode_and_drops_server_keys() -> None:
    written = [{"name": "id", "type": "int64"},
               {"name": "s", "type": "struct", "mode": "repeated",
                "fields": [{"name": "f", "type": "FLOAT64"}, {"name": "b", "type": "bool"}]},
               {"name": "c", "type": "STRING", "maxLength": 10}]
    live = [{"name": "id", "type": "INTEGER", "mode": "NULLABLE", "policyTags": {}},
            {"name": "s", "type": "RECORD", "mode": "REPEATED",
             "fields": [{"name": "f", "type": "FLOAT"}, {"name": "b", "type": "BOOLEAN",
                                                          "mode": "NULLABLE"}]},
            {"name": "c", "type": "STRING", "maxLength": "10"}]
    assert canonical_fields(written) == canonical_fields(live)
    assert canonical_fields(written)[0] == col("id", "INTEGER")


OLD = [col("id", "INTEGER", "REQUIRED"), col("name"),
       col("rec", "RECORD", fields=[col("x", "INTEGER")])]


@pytest.mark.parametrize("new", [
    OLD + [col("extra")],                                        # append NULLABLE
    OLD + [col("tags", mode="REPEATED")],                        # append REPEATED
    [col("id", "INTEGER", "NULLABLE")] + OLD[1:],                # relax REQUIRED
    OLD[:2] + [col("rec", "RECORD", fields=[col("x", "INTEGER"), col("y")])],  # nested append
    [dict(c, description="doc") for c in OLD],                   # descriptions only
])
def test_in_place_changes(new: list[dict]) -> None:
    assert incompatibility(OLD, new) is None


@pytest.mark.parametrize("new, words", [
    (OLD[1:], "column id dropped"),
    ([col("ident", "INTEGER", "REQUIRED")] + OLD[1:], "column id dropped or renamed"),
    ([col("id", "STRING", "REQUIRED")] + OLD[1:], "type INTEGER -> STRING"),
    ([col("id", "INTEGER", "REQUIRED"), col("name", mode="REQUIRED"), OLD[2]], "NULLABLE -> REQUIRED"),
    (OLD + [col("must", mode="REQUIRED")], "new column must is REQUIRED"),
    (OLD[:2] + [col("rec", "RECORD", fields=[col("x", "STRING")])], "rec.x type"),
    (OLD[:2] + [col("rec", "RECORD", fields=[col("z")])], "rec.x dropped"),
])
def test_changes_needing_replace(new: list[dict], words: str) -> None:
    problem = incompatibility(OLD, new)
    assert problem is not None and words in problem
