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

    def iam_admin(self) -> Any:
        """An ``iam_admin_v1.IAMClient`` (gRPC only: the library has no REST transport).

        Emulated, the "iam" endpoint is a gRPC target ``127.0.0.1:PORT`` (a ``grpc://``
        prefix is accepted) reached over an insecure channel; production uses TLS and ADC.
        """
        def build() -> Any:
            from google.cloud import iam_admin_v1

            if self.endpoints is None:
                return iam_admin_v1.IAMClient()
            import grpc
            from google.cloud.iam_admin_v1.services.iam.transports import IAMGrpcTransport

            target = self._options("iam")["client_options"]["api_endpoint"]
            channel = grpc.insecure_channel(target.removeprefix("grpc://"))
            return iam_admin_v1.IAMClient(transport=IAMGrpcTransport(channel=channel))

        return self._cached("iam", None, build)

    def service_usage(self) -> Any:
        """A ``service_usage_v1.ServiceUsageClient`` (REST; operations polled at /v1/operations)."""
        def build() -> Any:
            from google.cloud import service_usage_v1

            return service_usage_v1.ServiceUsageClient(transport="rest",
                                                       **self._options("serviceusage"))

        return self._cached("serviceusage", None, build)

    def kms(self) -> Any:
        """A ``kms_v1.KeyManagementServiceClient`` (REST)."""
        def build() -> Any:
            from google.cloud import kms_v1

            return kms_v1.KeyManagementServiceClient(transport="rest", **self._options("kms"))

        return self._cached("kms", None, build)

    def _compute(self, client: str) -> Any:
        """A ``compute_v1`` client by class name (REST), sharing the "compute" endpoint."""
        def build() -> Any:
            from google.cloud import compute_v1

            return getattr(compute_v1, client)(transport="rest", **self._options("compute"))

        return self._cached(f"compute:{client}", None, build)

    def compute_networks(self) -> Any:
        """A ``compute_v1.NetworksClient``."""
        return self._compute("NetworksClient")

    def compute_subnetworks(self) -> Any:
        """A ``compute_v1.SubnetworksClient``."""
        return self._compute("SubnetworksClient")

    def compute_firewalls(self) -> Any:
        """A ``compute_v1.FirewallsClient``."""
        return self._compute("FirewallsClient")

    def compute_global_operations(self) -> Any:
        """A ``compute_v1.GlobalOperationsClient``: compute's own LRO polling ignores
        ``api_endpoint``, so operations are waited on with this one (same options)."""
        return self._compute("GlobalOperationsClient")

    def compute_region_operations(self) -> Any:
        """A ``compute_v1.RegionOperationsClient`` (see ``compute_global_operations``)."""
        return self._compute("RegionOperationsClient")

    def resource_manager(self) -> Any:
        """A ``resourcemanager_v3.ProjectsClient`` (REST)."""
        def build() -> Any:
            from google.cloud import resourcemanager_v3

            return resourcemanager_v3.ProjectsClient(transport="rest",
                                                     **self._options("resourcemanager"))

        return self._cached("resourcemanager", None, build)
