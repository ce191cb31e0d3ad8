"""Shared helpers for every resource kind: error translation, call options, patch bodies.

* ``translate_errors(what)`` turns google / transport exceptions into ``engine.errors``
  classes (usable as a context manager or a decorator), so the engine can decide
  "retry or give up" without importing any Google library. Google's eventual-consistency
  errors become ``EventuallyConsistent`` (retried for longer, saying what they wait for),
  recognised by their exact shapes:

  | error | shape | source |
  |---|---|---|
  | ``ServiceDisabled`` | 403 with ErrorInfo reason ``SERVICE_DISABLED`` or errors[].reason ``accessNotConfigured`` | google-gemini/gemini-cli#1343, hashicorp/terraform-provider-google#2129 |
  | CMEK grant propagating | 403 "Permission denied on Cloud KMS key" (Cloud Storage) or "Cloud KMS Error: Permission 'cloudkms.cryptoKeyVersions.useToEncrypt' denied" (BigQuery) | GoogleCloudPlatform/magic-modules#3747, terraform-google-modules/terraform-docs-samples#334, hashicorp/terraform-provider-google#10310 |
  | ... (Vertex AI, Compute disks) | 400 "Provided CryptoKey K cannot be used in Vertex AI service" / "Cloud KMS error when using key K: Permission 'cloudkms.cryptoKeyVersions.useToEncrypt' denied" | hashicorp/terraform-provider-google#11819; Compute Engine's CMEK error text |
  | new service account propagating | 400 "Service account X does not exist." in a policy write | magic-modules#8815, #11811, #14547 |
  | ... or read right after create | 404/403 inside ``translate_errors(..., just_created=...)`` | magic-modules resource_google_service_account.go ("IAM API returns 403 when the queried SA is not found") |

  The Workload Identity 400 "Identity Pool does not exist (P.svc.id.goog)" is permanent
  (``WorkloadPoolMissing``): the pool appears only with a GKE cluster that has Workload
  Identity (terraform-google-modules/terraform-google-kubernetes-engine#916).
* ``CALL`` is the keyword arguments every API call passes: client-library retries off
  (the engine's retry layer decides) and an explicit timeout.
* ``merge_patch`` builds an RFC 7396 style patch body from the diff's ``FieldChange``s.
* ``SpecModel`` is the pydantic base of every kind's spec model.
"""

from __future__ import annotations

import http
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict

from mlops_infra.engine import errors, paths
from mlops_infra.engine.kind import FieldChange
from mlops_infra.spec.jsoncopy import copy_json

# Module-level alias: inside a Kind class body ``list`` is the ``list()`` method.
FieldChanges = list[FieldChange]

API_TIMEOUT = 30.0
CALL: dict[str, Any] = {"retry": None, "timeout": API_TIMEOUT}

_TRANSIENT_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
# Some Google APIs answer rate limiting with a 403 and one of these reasons.
_TRANSIENT_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded", "backendError"})
_MAX_MESSAGE = 300


class SpecModel(BaseModel):
    """Base of the kinds' spec models: unknown fields are errors; REST names are field names."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, defer_build=True)


# --- error translation ----------------------------------------------------------

def _transport_errors() -> tuple[type[BaseException], ...]:
    import requests
    import urllib3
    from google.api_core import exceptions as gexc
    from google.auth import exceptions as auth_exc

    return (requests.exceptions.ConnectionError, requests.exceptions.Timeout,
            requests.exceptions.ChunkedEncodingError, urllib3.exceptions.ProtocolError,
            auth_exc.TransportError, gexc.RetryError, ConnectionError, TimeoutError)


def _short(text: str) -> str:
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return line if len(line) <= _MAX_MESSAGE else line[:_MAX_MESSAGE - 3] + "..."


def _status_phrase(code: int) -> str:
    try:
        return http.HTTPStatus(code).phrase
    except ValueError:
        return "Error"


def _reasons(exc: Any) -> set[str]:
    found = {getattr(exc, "reason", None)}
    for item in getattr(exc, "errors", None) or ():
        if isinstance(item, dict):
            found.add(item.get("reason"))
    return {r for r in found if r}


_KMS_DENIED = re.compile(r"Permission denied on Cloud KMS key|Cloud KMS Error: Permission "
                         r"'cloudkms\.cryptoKeyVersions\.useTo(?:En|De)crypt' denied", re.IGNORECASE)
_KMS_DENIED_400 = re.compile(r"Provided CryptoKey \S+ cannot be used in Vertex AI service|Cloud KMS "
                             r"error when using key \S+: Permission 'cloudkms\.cryptoKeyVersions"
                             r"\.useTo(?:En|De)crypt' denied", re.IGNORECASE)
_MISSING_ACCOUNT = re.compile(r"Service account (\S+?@\S+?)\.? does not exist", re.IGNORECASE)
_POOL_MISSING = re.compile(r"Identity Pool does not exist \(([^)]+)\)")
_ACTIVATION = re.compile(r"apis/api/([a-z0-9.-]+)/overview(?:\?project=([a-z0-9-]+))?")


class WorkloadPoolMissing(errors.PermanentError):
    """A Workload Identity member whose pool (``P.svc.id.goog``) does not exist yet."""


def _error_info(exc: Any) -> tuple[str | None, dict[str, str]]:
    """ErrorInfo ``reason`` and ``metadata`` of a Google error (REST or gRPC), if any."""
    reason = getattr(exc, "reason", None)
    metadata = getattr(exc, "metadata", None)
    return (reason if isinstance(reason, str) else None,
            dict(metadata) if isinstance(metadata, dict) else {})


def _consistency(code: int | None, exc: Any, subject: str,
                 just_created: str | None) -> errors.ApiError | None:
    """The ``EventuallyConsistent`` (or pool) error ``exc`` stands for, or ``None``."""
    text = f"{code} {_status_phrase(code or 500)}: {subject}{_short(exc.message)}"
    reason, metadata = _error_info(exc)
    if code == 403 and (reason == "SERVICE_DISABLED" or "accessNotConfigured" in _reasons(exc)):
        found = _ACTIVATION.search(str(exc.message))
        api = metadata.get("service") or (found.group(1) if found else "the needed")
        consumer = metadata.get("consumer", "").removeprefix("projects/") or \
            (found.group(2) if found else None)
        return errors.ServiceDisabled(text, api=api, project=consumer or None, status=code)
    if (code == 403 and _KMS_DENIED.search(str(exc.message))) or \
            (code == 400 and _KMS_DENIED_400.search(str(exc.message))):
        return errors.EventuallyConsistent(
            text, status=code, waiting_for="the Cloud KMS key grant to the service agent to "
            "propagate (roles/cloudkms.cryptoKeyEncrypterDecrypter on the key)")
    pool = _POOL_MISSING.search(str(exc.message)) if code == 400 else None
    if pool:
        project = pool.group(1).removesuffix(".svc.id.goog")
        return WorkloadPoolMissing(
            f"{text} - the Workload Identity pool {pool.group(1)} exists only once a GKE "
            f"cluster with Workload Identity (workloadPool {pool.group(1)}) exists in project "
            f"{project}: create the cluster first", status=code)
    account = _MISSING_ACCOUNT.search(str(exc.message)) if code == 400 else None
    if account:
        return errors.EventuallyConsistent(
            text, status=code, waiting_for=f"the new service account {account.group(1)} to "
            "propagate (IAM is eventually consistent)")
    if just_created and code in (403, 404):
        return errors.EventuallyConsistent(
            text, status=code, waiting_for=f"{just_created} to become readable after its "
            "creation (IAM reads are eventually consistent)")
    return None


def _api_error_class(code: int | None, exc: Any) -> type[errors.ApiError]:
    if code == 404:
        return errors.NotFound
    if code == 409:
        return errors.Conflict
    if code == 412:
        return errors.PreconditionFailed
    if code in _TRANSIENT_STATUSES or _reasons(exc) & _TRANSIENT_REASONS:
        return errors.TransientError
    return errors.PermanentError


def translate(exc: BaseException, what: str = "", *,
              just_created: str | None = None) -> BaseException:
    """The ``engine.errors`` equivalent of ``exc`` (``exc`` itself when it is not Google's).

    ``just_created`` names a resource this run has just created: a 404/403 on it then means
    "not visible yet" (eventual consistency), not "gone".
    """
    from google.api_core import exceptions as gexc

    subject = f"{what}: " if what else ""
    if isinstance(exc, gexc.GoogleAPICallError):
        code = exc.code if isinstance(exc.code, int) else None
        if isinstance(exc, gexc.DeadlineExceeded):
            code = code or 504
        waiting = _consistency(code, exc, subject, just_created)
        if waiting is not None:
            return waiting
        cls = _api_error_class(code, exc)
        head = f"{code} {_status_phrase(code)}" if code else type(exc).__name__
        return cls(f"{head}: {subject}{_short(exc.message)}", status=code)
    if isinstance(exc, _transport_errors()):
        return errors.TransientError(f"{type(exc).__name__}: {subject}{_short(str(exc))}")
    if isinstance(exc, gexc.GoogleAPIError):
        return errors.PermanentError(f"{type(exc).__name__}: {subject}{_short(str(exc))}")
    return exc


@contextmanager
def translate_errors(what: str = "", *, just_created: str | None = None) -> Iterator[None]:
    """Re-raise google / transport errors as ``engine.errors``; ``what`` names the resource.

    Works as ``with translate_errors("bucket b"):`` and as ``@translate_errors()``.
    """
    try:
        yield
    except errors.MlopsInfraError:
        raise
    except Exception as exc:
        translated = translate(exc, what, just_created=just_created)
        if translated is exc:
            raise
        raise translated from exc


F = TypeVar("F", bound=Callable[..., Any])


def readable_deadline() -> float:
    """How long a kind polls for a resource it just created to become readable: the retry
    layer's eventual-consistency budget (scaled by ``MLOPS_INFRA_RETRY_SCALE``)."""
    from mlops_infra.engine.retry import RetryPolicy

    return RetryPolicy.from_env().consistency_deadline


# --- patch bodies ------------------------------------------------------------------

def set_path(target: dict[str, Any], path: str, value: Any) -> None:
    """Set ``value`` at ``path`` (see ``engine.paths``) inside ``target``, creating dicts."""
    *parents, leaf = paths.split(path)
    node = target
    for part in parents:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[leaf] = value


def merge_patch(changes: Iterable[FieldChange]) -> dict[str, Any]:
    """A merge-patch body for ``changes``: new values at their paths, ``None`` where removed.

    Lists are atomic values (a change to a list carries the whole new list).
    """
    body: dict[str, Any] = {}
    for change in sorted(changes, key=lambda c: c.path.count(".")):
        value = None if change.op == "remove" else copy_json(change.new)
        set_path(body, change.path, value)
    return body


def patch_body(desired: dict[str, Any], changes: Iterable[FieldChange]) -> dict[str, Any]:
    """The patch for ``changes``, each touched top-level map completed with its desired value.

    Sending the user's whole map (not only the changed leaf) gives the same result whether
    the API merges nested objects or replaces them.
    """
    body = merge_patch(changes)
    for key, value in body.items():
        want = desired.get(key)
        if isinstance(value, dict) and isinstance(want, dict):
            body[key] = _deep_merge(want, value)
    return body


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy_json(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = copy_json(value)
    return out


# --- value normalisation -------------------------------------------------------------

def int64(value: Any) -> Any:
    """REST encodes int64 as a JSON string: ``3600`` and ``"3600"`` both become ``"3600"``."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return str(int(value))
    return value


def int64_at(body: dict[str, Any], at: Iterable[str]) -> None:
    """Apply ``int64`` in place at each dotted path present in ``body``."""
    for path in at:
        value = paths.get(body, path)
        if value is not paths.MISSING:
            set_path(body, path, int64(value))


def with_defaults(live: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    """``live`` with API defaults filled at dotted paths the server leaves out when unset."""
    out = copy_json(live)
    for path, value in defaults.items():
        if paths.get(out, path, None) is None:
            set_path(out, path, value)
    return out


def check_labels(labels: dict[str, str] | None) -> dict[str, str] | None:
    """Validate GCP label keys/values (lowercase letters, digits, ``_``, ``-``; <= 63 chars)."""
    for key, value in (labels or {}).items():
        if not _label_ok(key) or not key[:1].isalpha():
            raise ValueError(f"label key {key!r}: use lowercase letters, digits, '_' or '-', "
                             "starting with a letter, at most 63 characters")
        if "${" not in value and not (value == "" or _label_ok(value)):
            raise ValueError(f"label {key}={value!r}: values may hold lowercase letters, "
                             "digits, '_' or '-', at most 63 characters")
    return labels


def _label_ok(text: str) -> bool:
    return (0 < len(text) <= 63 and text == text.lower()
            and all(ch.isalnum() or ch in "_-" for ch in text))
