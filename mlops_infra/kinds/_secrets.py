"""Fetching the value of a spec secret from its source (``spec.secrets.SecretSource``).

``{env: NAME}`` reads the process environment; ``{secretManager: projects/P/secrets/S/
versions/V}`` calls Secret Manager's ``versions.access`` (google-cloud-secret-manager, REST)
and checks the payload against its CRC32C, as Secret Manager's docs advise ("verify payload
checksum", secretmanager v1 discovery ``SecretPayload.dataCrc32c``). Transient errors are
retried by the engine's retry layer. Every failure is a ``SecretUnavailable`` naming the
secret and its source in one line, never a value; ``engine.sensitive.SecretValues`` calls
this only when a plan or an apply needs the secret.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from mlops_infra.engine import errors
from mlops_infra.engine.retry import RetryPolicy, call_with_retries
from mlops_infra.engine.sensitive import SecretUnavailable
from mlops_infra.kinds._base import CALL, translate
from mlops_infra.kinds._clients import SECRET_MANAGER

SECRET_MANAGER_API = "secretmanager.googleapis.com"


def fetcher(clients: Any, policy: RetryPolicy | None = None) -> Callable[[Any], str]:
    """``fetch(source) -> value`` for ``engine.sensitive.SecretValues``."""
    def fetch(source: Any) -> str:
        if source.kind == "env":
            return _from_env(source)
        return _from_secret_manager(clients, source, policy or RetryPolicy.from_env())
    return fetch


def _from_env(source: Any) -> str:
    value = os.environ.get(source.ref)
    if not value:
        raise SecretUnavailable(f"{source.title()}: the environment "
                                "variable is not set (or empty)")
    return value


def _from_secret_manager(clients: Any, source: Any, policy: RetryPolicy) -> str:
    def access() -> Any:
        try:
            return clients.get(SECRET_MANAGER).access_secret_version(
                request={"name": source.ref}, **CALL)
        except Exception as exc:  # noqa: BLE001 - translated to the engine's classes below
            error = translate(exc, f"secret '{source.name}'")
            if isinstance(error, errors.ServiceDisabled):   # not worth waiting 10 minutes for
                raise SecretUnavailable(f"{source.title()}: "
                                        f"{_reason(error)}") from None
            raise error from exc

    try:
        response = call_with_retries(access, policy=policy)
    except SecretUnavailable:
        raise                       # already says which secret (``access``)
    except errors.NotFound:
        raise SecretUnavailable(f"{source.title()}: no such secret "
                                "or version (or the version is disabled or destroyed)") from None
    except errors.MlopsInfraError as exc:
        raise SecretUnavailable(f"{source.title()}: "
                                f"{_reason(exc)}") from None
    return _payload(source, response.payload)


def _payload(source: Any, payload: Any) -> str:
    import google_crc32c

    data = bytes(payload.data)
    if payload.data_crc32c and google_crc32c.value(data) != payload.data_crc32c:
        raise SecretUnavailable(f"{source.title()}: the payload "
                                "does not match its CRC32C checksum (corrupted in transit)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise SecretUnavailable(f"{source.title()}: the payload is "
                                "not UTF-8 text") from None


def _reason(exc: BaseException) -> str:
    text = str(exc)
    if isinstance(exc, errors.ServiceDisabled):
        return f"the Secret Manager API ({SECRET_MANAGER_API}) is not enabled: {text}"
    if "403" in text.split(":", 1)[0]:
        return f"permission denied (roles/secretmanager.secretAccessor is needed): {text}"
    return text
