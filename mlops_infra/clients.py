"""Lazy construction of Google API clients: credentials, endpoints, transports.

Production uses Application Default Credentials and Google's endpoints. When
``MLOPS_INFRA_ENDPOINTS`` is set (a JSON object mapping service name to base URL,
or the path of a file holding one) or an ``endpoints`` mapping is passed, clients
talk to those URLs with anonymous credentials: that is how the local emulator and
the tests are reached. Client modules are imported only when first used.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlops_infra.engine.errors import UserError

ENDPOINTS_ENV = "MLOPS_INFRA_ENDPOINTS"


def endpoints_from_env(environ: Mapping[str, str] = os.environ) -> dict[str, str] | None:
    """Parse ``MLOPS_INFRA_ENDPOINTS`` (inline JSON or a file path); ``None`` if unset."""
    raw = environ.get(ENDPOINTS_ENV, "").strip()
    if not raw:
        return None
    if not raw.startswith("{"):
        path = Path(raw)
        try:
            raw = path.read_text()
        except OSError as exc:
            raise UserError(f"{ENDPOINTS_ENV}: cannot read {path}: {exc.strerror}") from None
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise UserError(f"{ENDPOINTS_ENV}: not valid JSON (line {exc.lineno}): {exc.msg}") from None
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise UserError(f"{ENDPOINTS_ENV}: expected a JSON object of service name to URL")
    return value


class Clients:
    """One cached client per (service, project); thread-safe lazy creation."""

    def __init__(self, *, project: str | None = None,
                 endpoints: Mapping[str, str] | None = None) -> None:
        self.project = project
        self.endpoints = dict(endpoints) if endpoints is not None else endpoints_from_env()
        self._cache: dict[tuple[str, str | None], Any] = {}
        self._lock = threading.Lock()

    @property
    def emulated(self) -> bool:
        return self.endpoints is not None

    def _options(self, service: str) -> dict[str, Any]:
        if self.endpoints is None:
            return {}
        if service not in self.endpoints:
            raise UserError(f"{ENDPOINTS_ENV} has no endpoint for '{service}'")
        from google.auth.credentials import AnonymousCredentials

        return {"credentials": AnonymousCredentials(),
                "client_options": {"api_endpoint": self.endpoints[service]}}

    def _cached(self, service: str, project: str | None, build: Any) -> Any:
        key = (service, project)
        with self._lock:
            if key not in self._cache:
                self._cache[key] = build()
            return self._cache[key]

    def storage(self, project: str | None = None) -> Any:
        """A ``google.cloud.storage.Client``."""
        project = project or self.project

        def build() -> Any:
            from google.cloud import storage  # type: ignore[attr-defined]

            return storage.Client(project=project or "_", **self._options("storage"))

        return self._cached("storage", project, build)

    def bigquery(self, project: str | None = None) -> Any:
        """A ``google.cloud.bigquery.Client``."""
        project = project or self.project

        def build() -> Any:
            from google.cloud import bigquery

            return bigquery.Client(project=project, **self._options("bigquery"))

        return self._cached("bigquery", project, build)
