"""Toy kinds for the spec tests: the real kinds live in mlops_infra.kinds and are not needed here."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict, Field

from mlops_infra.spec import KindSchema

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "specs"


class Versioning(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool


class ToyBucket(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    location: str = "US"
    storage_class: str | None = Field(default=None, alias="storageClass")
    labels: dict[str, str] = {}
    versioning: Versioning | None = None
    retention_days: int | None = Field(default=None, alias="retentionDays")
    tags: list[str] = []


class ToyDataset(BaseModel):
    model_config = ConfigDict(extra="forbid")
    location: str | None = None
    description: str | None = None


class Column(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    type: str = "STRING"


class ToyTable(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    dataset: str
    columns: list[Column] = []
    expiration_ms: int | None = Field(default=None, alias="expirationMs")


TOY_KINDS = {
    "test.Bucket": KindSchema(model=ToyBucket, outputs=frozenset({"url", "name"})),
    "test.Dataset": KindSchema(model=ToyDataset, outputs=frozenset({"name", "id"})),
    "test.Table": KindSchema(model=ToyTable, outputs=frozenset({"name", "id"})),
}


@pytest.fixture
def kinds() -> dict[str, KindSchema]:
    return dict(TOY_KINDS)


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES
