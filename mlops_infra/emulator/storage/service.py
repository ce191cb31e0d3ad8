"""The Cloud Storage service: routes and the state they act on.

A bucket created or changed with a default KMS key needs the project's Cloud Storage service
agent to hold ``roles/cloudkms.cryptoKeyEncrypterDecrypter`` on the key, granted long enough
ago to have propagated (checked with the KMS service when it runs): otherwise Google's 403
"Permission denied on Cloud KMS key..." (GoogleCloudPlatform/magic-modules#3747,
hashicorp/terraform-provider-google#10310).

State (JSON): ``buckets`` name -> {project, bucket}; ``objects`` bucket -> name -> versions
(oldest first; the live one, if any, is last and has no ``timeDeleted``); ``lastGeneration``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from mlops_infra.emulator.core import HttpError, Request, Response, Route, Service
from mlops_infra.emulator.storage import buckets, iam, objects
from mlops_infra.emulator.storage.multipart import parse_related
from mlops_infra.emulator.storage.preconditions import NotModified, check_all, check_metageneration
from mlops_infra.emulator.util import bool_param, int_param, page, rfc3339

B = "/storage/v1/b"
O = B + "/{bucket}/o"  # noqa: E741  (objects, next to B for buckets)


class StorageService(Service):
    """Buckets and objects of the Cloud Storage JSON API v1."""

    name = "storage"
    api = "storage.googleapis.com"
    api_title = "Cloud Storage API"

    def project_of(self, request: Request) -> str | None:
        if "project" in request.params:
            return request.params["project"]
        bucket = request.params.get("bucket")
        if bucket is None:
            return request.query.get("project")
        entry = self.state["buckets"].get(bucket)
        return entry["project"] if entry else None

    def initial_state(self) -> dict[str, Any]:
        return {"buckets": {}, "objects": {}, "lastGeneration": 0}

    def routes(self) -> list[Route]:
        return [
            Route("GET", B, self.list_buckets),
            Route("POST", B, self.insert_bucket),
            Route("GET", B + "/{bucket}", _not_modified(self.get_bucket)),
            Route("PATCH", B + "/{bucket}", self.patch_bucket),
            Route("PUT", B + "/{bucket}", self.update_bucket),
            Route("DELETE", B + "/{bucket}", self.delete_bucket),
            *iam.routes(self),
            Route("GET", O, self.list_objects),
            Route("POST", "/upload" + O, self.upload_object),
            Route("GET", O + "/{object}", _not_modified(self.get_object)),
            Route("GET", "/download" + O + "/{object}", _not_modified(self.download_object)),
            Route("PATCH", O + "/{object}", self.patch_object),
            Route("PUT", O + "/{object}", self.update_object),
            Route("DELETE", O + "/{object}", self.delete_object),
            Route("GET", "/storage/v1/projects/{project}/serviceAccount", _service_agent),
        ]

    # -- buckets ------------------------------------------------------------------------
    def list_buckets(self, request: Request) -> dict[str, Any]:
        project = _required(request, "project")
        prefix = request.query.get("prefix", "")
        mine = [entry["bucket"] for entry in self.state["buckets"].values()
                if entry["project"] == project and entry["bucket"]["name"].startswith(prefix)]
        chosen, token = page(mine, key=lambda b: b["name"],
                             max_results=int_param(request.query, "maxResults"),
                             token=request.query.get("pageToken"))
        return _listing("storage#buckets", [buckets.render(b, base_url=request.base_url)
                                            for b in chosen], token)

    def insert_bucket(self, request: Request) -> dict[str, Any]:
        project = _required(request, "project")
        body = _body(request)
        name = buckets.validate_name(body.get("name"))
        if name in self.state["buckets"]:
            raise HttpError(409, "Your previous request to create the named bucket succeeded "
                                 "and you already own it.", reason="conflict")
        bucket = buckets.new_bucket(body, project=project, generation=self._next_generation())
        self._check_kms_key(project, bucket)
        self.state["buckets"][name] = {"project": project, "bucket": bucket}
        self.state["objects"][name] = {}
        return buckets.render(bucket, base_url=request.base_url)

    def get_bucket(self, request: Request) -> dict[str, Any]:
        bucket = self._bucket(request)
        check_metageneration(request.query, bucket, read=True)
        return buckets.render(bucket, base_url=request.base_url)

    def patch_bucket(self, request: Request) -> dict[str, Any]:
        return self._change_bucket(request, buckets.patch_bucket)

    def update_bucket(self, request: Request) -> dict[str, Any]:
        return self._change_bucket(request, buckets.update_bucket)

    def _change_bucket(self, request: Request, change: Callable[..., dict[str, Any]]
                       ) -> dict[str, Any]:
        current = self._bucket(request)
        check_metageneration(request.query, current)
        bucket = change(current, _body(request))
        if _kms_key(bucket) != _kms_key(current):
            self._check_kms_key(self.state["buckets"][current["name"]]["project"], bucket)
        self.state["buckets"][current["name"]]["bucket"] = bucket
        return buckets.render(bucket, base_url=request.base_url)

    def delete_bucket(self, request: Request) -> Response:
        bucket = self._bucket(request)
        check_metageneration(request.query, bucket)
        if any(self.state["objects"][bucket["name"]].values()):
            raise HttpError(409, "The bucket you tried to delete is not empty.",
                            reason="conflict")
        del self.state["buckets"][bucket["name"]]
        del self.state["objects"][bucket["name"]]
        return Response.no_content()

    # -- objects ------------------------------------------------------------------------
    def list_objects(self, request: Request) -> dict[str, Any]:
        bucket = self._bucket(request)
        query = request.query
        versions = bool_param(query, "versions")
        found = [v for history in self.state["objects"][bucket["name"]].values()
                 for v in (history if versions else history[-1:]) if versions or _is_live(v)]
        entries = _with_prefixes(found, prefix=query.get("prefix", ""),
                                 delimiter=query.get("delimiter", ""),
                                 start=query.get("startOffset"), end=query.get("endOffset"))
        chosen, token = page(entries, key=lambda e: [e[0], e[1]],
                             max_results=int_param(query, "maxResults"),
                             token=query.get("pageToken"))
        result = _listing("storage#objects", [objects.render(v, base_url=request.base_url)
                                              for _, _, v in chosen if v is not None], token)
        prefixes = [name for name, _, v in chosen if v is None]
        if prefixes:
            result["prefixes"] = prefixes
        return result

    def upload_object(self, request: Request) -> dict[str, Any]:
        bucket = self._bucket(request)
        metadata, data, content_type = _upload_parts(request)
        name = request.query.get("name") or metadata.get("name")
        if not name:
            raise HttpError(400, "Required: object name", reason="required")
        history = self.state["objects"][bucket["name"]].setdefault(name, [])
        live = history[-1] if history and _is_live(history[-1]) else None
        check_all(request.query, live)
        version = objects.new_version(bucket=bucket, name=name, metadata=metadata, data=data,
                                      content_type=content_type,
                                      generation=self._next_generation())
        self._retire(bucket, history, live)
        history.append(version)
        return objects.render(version, base_url=request.base_url)

    def get_object(self, request: Request) -> Response | dict[str, Any]:
        if request.query.get("alt") == "media":
            return self.download_object(request)
        version = self._version(request, read=True)
        return objects.render(version, base_url=request.base_url)

    def download_object(self, request: Request) -> Response:
        version = self._version(request, read=True)
        return Response(status=200, body=objects.media(version),
                        headers=objects.media_headers(version))

    def patch_object(self, request: Request) -> dict[str, Any]:
        return self._change_object(request, objects.patch_version)

    def update_object(self, request: Request) -> dict[str, Any]:
        return self._change_object(request, objects.update_version)

    def _change_object(self, request: Request, change: Callable[..., dict[str, Any]]
                       ) -> dict[str, Any]:
        version = self._version(request)
        history = self.state["objects"][version["bucket"]][version["name"]]
        changed = change(version, _body(request))
        history[history.index(version)] = changed
        return objects.render(changed, base_url=request.base_url)

    def delete_object(self, request: Request) -> Response:
        version = self._version(request)
        bucket = self.state["buckets"][version["bucket"]]["bucket"]
        history = self.state["objects"][bucket["name"]][version["name"]]
        if "generation" in request.query or not _is_live(version):
            history.remove(version)
        else:
            self._retire(bucket, history, version)
        if not history:
            del self.state["objects"][bucket["name"]][version["name"]]
        return Response.no_content()

    # -- helpers ------------------------------------------------------------------------
    def _bucket(self, request: Request) -> dict[str, Any]:
        entry = self.state["buckets"].get(request.params["bucket"])
        if entry is None:
            raise HttpError(404, "The specified bucket does not exist.", reason="notFound")
        return entry["bucket"]

    def _version(self, request: Request, *, read: bool = False) -> dict[str, Any]:
        """The addressed object version (``generation=`` or the live one), preconditions held."""
        bucket = self._bucket(request)
        name = request.params["object"]
        history = self.state["objects"][bucket["name"]].get(name, [])
        generation = int_param(request.query, "generation")
        if generation is None:
            found = history[-1] if history and _is_live(history[-1]) else None
        else:
            found = next((v for v in history if int(v["generation"]) == generation), None)
        if found is None:
            raise HttpError(404, f"No such object: {bucket['name']}/{name}", reason="notFound")
        check_all(request.query, found, read=read)
        return found

    def _retire(self, bucket: dict[str, Any], history: list[dict[str, Any]],
                live: dict[str, Any] | None) -> None:
        """Make the live version noncurrent (versioned bucket) or drop it."""
        if live is None:
            return
        if (bucket.get("versioning") or {}).get("enabled"):
            live["timeDeleted"] = rfc3339(time.time())
        else:
            history.remove(live)

    def _check_kms_key(self, project: str, bucket: dict[str, Any]) -> None:
        key = _kms_key(bucket)
        kms = self.emulator.services.get("kms") if self.emulator is not None else None
        if not key or kms is None:
            return
        if kms.key_use_error(key, f"serviceAccount:{_agent_email(project)}"):
            raise HttpError(403, "Permission denied on Cloud KMS key. Please ensure that your "
                                 "Cloud Storage service account has been authorized to use "
                                 "this key.", reason="forbidden")

    def _next_generation(self) -> int:
        # Like GCS: microsecond timestamps, but strictly increasing even within a microsecond.
        generation = max(time.time_ns() // 1000, self.state["lastGeneration"] + 1)
        self.state["lastGeneration"] = generation
        return generation


def _service_agent(request: Request) -> dict[str, Any]:
    """The project's Cloud Storage service agent (the identity that uses CMEK keys)."""
    return {"kind": "storage#serviceAccount",
            "email_address": _agent_email(request.params["project"])}


def _agent_email(project: str) -> str:
    from mlops_infra.emulator.projects import project_number

    return f"service-{project_number(project)}@gs-project-accounts.iam.gserviceaccount.com"


def _kms_key(bucket: dict[str, Any]) -> str | None:
    return (bucket.get("encryption") or {}).get("defaultKmsKeyName")


def _is_live(version: dict[str, Any]) -> bool:
    return "timeDeleted" not in version


def _with_prefixes(found: list[dict[str, Any]], *, prefix: str, delimiter: str,
                   start: str | None, end: str | None) -> list[tuple[str, int, Any]]:
    """Sortable (name, generation, version) entries; common prefixes carry ``None``."""
    entries: dict[tuple[str, int], Any] = {}
    for version in found:
        name = version["name"]
        if not name.startswith(prefix) or (start and name < start) or (end and name >= end):
            continue
        cut = name.find(delimiter, len(prefix)) if delimiter else -1
        if cut >= 0:
            entries[(name[:cut + len(delimiter)], 0)] = None
        else:
            entries[(name, int(version["generation"]))] = version
    return [(name, gen, value) for (name, gen), value in entries.items()]


def _upload_parts(request: Request) -> tuple[dict[str, Any], bytes, str | None]:
    upload_type = request.query.get("uploadType", "media")
    content_type = request.header("Content-Type")
    if upload_type == "multipart":
        return parse_related(request.body, content_type or "")
    if upload_type == "media":
        return {}, request.body, content_type
    raise HttpError(400, f"uploadType={upload_type} is not supported by the emulator "
                         "(use multipart or media)", reason="invalid")


def _listing(kind: str, items: list[dict[str, Any]], token: str | None) -> dict[str, Any]:
    result: dict[str, Any] = {"kind": kind}
    if items:
        result["items"] = items
    if token:
        result["nextPageToken"] = token
    return result


def _required(request: Request, name: str) -> str:
    value = request.query.get(name)
    if not value:
        raise HttpError(400, f"Required parameter: {name}", reason="required")
    return value


def _body(request: Request) -> dict[str, Any]:
    body = request.json()
    if not isinstance(body, dict):
        raise HttpError(400, "The request body must be a JSON object", reason="invalid")
    return body


def _not_modified(handler: Callable[[Request], Any]) -> Callable[[Request], Any]:
    """Turn a failed ``if...NotMatch`` on a read into 304 Not Modified."""
    def wrapped(request: Request) -> Any:
        try:
            return handler(request)
        except NotModified:
            return Response(status=304)

    return wrapped
