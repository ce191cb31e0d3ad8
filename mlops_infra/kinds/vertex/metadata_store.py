"""``vertex.MetadataStore``: the Vertex AI metadata store that experiment and lineage tracking
write to (``MetadataServiceClient``).

| field | notes |
|---|---|
| (the resource name) | the store id: 4-128 of ``a-z`` and ``-``; Vertex AI Experiments and Pipelines use ``default`` |
| ``region`` | default: the spec's region |
| ``description`` | |
| ``kmsKeyName`` | shorthand for ``encryptionSpec.kmsKeyName``: a key in its region (the Vertex AI service agent is granted it) |

The API has **no update method** (research/clients.md section e; magic-modules
MetadataStore.yaml: ``immutable: true``), so any change replaces the store, and deleting it
loses every artifact, execution and context recorded in it: it is data-bearing, so a replace
or delete needs ``allowDataLoss``. It has no labels: a store this stack creates is proven
its own by the create intent its ledger records first. Identity
``projects/P/locations/R/metadataStores/ID``; outputs ``id``, ``name``.

Moving in: ``google_vertex_ai_metadata_store`` (magic-modules MetadataStore.yaml: ``name``,
``region``, ``description``, ``encryption_spec.kms_key_name``). From a live project
(``import live``): ``description`` and the key. Vertex AI creates the ``default`` store by
itself the first time a project runs a pipeline or creates an experiment ("The first time you
run a PipelineJob or create an experiment in the Vertex SDK, Vertex AI creates your project's
MetadataStore": https://cloud.google.com/vertex-ai/docs/ml-metadata/configure; "If the
default Metadata Store doesn't exist, it's created when you run the first PipelineJob or
create your first experiment":
https://docs.cloud.google.com/gemini-enterprise-agent-platform/machine-learning/experiments/setup).
It is still imported: Google does not manage it afterwards (no update method, nothing
recreates or changes it while it exists), it holds the experiments and lineage the user
relies on, and Terraform setups manage it too (``google_vertex_ai_metadata_store`` named
``default``, to give it a CMEK key). Being data-bearing, removing it from the spec never
deletes it without ``allowDataLoss``; the import says so in a note.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from pydantic import model_validator

from mlops_infra.engine import errors
from mlops_infra.engine.kind import ImportedList, ResourceContext, ResourceId
from mlops_infra.engine.registry import register
from mlops_infra.kinds._base import FieldChanges, SpecModel
from mlops_infra.kinds._names import CryptoKeyName, Region, metadata_store_id_problem
from mlops_infra.kinds.vertex._common import (
    EncryptionSpec,
    VertexKind,
    encryption_of,
    key_region_problem,
    region_of,
)

DEFAULT_STORE_NOTE = ("the project's default store (Vertex AI made it on the first pipeline run or "
                      "experiment; Experiments and Pipelines record into it): owned from now on, "
                      "never deleted without allowDataLoss")


class MetadataStoreSpec(SpecModel):
    """A Vertex AI metadata store (every field is immutable)."""

    region: Region | None = None
    description: str | None = None
    encryptionSpec: EncryptionSpec | None = None
    kmsKeyName: CryptoKeyName | None = None

    @model_validator(mode="after")
    def _one_key(self) -> MetadataStoreSpec:
        if self.kmsKeyName and self.encryptionSpec:
            raise ValueError("'kmsKeyName' is a shorthand for 'encryptionSpec.kmsKeyName': write one")
        return self


@register
class MetadataStore(VertexKind):
    """A Vertex AI metadata store: no update method, every change is a replace."""

    name = "vertex.MetadataStore"
    name_pattern = "projects/*/locations/*/metadataStores/*"
    model = MetadataStoreSpec
    outputs = frozenset({"id", "name"})
    labels_path = None
    data_bearing = True
    loss = "it holds every tracked experiment, artifact, execution and lineage record"
    client_class = "MetadataServiceClient"
    collection = "metadataStores"
    noun = "metadata_store"
    message = "MetadataStore"
    terraform_types = ("google_vertex_ai_metadata_store",)
    terraform_refs = {"kmsKeyName": "id"}
    terraform_known = ("description",)

    def terraform_fields(self, attributes: Mapping[str, Any]) -> dict[str, Any]:
        return {"description": attributes["description"]} if attributes.get("description") else {}

    live_known = frozenset({"description"})

    def live_fields(self, live: dict[str, Any], notes: list[str]) -> dict[str, Any]:
        return {"description": live["description"]} if live.get("description") else {}

    def from_live(self, name: str, live: dict[str, Any]) -> ImportedList:
        items = super().from_live(name, live)
        if name.endswith("/metadataStores/default"):
            items[0] = replace(items[0], notes=(*items[0].notes, DEFAULT_STORE_NOTE))
        return items

    def check_name(self, ctx: ResourceContext, fields: dict[str, Any]) -> str | None:
        return metadata_store_id_problem(ctx.name) or key_region_problem(fields, region_of(ctx, fields))

    def identify(self, ctx: ResourceContext, fields: dict[str, Any]) -> ResourceId:
        region = region_of(ctx, fields)
        return self.id_from_name(f"projects/{ctx.project}/locations/{region}/metadataStores/{ctx.name}")

    def desired(self, ctx: ResourceContext, fields: dict[str, Any]) -> dict[str, Any]:
        body = {"description": fields["description"]} if "description" in fields else {}
        return {**body, **encryption_of(fields)}

    def replace_reason(self, changes: FieldChanges) -> str | None:
        touched = ", ".join(sorted({c.path for c in changes}))
        return f"a metadata store has no update method ({touched})" if changes else None

    def holds_data(self, rid: ResourceId) -> bool:
        """Whatever was tracked in it is lost with it; a store that exists may hold some."""
        return self.get(rid) is not None

    def create_request(self, rid: ResourceId, body: dict[str, Any],
                       desired: dict[str, Any]) -> dict[str, Any]:
        return {**super().create_request(rid, body, desired),
                "metadata_store_id": rid.parts["metadataStores"]}

    def update(self, rid: ResourceId, desired: dict[str, Any], changes: FieldChanges,
               live: dict[str, Any]) -> dict[str, Any]:
        raise errors.PermanentError(f"{rid.name}: a metadata store cannot be updated (replace it)")
