"""``SecretManagerService``: secrets and their versions (secretmanager v1, REST).

| behaviour | source |
|---|---|
| routes: ``POST /v1/projects/P/secrets?secretId=S``, ``GET``/``DELETE .../secrets/S``, ``GET .../secrets``, ``POST .../secrets/S:addVersion``, ``GET .../versions``, ``GET .../versions/V``, ``GET .../versions/V:access``, ``POST .../versions/V:disable``/``:enable``/``:destroy`` | secretmanager v1 discovery ``projects.secrets.*`` |
| secret ids: 1-255 of letters, digits, ``-`` and ``_``; an existing id is 409 | discovery ``secrets.create`` (``secretId``) |
| versions are numbered from 1; ``latest`` is the most recently created version | discovery ``versions.access`` ("projects/*/secrets/*/versions/latest is an alias to the most recently created SecretVersion") |
| accessing a disabled or destroyed version is 400 FAILED_PRECONDITION; a destroyed version's payload is gone | discovery ``SecretVersion.state``; ``versions.destroy`` |
| payloads carry ``dataCrc32c``; an ``addVersion`` whose checksum does not match is a 400 | discovery ``SecretPayload.dataCrc32c`` |
| names in responses use the project number | discovery ``Secret.name`` (``projects/*/secrets/*``; Google answers with the number) |

State (JSON): ``secrets`` "P/S" -> {replication, createTime, versions: [{state, data}]}.
The payload is kept as Secret Manager keeps it: it is where the secret lives. The API is
``secretmanager.googleapis.com``, off in a new project.
"""

from __future__ import annotations

import base64
import re
import time
from typing import Any

from mlops_infra.emulator.core import HttpError, Request, Response, Route, Service
from mlops_infra.emulator.projects import project_number
from mlops_infra.emulator.util import rfc3339

SECRETS = "/v1/projects/{project}/secrets"
SECRET = SECRETS + "/{secret}"
VERSIONS = SECRET + "/versions"
_SECRET_ID = re.compile(r"^[A-Za-z0-9_-]{1,255}$")


class SecretManagerService(Service):
    """Secrets and secret versions of Secret Manager v1."""

    name = "secretmanager"
    api = "secretmanager.googleapis.com"
    api_title = "Secret Manager API"

    def initial_state(self) -> dict[str, Any]:
        return {"secrets": {}}

    def routes(self) -> list[Route]:
        return [
            Route("POST", SECRET + ":addVersion", self.add_version),
            Route("GET", VERSIONS + "/{version}:access", self.access),
            Route("POST", VERSIONS + "/{version}:disable", self._state_change("DISABLED")),
            Route("POST", VERSIONS + "/{version}:enable", self._state_change("ENABLED")),
            Route("POST", VERSIONS + "/{version}:destroy", self._state_change("DESTROYED")),
            Route("GET", VERSIONS, self.list_versions),
            Route("GET", VERSIONS + "/{version}", self.get_version),
            Route("POST", SECRETS, self.create),
            Route("GET", SECRETS, self.list),
            Route("GET", SECRET, self.get),
            Route("DELETE", SECRET, self.delete),
        ]

    def project_of(self, request: Request) -> str | None:
        return request.params.get("project")

    # --- secrets ---
    def create(self, request: Request) -> dict[str, Any]:
        secret_id = request.query.get("secretId", "")
        if not _SECRET_ID.match(secret_id):
            raise HttpError(400, f"Invalid secret id {secret_id!r}: 1-255 of letters, digits, "
                                 "'-' and '_'", status="INVALID_ARGUMENT")
        key = f"{request.params['project']}/{secret_id}"
        if key in self.state["secrets"]:
            raise HttpError(409, f"Secret [{self._name(key)}] already exists.",
                            status="ALREADY_EXISTS")
        body = request.json()
        self.state["secrets"][key] = {"replication": body.get("replication") or {"automatic": {}},
                                      "labels": body.get("labels", {}),
                                      "createTime": rfc3339(time.time()), "versions": []}
        return self._secret(key)

    def get(self, request: Request) -> dict[str, Any]:
        return self._secret(self._key(request))

    def list(self, request: Request) -> dict[str, Any]:
        project = request.params["project"]
        keys = sorted(k for k in self.state["secrets"] if k.split("/")[0] == project)
        return {"secrets": [self._secret(k) for k in keys], "totalSize": len(keys)}

    def delete(self, request: Request) -> Response:
        del self.state["secrets"][self._key(request)]
        return Response.of_json({})

    # --- versions ---
    def add_version(self, request: Request) -> dict[str, Any]:
        key = self._key(request)
        payload = request.json().get("payload", {})
        data = _decoded(payload.get("data", ""))
        crc = payload.get("dataCrc32c")
        if crc is not None and int(crc) != _crc32c(data):
            raise HttpError(400, "The checksum of the payload does not match its dataCrc32c.",
                            status="INVALID_ARGUMENT")
        versions = self.state["secrets"][key]["versions"]
        versions.append({"state": "ENABLED", "data": payload.get("data", ""),
                         "createTime": rfc3339(time.time())})
        return self._version(key, len(versions))

    def access(self, request: Request) -> dict[str, Any]:
        key, number = self._version_of(request)
        version = self.state["secrets"][key]["versions"][number - 1]
        if version["state"] != "ENABLED":
            raise HttpError(400, f"{self._name(key)}/versions/{number} is in {version['state']} "
                                 "state.", status="FAILED_PRECONDITION")
        data = _decoded(version["data"])
        return {"name": f"{self._name(key)}/versions/{number}",
                "payload": {"data": version["data"], "dataCrc32c": str(_crc32c(data))}}

    def get_version(self, request: Request) -> dict[str, Any]:
        return self._version(*self._version_of(request))

    def list_versions(self, request: Request) -> dict[str, Any]:
        key = self._key(request)
        count = len(self.state["secrets"][key]["versions"])
        return {"versions": [self._version(key, n) for n in range(count, 0, -1)],
                "totalSize": count}

    def _state_change(self, target: str) -> Any:
        def handler(request: Request) -> dict[str, Any]:
            key, number = self._version_of(request)
            version = self.state["secrets"][key]["versions"][number - 1]
            if version["state"] == "DESTROYED":
                raise HttpError(400, "A destroyed version cannot change state.",
                                status="FAILED_PRECONDITION")
            version["state"] = target
            if target == "DESTROYED":
                version["data"] = ""
            return self._version(key, number)
        return handler

    # --- helpers ---
    def _key(self, request: Request) -> str:
        key = f"{request.params['project']}/{request.params['secret']}"
        if key not in self.state["secrets"]:
            raise HttpError(404, f"Secret [{self._name(key)}] not found or has no versions.",
                            status="NOT_FOUND")
        return key

    def _version_of(self, request: Request) -> tuple[str, int]:
        key = self._key(request)
        versions = self.state["secrets"][key]["versions"]
        raw = request.params["version"]
        number = len(versions) if raw == "latest" else int(raw) if raw.isdigit() else 0
        if not 1 <= number <= len(versions):
            raise HttpError(404, f"Secret Version [{self._name(key)}/versions/{raw}] not found.",
                            status="NOT_FOUND")
        return key, number

    def _name(self, key: str) -> str:
        project, secret = key.split("/", 1)
        return f"projects/{project_number(project)}/secrets/{secret}"

    def _secret(self, key: str) -> dict[str, Any]:
        record = self.state["secrets"][key]
        out = {"name": self._name(key), "replication": record["replication"],
               "createTime": record["createTime"]}
        if record.get("labels"):
            out["labels"] = record["labels"]
        return out

    def _version(self, key: str, number: int) -> dict[str, Any]:
        version = self.state["secrets"][key]["versions"][number - 1]
        return {"name": f"{self._name(key)}/versions/{number}", "state": version["state"],
                "createTime": version["createTime"]}


def _decoded(data: str) -> bytes:
    try:
        return base64.b64decode(data, validate=True)
    except ValueError:
        raise HttpError(400, "Invalid value for payload.data: not base64.",
                        status="INVALID_ARGUMENT") from None


def _crc32c(data: bytes) -> int:
    import google_crc32c

    return int(google_crc32c.value(data))
