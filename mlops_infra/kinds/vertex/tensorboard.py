"""``vertex.Tensorboard``: a Vertex AI TensorBoard instance (``TensorboardServiceClient``).

| field | notes |
|---|---|
| ``region`` | default: the spec's region |
| ``displayName`` | default: the resource name (the API requires one) |
| ``description``, ``labels`` | updated in place (PATCH with an update mask; an operation) |
| ``kmsKeyName`` | shorthand for ``encryptionSpec.kmsKeyName``: a key in its region (the Vertex AI service agent is granted it); immutable |

Always **server-named**: CreateTensorboardRequest has no id, the server answers a 19-digit one
(research/clients.md section e). So the engine finds it again by its ownership labels
(``mlops-infra-address``) before every create, and a create whose response was lost never
makes a second one; its name is recorded in the ledger. Identity
``projects/P/locations/R/tensorboards/ID`` (the project id, though the API answers the
number). Data-bearing: a Tensorboard that holds runs (``runCount`` > 0) is only deleted or
replaced with ``allowDataLoss``. Outputs (after creation): ``id`` (the full name), ``name``
(the numeric id). Sources: aiplatform v1 discovery ``Tensorboard``; magic-modules
Tensorboard.yaml (``encryptionSpec`` immutable, update mask).

Moving in: ``google_vertex_ai_tensorboard`` (magic-modules Tensorboard.yaml: ``name`` is the
server's numeric id, ``display_name`` required, ``description``, ``labels``,
``encryption_spec.kms_key_name``); its full name goes into the ledger, which is how the
imported Tensorboard is found again (it has no ownership labels yet). From a live project
(``import live``): ``displayName``, ``description``, ``labels`` and the key, read back; its
full name goes into the ledger the same way. A Tensorboard the Vertex AI SDK made as an
experiment's default ("If no experiment_tensorboard is provided, a default TB instance is
created": https://cloud.google.com/vertex-ai/docs/experiments/create-experiment) holds the
user's runs, so it is imported like any other; its ``isDefault`` is noted (no field here).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field, field_validator, model_validator

from mlops_infra.engine import paths
from mlops_infra.engine.kind import ResourceContext, ResourceId
from mlops_infra.engine.registry import register
from mlops_infra.kinds._base import FieldChanges, SpecModel, check_labels
from mlops_infra.kinds._names import CryptoKeyName, Region
from mlops_infra.kinds.vertex._common import (
    EncryptionSpec,
    VertexKind,
    encryption_of,
    key_region_problem,
    labels_from_terraform,
    live_labels,
    merged_labels,
    region_of,
)


class TensorboardSpec(SpecModel):
    """A Vertex AI TensorBoard instance (REST field names, plus ``kmsKeyName``)."""

    region: Region | None = None
    displayName: str | None = Field(default=None, max_length=128)
    description: str | None = None
    labels: dict[str, str] | None = None
    encryptionSpec: EncryptionSpec | None = None
    kmsKeyName: CryptoKeyName | None = None

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        return check_labels(value)

    @model_validator(mode="after")
    def _one_key(self) -> TensorboardSpec:
        if self.kmsKeyName and self.encryptionSpec:
            raise ValueError("'kmsKeyName' is a shorthand for 'encryptionSpec.kmsKeyName': write one")
        return self


@register
class Tensorboard(VertexKind):
    """A Vertex AI TensorBoard instance (always named by the server)."""

    name = "vertex.Tensorboard"
    name_pattern = "projects/*/locations/*/tensorboards/*"
    model = TensorboardSpec
    naming = "server"
    outputs = frozenset({"id", "name"})
    immutable = frozenset({"encryptionSpec"})
    data_bearing = True
    loss = "it holds experiment runs (their scalars, tensors and blobs)"
    client_class = "TensorboardServiceClient"
    collection = "tensorboards"
    noun = "tensorboard"
    message = "Tensorboard"
    terraform_types = ("google_vertex_ai_tensorboard",)
    terraform_refs = {"kmsKeyName": "id"}
    terraform_known = ("display_name", "description", "labels", "terraform_labels",
                       "effective_labels", "blob_storage_path_prefix", "run_count")

    def terraform_fields(self, attributes: Mapping[str, Any]) -> dict[str, Any]:
        fields = {k: attributes[a] for a, k in (("display_name", "displayName"),
                                                 ("description", "description"))
                  if attributes.get(a)}
        labels_from_terraform(attributes, fields)
        return fields

    live_known = frozenset({"displayName", "description", "blobStoragePathPrefix", "runCount",
                            "isDefault"})

    def live_fields(self, live: dict[str, Any], notes: list[str]) -> dict[str, Any]:
        fields = {k: live[k] for k in ("displayName", "description") if live.get(k)}
        live_labels(live, fields)
        if live.get("isDefault"):
            notes.append("isDefault: true (the Tensorboard experiments use when they name none) "
                         "has no field here: left as it is")
        return fields

    def check_name(self, ctx: ResourceContext, fields: dict[str, Any]) -> str | None:
        return key_region_problem(fields, region_of(ctx, fields))

    def identify(self, ctx: ResourceContext, fields: dict[str, Any]) -> ResourceId:
        region = region_of(ctx, fields)
        return ResourceId(kind=self.name, name="", scope=f"projects/{ctx.project}/locations/{region}",
                          parts={"projects": ctx.project, "locations": region})

    def desired(self, ctx: ResourceContext, fields: dict[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = {"displayName": fields.get("displayName") or ctx.name}
        for key in ("description", "labels"):
            if key in fields:
                body[key] = fields[key]
        return {**body, **encryption_of(fields)}

    def holds_data(self, rid: ResourceId) -> bool:
        live = self.get(rid) if rid.name else None
        return bool(live and int(live.get("runCount") or 0) > 0)

    def update(self, rid: ResourceId, desired: dict[str, Any], changes: FieldChanges,
               live: dict[str, Any]) -> dict[str, Any]:
        mask = sorted({paths.split(c.path)[0] for c in changes})
        body = {key: desired.get(key) for key in mask}
        if "labels" in mask:
            body["labels"] = merged_labels(desired, changes, live)
        return self.update_with_mask(rid, body, mask, long_running=True)
