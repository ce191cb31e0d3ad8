"""Sinks and project exclusions of ``ConfigServiceV2``.

Sinks:

| behaviour | source |
|---|---|
| sink ids: at most 100 of letters, digits, ``_``, ``-``, ``.``, starting with a letter or digit | logging_config.proto ``LogSink.name`` |
| destinations ``storage.googleapis.com/BUCKET``, ``bigquery.googleapis.com/projects/P/datasets/D``, ``pubsub.googleapis.com/projects/P/topics/T``, ``logging.googleapis.com/projects/P/locations/L/buckets/B`` (or ``.../projects/P``) | logging_config.proto ``LogSink.destination`` |
| ``writerIdentity``: with ``uniqueWriterIdentity`` the project's Logging service account ``serviceAccount:service-NUMBER@gcp-sa-logging.iam.gserviceaccount.com``, without it the legacy shared ``serviceAccount:cloud-logs@system.gserviceaccount.com``; none for a log bucket of the sink's own project | logging_config.proto ``writer_identity``, ``CreateSinkRequest.unique_writer_identity``; https://cloud.google.com/logging/docs/routing/user-managed-service-accounts ("By default, Logging uses a Logging service account for all sinks in a resource") |
| update: the mask's fields; an empty mask means ``destination,filter,includeChildren``; ``uniqueWriterIdentity`` false after true is an error, false to true makes the identity unique | logging_config.proto ``UpdateSinkRequest`` |
| sink exclusions: at most 50, each with a name and a filter | logging_config.proto ``LogSink.exclusions``, ``LogExclusion`` |
| every project has the sinks ``_Required`` (the Admin Activity, System Event and Access Transparency audit logs, to the ``_Required`` bucket) and ``_Default`` (everything else, to the ``_Default`` bucket); ``_Required`` cannot be changed or deleted | https://cloud.google.com/logging/docs/export ("Cloud Logging provides two predefined log sinks for each Google Cloud project: _Required and _Default"); https://cloud.google.com/logging/docs/routing/overview (the sinks' filters; "You can't modify or delete the _Required sink") |

Project exclusions (``projects/P/exclusions/E``): a name and a filter are required; an update
needs a mask (logging_config.proto ``UpdateExclusionRequest.update_mask`` REQUIRED).
"""

from __future__ import annotations

import re
from typing import Any

from google.cloud.logging_v2.types import logging_config
from google.protobuf import empty_pb2

from mlops_infra.emulator.logging import common

SINK_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
DESTINATION = re.compile(
    r"^(storage\.googleapis\.com/[a-z0-9][a-z0-9_.-]{1,221}[a-z0-9]"
    r"|bigquery\.googleapis\.com/projects/[^/]+/datasets/[A-Za-z0-9_]{1,1024}"
    r"|pubsub\.googleapis\.com/projects/[^/]+/topics/[A-Za-z][A-Za-z0-9._~%+-]{2,254}"
    r"|logging\.googleapis\.com/projects/[^/]+(/locations/[^/]+/buckets/[A-Za-z0-9_.-]+)?)$")
LEGACY_WRITER = "serviceAccount:cloud-logs@system.gserviceaccount.com"
_SINK_FIELDS = ("destination", "filter", "description", "disabled", "exclusions",
                "includeChildren", "bigqueryOptions", "outputVersionFormat")
_DEFAULT_MASK = ["destination", "filter", "include_children"]
_REQUIRED_LOGS = ("cloudaudit.googleapis.com/activity", "externalaudit.googleapis.com/activity",
                  "cloudaudit.googleapis.com/system_event",
                  "externalaudit.googleapis.com/system_event",
                  "cloudaudit.googleapis.com/access_transparency",
                  "externalaudit.googleapis.com/access_transparency")
BUILT_IN = {"_Required": " OR ".join(f'LOG_ID("{log}")' for log in _REQUIRED_LOGS),
            "_Default": " AND ".join(f'NOT LOG_ID("{log}")' for log in _REQUIRED_LOGS)}
_EXCLUSION_FIELDS = ("description", "filter", "disabled")


def writer_identity(project: str) -> str:
    from mlops_infra.emulator.projects import project_number

    return f"serviceAccount:service-{project_number(project)}@gcp-sa-logging.iam.gserviceaccount.com"


class Sinks:
    """Sink handlers over ``service.state["sinks"]`` (name -> stored JSON)."""

    def __init__(self, service: Any) -> None:
        self.service = service

    @property
    def items(self) -> dict[str, dict[str, Any]]:
        return self.service.state.setdefault("sinks", {})  # type: ignore[no-any-return]

    def create(self, request: Any) -> Any:
        project = common.project_of(request.parent)
        self._built_ins(project)
        body = common.to_json(request.sink)
        sink_id = common.check_id(body.get("name", ""), SINK_ID, "sink id",
                                  "at most 100 of letters, digits, '_', '-' and '.', starting "
                                  "with a letter or digit")
        name = f"projects/{project}/sinks/{sink_id}"
        if name in self.items:
            raise common.already_exists(f"Sink {sink_id} already exists")
        stored = self._checked(body, project)
        stored.update(name=sink_id, createTime=common.timestamp(), updateTime=common.timestamp(),
                      _unique=bool(request.unique_writer_identity))
        stored["writerIdentity"] = self._identity(stored, project)
        self.items[name] = stored
        return self._message(stored)

    def get(self, request: Any) -> Any:
        return self._message(self._find(request.sink_name))

    def list(self, request: Any) -> Any:
        project = common.project_of(request.parent)
        self._built_ins(project)
        mine = [{**s, "name": n} for n, s in self.items.items() if common.project_of(n) == project]
        chosen, token = common.page(mine, size=request.page_size, token=request.page_token)
        return logging_config.ListSinksResponse(
            sinks=[self._message({**s, "name": s["name"].rsplit("/", 1)[1]}) for s in chosen],
            next_page_token=token)

    def update(self, request: Any) -> Any:
        current = self._find(request.sink_name)
        self._refuse_required(request.sink_name)
        project = common.project_of(request.sink_name)
        body = common.to_json(request.sink)
        paths = list(request.update_mask.paths) or _DEFAULT_MASK
        merged = common.masked(current, body, paths, _SINK_FIELDS, "a sink")
        stored = {**self._checked(merged, project), "name": current["name"],
                  "createTime": current["createTime"], "updateTime": common.timestamp()}
        unique = bool(request.unique_writer_identity)
        if current.get("_unique") and not unique:
            raise common.invalid("unique_writer_identity cannot change from true to false")
        stored["_unique"] = unique or current.get("_unique", False)
        stored["writerIdentity"] = self._identity(stored, project)
        self.items[request.sink_name] = stored
        return self._message(stored)

    def delete(self, request: Any) -> Any:
        self._find(request.sink_name)
        self._refuse_required(request.sink_name)
        del self.items[request.sink_name]
        return empty_pb2.Empty()

    def _built_ins(self, project: str) -> None:
        for sink_id, text in BUILT_IN.items():
            bucket = f"logging.googleapis.com/projects/{project}/locations/global/buckets/{sink_id}"
            self.items.setdefault(f"projects/{project}/sinks/{sink_id}", {
                "name": sink_id, "destination": bucket, "filter": text,
                "createTime": common.timestamp(0), "updateTime": common.timestamp(0)})

    def _refuse_required(self, name: str) -> None:
        if name.rsplit("/", 1)[-1] == "_Required":
            raise common.precondition("The _Required sink cannot be modified or deleted")

    def _find(self, name: str) -> dict[str, Any]:
        self._built_ins(common.project_of(name))
        if name not in self.items:
            raise common.not_found(f"Sink {name.rsplit('/', 1)[-1]} does not exist")
        return self.items[name]

    def _checked(self, body: dict[str, Any], project: str) -> dict[str, Any]:
        destination = body.get("destination", "")
        if not DESTINATION.match(destination):
            raise common.invalid(f"Invalid destination {destination!r}: expected "
                                 "storage.googleapis.com/BUCKET, bigquery.googleapis.com/projects/"
                                 "P/datasets/D, pubsub.googleapis.com/projects/P/topics/T or "
                                 "logging.googleapis.com/projects/P/locations/L/buckets/B")
        exclusions = body.get("exclusions", [])
        if len(exclusions) > 50:
            raise common.invalid("A sink can have at most 50 exclusions")
        for exclusion in exclusions:
            common.check_id(exclusion.get("name", ""), SINK_ID, "exclusion name",
                            "at most 100 of letters, digits, '_', '-' and '.'")
            if not exclusion.get("filter"):
                raise common.invalid(f"Exclusion {exclusion['name']} needs a filter")
        return {k: v for k, v in body.items() if k not in ("writerIdentity", "createTime",
                                                             "updateTime")}

    def _identity(self, stored: dict[str, Any], project: str) -> str:
        own_bucket = f"logging.googleapis.com/projects/{project}/"
        if str(stored.get("destination", "")).startswith(own_bucket) or \
                stored.get("destination") == own_bucket.rstrip("/"):
            return ""
        return writer_identity(project) if stored.get("_unique") else LEGACY_WRITER

    def _message(self, stored: dict[str, Any]) -> Any:
        shown = {k: v for k, v in stored.items() if not k.startswith("_") and v != ""}
        return common.from_json(logging_config.LogSink, shown)


class Exclusions:
    """Project exclusion handlers over ``service.state["exclusions"]``."""

    def __init__(self, service: Any) -> None:
        self.service = service

    @property
    def items(self) -> dict[str, dict[str, Any]]:
        return self.service.state.setdefault("exclusions", {})  # type: ignore[no-any-return]

    def create(self, request: Any) -> Any:
        project = common.project_of(request.parent)
        body = common.to_json(request.exclusion)
        exclusion_id = common.check_id(body.get("name", ""), SINK_ID, "exclusion name",
                                       "at most 100 of letters, digits, '_', '-' and '.'")
        if not body.get("filter"):
            raise common.invalid("An exclusion needs a filter")
        name = f"projects/{project}/exclusions/{exclusion_id}"
        if name in self.items:
            raise common.already_exists(f"Exclusion {exclusion_id} already exists")
        self.items[name] = {**body, "createTime": common.timestamp(),
                            "updateTime": common.timestamp()}
        return common.from_json(logging_config.LogExclusion, self.items[name])

    def get(self, request: Any) -> Any:
        return common.from_json(logging_config.LogExclusion, self._find(request.name))

    def list(self, request: Any) -> Any:
        project = common.project_of(request.parent)
        mine = [{**e, "name": n} for n, e in self.items.items() if common.project_of(n) == project]
        chosen, token = common.page(mine, size=request.page_size, token=request.page_token)
        return logging_config.ListExclusionsResponse(
            exclusions=[common.from_json(logging_config.LogExclusion,
                                         {**e, "name": e["name"].rsplit("/", 1)[1]})
                        for e in chosen], next_page_token=token)

    def update(self, request: Any) -> Any:
        current = self._find(request.name)
        if not request.update_mask.paths:
            raise common.invalid("update_mask is required to update an exclusion")
        merged = common.masked(current, common.to_json(request.exclusion),
                               list(request.update_mask.paths), _EXCLUSION_FIELDS, "an exclusion")
        if not merged.get("filter"):
            raise common.invalid("An exclusion needs a filter")
        self.items[request.name] = {**merged, "updateTime": common.timestamp()}
        return common.from_json(logging_config.LogExclusion, self.items[request.name])

    def delete(self, request: Any) -> Any:
        self._find(request.name)
        del self.items[request.name]
        return empty_pb2.Empty()

    def _find(self, name: str) -> dict[str, Any]:
        common.project_of(name)
        if name not in self.items:
            raise common.not_found(f"Exclusion {name.rsplit('/', 1)[-1]} does not exist")
        return self.items[name]
