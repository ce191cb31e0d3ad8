"""The ``serviceusage.Service`` kind: an API enabled in a project.

| field              | notes                                                              |
|--------------------|--------------------------------------------------------------------|
| ``name``           | the API, e.g. ``compute.googleapis.com`` (defaults to the address)  |
| ``disableOnRemoval`` | ``true``: removing it from the spec disables the API; default: the API stays enabled (abandoned) |

Identity ``projects/PROJECT/services/API``, listed per project (``state:ENABLED``).
Creating it enables the API and waits for the operation. An API belongs to the project, not
to a stack (``shared``): one already enabled before this stack first applied it is recorded
as pre-existing, never "adopted", and removing it from the spec leaves it enabled even with
``disableOnRemoval``. Every resource whose kind needs this API in the same project is
ordered after it (it ``provides`` the ``api:PROJECT/NAME`` capability). ``disableOnRemoval`` is
one of the kind's ``local_fields``: kept in the desired state (so the ledger remembers it),
never sent to the API nor compared with it, so the listing alone says what is enabled.
Outputs: ``name`` (the API), ``id`` (the full name).

Moving in: ``google_project_service`` and live enabled APIs. The provider's
``disable_on_destroy`` (``true`` unless set) is not carried over: an imported API stays enabled
when it leaves the spec unless the entry says ``disableOnRemoval: true``. The APIs Google
enables in every new project are left out of live imports.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mlops_infra.engine import errors
from mlops_infra.engine.kind import (
    Imported,
    ImportedList,
    Kind,
    Removal,
    ResourceContext,
    ResourceId,
    api_capability,
)
from mlops_infra.engine.registry import register
from mlops_infra.engine.waiting import wait_until_done
from mlops_infra.kinds._base import CALL, FieldChanges, SpecModel, translate_errors
from mlops_infra.kinds._clients import SERVICE_USAGE
from mlops_infra.kinds._names import api_name_problem

_FLAG = "disableOnRemoval"
OPERATION_DEADLINE = 300.0
# "Services enabled by default" in a new project:
# https://cloud.google.com/service-usage/docs/enabled-service#default
DEFAULT_ENABLED = frozenset({
    "analyticshub.googleapis.com", "apptopology.googleapis.com", "bigquery.googleapis.com",
    "bigqueryconnection.googleapis.com", "bigquerydatapolicy.googleapis.com",
    "bigquerydatatransfer.googleapis.com", "bigquerymigration.googleapis.com",
    "bigqueryreservation.googleapis.com", "bigquerystorage.googleapis.com",
    "cloudapis.googleapis.com", "cloudtrace.googleapis.com", "datastore.googleapis.com",
    "dataform.googleapis.com", "dataplex.googleapis.com", "logging.googleapis.com",
    "monitoring.googleapis.com", "servicemanagement.googleapis.com",
    "serviceusage.googleapis.com", "sql-component.googleapis.com",
    "storage-api.googleapis.com", "storage-component.googleapis.com", "storage.googleapis.com",
})


class ServiceSpec(SpecModel):
    """An API to enable; ``name`` (the API) is the resource name."""

    disableOnRemoval: bool | None = None


def api_name(ctx: ResourceContext) -> str:
    problem = api_name_problem(ctx.name)
    if problem:
        raise errors.SpecError(problem, field=f"{ctx.address}.name")
    return ctx.name


@register
class Service(Kind):
    """An enabled Google API."""

    name = "serviceusage.Service"
    name_pattern = "projects/*/services/*"
    layer = "Security"
    model = ServiceSpec
    uses = (SERVICE_USAGE,)
    outputs = frozenset({"name", "id"})
    labels_path = None
    shared = True
    local_fields = frozenset({_FLAG})   # ours: the ledger remembers it, the API never sees it
    terraform_types = ("google_project_service",)

    def from_terraform(self, tf_type: str, attributes: Mapping[str, Any]) -> ImportedList:
        return [Imported(name=str(attributes["service"]), project=attributes.get("project"),
                         fields={})]

    def from_live(self, name: str, live: dict[str, Any]) -> ImportedList:
        return [Imported(name=name.rsplit("/", 1)[-1], project=name.split("/")[1], fields={})]

    def google_managed(self, name: str, live: dict[str, Any]) -> str | None:
        if name.rsplit("/", 1)[-1] in DEFAULT_ENABLED:
            return "Google enables it in every new project"
        return None

    def provides(self, ctx: ResourceContext, fields: dict[str, Any]) -> frozenset[str]:
        return frozenset({api_capability(ctx.project, ctx.name)})

    def check_name(self, ctx: ResourceContext, fields: dict[str, Any]) -> str | None:
        return api_name_problem(ctx.name)

    def removal(self, applied: dict[str, Any], *, allow_data_loss: bool) -> Removal:
        return "delete" if applied.get(_FLAG) else "abandon"

    def identify(self, ctx: ResourceContext, fields: dict[str, Any]) -> ResourceId:
        api = api_name(ctx)
        parts = {"projects": ctx.project, "services": api}
        return ResourceId(kind=self.name, name=f"projects/{ctx.project}/services/{api}",
                          scope=f"projects/{ctx.project}", parts=parts)

    def desired(self, ctx: ResourceContext, fields: dict[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = {"state": "ENABLED"}
        if _FLAG in fields:
            body[_FLAG] = bool(fields[_FLAG])
        return body

    def outputs_of(self, rid: ResourceId, live: dict[str, Any] | None) -> dict[str, Any]:
        return {"name": rid.parts["services"], "id": rid.name}

    # --- reads ---
    def list(self, scope: str) -> dict[str, dict[str, Any]]:
        with translate_errors(f"services of {scope}"):
            pages = self.clients.get(SERVICE_USAGE).list_services(
                request={"parent": scope, "filter": "state:ENABLED"}, **CALL)
            return {s.name: _as_dict(s) for s in pages}

    def get(self, rid: ResourceId) -> dict[str, Any] | None:
        with translate_errors(f"service {rid.name}"):
            live = _as_dict(self.clients.get(SERVICE_USAGE).get_service(
                request={"name": rid.name}, **CALL))
        return live if live.get("state") == "ENABLED" else None

    # --- writes ---
    def create(self, rid: ResourceId, desired: dict[str, Any]) -> dict[str, Any]:
        client = self.clients.get(SERVICE_USAGE)
        with translate_errors(f"enabling {rid.name}"):
            op = client.enable_service(request={"name": rid.name}, **CALL)
        done = self._wait(op.operation, what=f"enabling {rid.name}")
        live = _enabled_service(done)      # the operation's response is the service: no GET
        if live is None:
            live = self.get(rid)
        if live is None:
            raise errors.TransientError(f"{rid.name}: enabled, but not reported enabled yet")
        return live

    def update(self, rid: ResourceId, desired: dict[str, Any], changes: FieldChanges,
               live: dict[str, Any]) -> dict[str, Any]:
        return self.get(rid) or self.create(rid, desired)   # nothing on the API to change

    def delete(self, rid: ResourceId, *, force: bool) -> None:
        client = self.clients.get(SERVICE_USAGE)
        with translate_errors(f"disabling {rid.name}"):
            op = client.disable_service(request={"name": rid.name}, **CALL)
        self._wait(op.operation, what=f"disabling {rid.name}")

    def _wait(self, operation: Any, *, what: str) -> Any:
        """Poll the operation (without the client's own retries) until it is done."""
        ops = self.clients.get(SERVICE_USAGE).transport.operations_client

        def poll() -> Any:
            if operation.done:
                return operation
            try:
                with translate_errors(what):
                    fresh = ops.get_operation(operation.name, **CALL)
            except errors.TransientError:
                return None     # a blip while polling: poll again until the deadline
            return fresh if fresh.done else None

        done = wait_until_done(poll, what=what, deadline=OPERATION_DEADLINE)
        if done.HasField("error") and done.error.code:
            raise errors.PermanentError(f"{what}: {done.error.message} (code {done.error.code})")
        return done


def _enabled_service(operation: Any) -> dict[str, Any] | None:
    """The service an enable operation's response carries (``EnableServiceResponse``,
    serviceusage v1 discovery), when it says ENABLED."""
    from google.cloud import service_usage_v1

    if not operation.HasField("response"):
        return None
    response = service_usage_v1.EnableServiceResponse.deserialize(operation.response.value)
    live = _as_dict(response.service)
    return live if live.get("state") == "ENABLED" else None


def _as_dict(service: Any) -> dict[str, Any]:
    data: dict[str, Any] = type(service).to_dict(service, use_integers_for_enums=False,
                                                 preserving_proto_field_name=False)
    return data
