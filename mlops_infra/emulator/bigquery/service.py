"""The BigQuery service: dataset and table routes and the state they act on.

Datasets: access normalisation and ``accessPolicyVersion`` as in ``datasets.py``; the creator
(the emulator's caller, ``Platform.caller``) is a new dataset's OWNER. A dataset created or
changed with a default KMS key needs the project's BigQuery encryption service agent to hold
``roles/cloudkms.cryptoKeyEncrypterDecrypter`` on it, granted long enough ago to have
propagated (checked with the KMS service when it runs), else Google's 403 "Access Denied:
BigQuery BigQuery: Cloud KMS Error: Permission 'cloudkms.cryptoKeyVersions.useToEncrypt'
denied..." (terraform-google-modules/terraform-docs-samples#334).

State (JSON): ``projects`` project -> dataset id -> {dataset, tables: table id -> table};
``sequence`` feeds etags so that every write changes them.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from typing import Any

from mlops_infra.emulator.bigquery import datasets, tables
from mlops_infra.emulator.bigquery.common import (
    body_object,
    check_if_match,
    duplicate,
    not_found,
    stamp,
)
from mlops_infra.emulator.core import HttpError, Request, Response, Route, Service
from mlops_infra.emulator.util import bool_param, int_param, page

DS = "/bigquery/v2/projects/{projectId}/datasets"
TB = DS + "/{datasetId}/tables"


class BigQueryService(Service):
    """Datasets and tables of the BigQuery API v2."""

    name = "bigquery"
    api = "bigquery.googleapis.com"
    api_title = "BigQuery API"

    def project_of(self, request: Request) -> str | None:
        return request.params.get("projectId")

    def initial_state(self) -> dict[str, Any]:
        return {"projects": {}, "sequence": 0}

    def routes(self) -> list[Route]:
        return [
            Route("GET", DS, self.list_datasets),
            Route("POST", DS, self.insert_dataset),
            Route("GET", DS + "/{datasetId}", self.get_dataset),
            Route("PATCH", DS + "/{datasetId}", self.patch_dataset),
            Route("PUT", DS + "/{datasetId}", self.update_dataset),
            Route("DELETE", DS + "/{datasetId}", self.delete_dataset),
            Route("GET", TB, self.list_tables),
            Route("POST", TB, self.insert_table),
            Route("GET", TB + "/{tableId}", self.get_table),
            Route("PATCH", TB + "/{tableId}", self.patch_table),
            Route("PUT", TB + "/{tableId}", self.update_table),
            Route("DELETE", TB + "/{tableId}", self.delete_table),
            Route("GET", "/bigquery/v2/projects/{projectId}/serviceAccount", _service_agent),
        ]

    # -- datasets -----------------------------------------------------------------------
    def list_datasets(self, request: Request) -> dict[str, Any]:
        project = request.params["projectId"]
        show_all = bool_param(request.query, "all")
        wanted = _label_filter(request.query.get("filter", ""))
        found = [entry["dataset"] for entry in self.state["projects"].get(project, {}).values()
                 if (show_all or not entry["dataset"]["datasetReference"]["datasetId"]
                     .startswith("_")) and wanted(entry["dataset"])]
        chosen, token = page(found, key=lambda d: d["datasetReference"]["datasetId"],
                             max_results=int_param(request.query, "maxResults"),
                             token=request.query.get("pageToken"), default_size=50)
        result: dict[str, Any] = {"kind": "bigquery#datasetList", "etag": _list_etag(chosen)}
        if chosen:
            result["datasets"] = [datasets.list_item(d) for d in chosen]
        if token:
            result["nextPageToken"] = token
        return result

    def insert_dataset(self, request: Request) -> dict[str, Any]:
        project = request.params["projectId"]
        body = body_object(request)
        dataset_id = datasets.validate_reference(body, project=project)
        datasets.check_access_version(_access_version(request), wanted=body.get("access"),
                                      current=None)
        datasets_of_project = self.state["projects"].setdefault(project, {})
        if dataset_id in datasets_of_project:
            raise duplicate(f"Dataset {project}:{dataset_id}")
        dataset = datasets.new_dataset(body, project=project, dataset_id=dataset_id,
                                       base_url=request.base_url, creator=self._caller())
        self._check_kms_key(project, dataset)
        dataset = self._stamp(dataset, created=True)
        datasets_of_project[dataset_id] = {"dataset": dataset, "tables": {}}
        return datasets.render_access(dataset, _access_version(request))

    def get_dataset(self, request: Request) -> dict[str, Any]:
        return datasets.render_access(self._dataset_entry(request)["dataset"],
                                      _access_version(request))

    def patch_dataset(self, request: Request) -> dict[str, Any]:
        return self._change_dataset(request, datasets.patch_dataset)

    def update_dataset(self, request: Request) -> dict[str, Any]:
        return self._change_dataset(request, datasets.update_dataset)

    def _change_dataset(self, request: Request, change: Callable[..., dict[str, Any]]
                        ) -> dict[str, Any]:
        entry = self._dataset_entry(request)
        check_if_match(request, entry["dataset"])
        body = body_object(request)
        if "access" in body:
            datasets.check_access_version(_access_version(request), wanted=body.get("access"),
                                          current=entry["dataset"].get("access"))
        changed = change(entry["dataset"], body)
        if _kms_key(changed) != _kms_key(entry["dataset"]):
            self._check_kms_key(request.params["projectId"], changed)
        entry["dataset"] = self._stamp(changed, created=False)
        return datasets.render_access(entry["dataset"], _access_version(request))

    def delete_dataset(self, request: Request) -> Response:
        entry = self._dataset_entry(request)
        if entry["tables"] and not bool_param(request.query, "deleteContents"):
            raise HttpError(400, f"Dataset {entry['dataset']['id']} is still in use",
                            reason="resourceInUse")
        del self.state["projects"][request.params["projectId"]][request.params["datasetId"]]
        return Response.no_content()

    # -- tables -------------------------------------------------------------------------
    def list_tables(self, request: Request) -> dict[str, Any]:
        entry = self._dataset_entry(request)
        found = list(entry["tables"].values())
        chosen, token = page(found, key=lambda t: t["tableReference"]["tableId"],
                             max_results=int_param(request.query, "maxResults"),
                             token=request.query.get("pageToken"), default_size=50)
        result: dict[str, Any] = {"kind": "bigquery#tableList", "etag": _list_etag(chosen),
                                  "totalItems": len(found)}
        if chosen:
            result["tables"] = [tables.list_item(t) for t in chosen]
        if token:
            result["nextPageToken"] = token
        return result

    def insert_table(self, request: Request) -> dict[str, Any]:
        entry = self._dataset_entry(request)
        body = body_object(request)
        table_id = tables.validate_reference(body, project=request.params["projectId"],
                                             dataset_id=request.params["datasetId"])
        if table_id in entry["tables"]:
            raise duplicate(f"Table {entry['dataset']['id']}.{table_id}")
        table = self._stamp(tables.new_table(body, dataset=entry["dataset"], table_id=table_id,
                                             base_url=request.base_url), created=True)
        entry["tables"][table_id] = table
        return table

    def get_table(self, request: Request) -> dict[str, Any]:
        return self._table(request)

    def patch_table(self, request: Request) -> dict[str, Any]:
        return self._change_table(request, tables.patch_table)

    def update_table(self, request: Request) -> dict[str, Any]:
        return self._change_table(request, tables.update_table)

    def _change_table(self, request: Request, change: Callable[..., dict[str, Any]]
                      ) -> dict[str, Any]:
        current = self._table(request)
        check_if_match(request, current)
        table = self._stamp(change(current, body_object(request)), created=False)
        self._dataset_entry(request)["tables"][request.params["tableId"]] = table
        return table

    def delete_table(self, request: Request) -> Response:
        self._table(request)
        del self._dataset_entry(request)["tables"][request.params["tableId"]]
        return Response.no_content()

    # -- helpers ------------------------------------------------------------------------
    def _dataset_entry(self, request: Request) -> dict[str, Any]:
        project, dataset_id = request.params["projectId"], request.params["datasetId"]
        entry = self.state["projects"].get(project, {}).get(dataset_id)
        if entry is None:
            raise not_found(f"Dataset {project}:{dataset_id}")
        return entry

    def _table(self, request: Request) -> dict[str, Any]:
        entry = self._dataset_entry(request)
        table = entry["tables"].get(request.params["tableId"])
        if table is None:
            raise not_found(f"Table {entry['dataset']['id']}.{request.params['tableId']}")
        return table

    def _caller(self) -> str:
        return self.emulator.platform.caller if self.emulator is not None else "owner@example.com"

    def _check_kms_key(self, project: str, dataset: dict[str, Any]) -> None:
        key = _kms_key(dataset)
        kms = self.emulator.services.get("kms") if self.emulator is not None else None
        if not key or kms is None:
            return
        agent = _agent_email(project)
        if kms.key_use_error(key, f"serviceAccount:{agent}"):
            raise HttpError(403, "Access Denied: BigQuery BigQuery: Cloud KMS Error: Permission "
                                 f"'cloudkms.cryptoKeyVersions.useToEncrypt' denied on resource "
                                 f"'{key}' (or it may not exist). Please grant Cloud KMS "
                                 "CryptoKey Encrypter/Decrypter role to BigQuery service "
                                 f"account: {agent}", reason="accessDenied")

    def _stamp(self, resource: dict[str, Any], *, created: bool) -> dict[str, Any]:
        self.state["sequence"] += 1
        return stamp(resource, sequence=self.state["sequence"], created=created)


def _label_filter(expression: str) -> Callable[[dict[str, Any]], bool]:
    """``labels.KEY`` / ``labels.KEY:VALUE`` terms, space-separated, all must hold."""
    terms = []
    for term in expression.split():
        if not term.startswith("labels."):
            raise HttpError(400, f"Invalid filter: {term}", reason="invalid")
        key, _, value = term[len("labels."):].partition(":")
        terms.append((key, value or None))

    def matches(dataset: dict[str, Any]) -> bool:
        labels = dataset.get("labels") or {}
        return all(key in labels and (value is None or labels[key] == value)
                   for key, value in terms)

    return matches


def _list_etag(items: list[dict[str, Any]]) -> str:
    digest = hashlib.md5(json.dumps([i.get("etag") for i in items]).encode()).digest()
    return base64.b64encode(digest).decode()


def _service_agent(request: Request) -> dict[str, Any]:
    """The project's BigQuery encryption service agent (the identity that uses CMEK keys)."""
    return {"kind": "bigquery#getServiceAccountResponse",
            "email": _agent_email(request.params["projectId"])}


def _agent_email(project: str) -> str:
    from mlops_infra.emulator.projects import project_number

    return f"bq-{project_number(project)}@bigquery-encryption.iam.gserviceaccount.com"


def _kms_key(dataset: dict[str, Any]) -> str | None:
    return (dataset.get("defaultEncryptionConfiguration") or {}).get("kmsKeyName")


def _access_version(request: Request) -> int:
    return int_param(request.query, "accessPolicyVersion") or 0
