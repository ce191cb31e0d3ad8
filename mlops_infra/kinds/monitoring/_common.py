"""What the Cloud Monitoring kinds share: REST-shaped messages, durations, errors, serialising.

* ``as_rest``/``message``/``mask``/``top_fields`` (from ``kinds._proto``): monitoring_v3 speaks
  gRPC only, so live state is the message as its REST JSON and requests are built from it.
* ``seconds``: durations as the API returns them (``"300s"``) from a spec's ``300``,
  ``"300s"``, ``"5m"`` or ``"1h"``.
* ``monitoring_errors``: ``translate_errors``, and Google's 409 "Too many concurrent edits to
  the project configuration" (gRPC ABORTED) is transient: retried, as Terraform retries it
  (``transport_tpg.IsMonitoringConcurrentEditError``: 409 with "too many concurrent edits" or
  "could not fulfill the request").
* ``serial_key``: every Monitoring configuration change of one project runs one at a time
  (the engine's ``Kind.serial_key``), as Terraform's per-project mutex does (magic-modules
  AlertPolicy.yaml ``mutex: alertPolicy/{{project}}``, NotificationChannel.yaml
  ``stackdriver/notifications/{{project}}``) and the API asks ("single-thread API calls that
  modify the state of notification channels in a single project", notification_service.proto).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from mlops_infra.engine import errors
from mlops_infra.engine.kind import Imported, ImportedList, ResourceId
from mlops_infra.kinds._base import translate_errors
from mlops_infra.kinds._proto import as_rest, mask, message, snake, top_fields

__all__ = ["MONITORING_API", "as_rest", "imported_server_named", "live_server_named",
           "read_or_none", "mask", "message", "monitoring_errors", "seconds", "serial_key",
           "server_named_id", "snake", "top_fields", "known_only"]

MONITORING_API = "monitoring.googleapis.com"
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*([smh]?)$")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600}
_CONCURRENT = ("too many concurrent edits", "could not fulfill the request")


def seconds(value: Any) -> Any:
    """``300``, ``"300"``, ``"300s"``, ``"5m"``, ``"1h"`` -> ``"300s"``; other values unchanged
    (the model rejects them)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return f"{_number(float(value))}s"
    if isinstance(value, str):
        match = _DURATION.match(value.strip())
        if match:
            return f"{_number(float(match.group(1)) * _UNIT[match.group(2)])}s"
    return value


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else repr(value)


def serial_key(rid: ResourceId) -> str:
    project = rid.parts.get("projects") or rid.scope.removeprefix("projects/").split("/")[0]
    return f"monitoring-config:{project}"


def server_named_id(kind: str, ctx: Any) -> ResourceId:
    """A resource the server names: no API name yet, listed per project."""
    return ResourceId(kind=kind, name="", scope=f"projects/{ctx.project}",
                      parts={"projects": ctx.project})


@contextmanager
def monitoring_errors(what: str) -> Iterator[None]:
    """``translate_errors``, with Monitoring's concurrent-edit 409 made transient (retried)."""
    from google.api_core.exceptions import Aborted, Conflict

    with translate_errors(what):
        try:
            yield
        except (Aborted, Conflict) as exc:
            if any(text in str(exc.message).lower() for text in _CONCURRENT):
                raise errors.TransientError(f"409 Conflict: {what}: {exc.message} (another "
                                            "Monitoring change in the project is running)",
                                            status=409) from exc
            raise


def read_or_none(what: str, call: Callable[[], Any]) -> dict[str, Any] | None:
    """``call()``'s message as REST JSON (under ``monitoring_errors``), ``None`` when not found."""
    from google.api_core.exceptions import NotFound

    with monitoring_errors(what):
        try:
            return as_rest(call())
        except NotFound:
            return None


def imported_server_named(attributes: Mapping[str, Any], fields: dict[str, Any],
                          known: tuple[str, ...], notes: tuple[str, ...] = (),
                          **extra: Any) -> ImportedList:
    """The one spec entry of a Terraform instance whose ``name`` the server chose
    (``projects/P/alertPolicies/ID``...): that full name goes to the ledger (``api_name``),
    which is how the resource is found again; the entry's name is the Terraform address's."""
    from mlops_infra.kinds._imports import leftovers

    return [Imported(name="", project=attributes.get("project"), fields=fields,
                     notes=leftovers(attributes, ("name", "user_labels", *known)) + notes,
                     api_name=str(attributes.get("name") or ""), **extra)]


def live_server_named(name: str, live: Mapping[str, Any], fields: dict[str, Any],
                      notes: tuple[str, ...] = (), **extra: Any) -> ImportedList:
    """The one spec entry of a live resource the server named (``name``, its API name, goes
    to the ledger); the entry is called after its display name (its address), the server's
    numeric id saying nothing."""
    import re

    readable = re.sub(r"[^a-z0-9]+", "-", str(live.get("displayName") or "").lower()).strip("-")
    return [Imported(name=readable[:63].strip("-"), project=name.split("/")[1], fields=fields,
                     notes=notes, api_name=name, **extra)]


def known_only(model: Any, value: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """``value`` (REST JSON) with only the fields the pydantic spec ``model`` holds, nested
    models walked too (maps and free-form fields kept whole), and the paths left out."""
    from mlops_infra.kinds._imports import _nested

    out: dict[str, Any] = {}
    dropped: list[str] = []
    for key, item in value.items():
        info = model.model_fields.get(key)
        if info is None:
            dropped.append(key)
            continue
        nested, repeated = _nested(info.annotation)
        if nested is not None and repeated and isinstance(item, list):
            kept = []
            for element in item:
                shaped, lost = known_only(nested, element) if isinstance(element, dict) \
                    else (element, [])
                kept.append(shaped)
                dropped += [f"{key}[].{path}" for path in lost]
            out[key] = kept
        elif nested is not None and isinstance(item, dict):
            out[key], lost = known_only(nested, item)
            dropped += [f"{key}.{path}" for path in lost]
        else:
            out[key] = item
    return out, sorted(set(dropped))
