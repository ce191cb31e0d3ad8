"""Helpers shared by the emulated Compute Engine resources: canonical URLs, ids, timestamps,
Compute-shaped errors, request bodies and name checks."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from mlops_infra.emulator.core import HttpError, Request

# Compute answers canonical selfLinks on Google's host, whatever address the client used.
API_ROOT = "https://www.googleapis.com/compute/v1/"
_NAME = re.compile(r"^[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?$")


def project_url(project: str) -> str:
    return f"{API_ROOT}projects/{project}"


def global_url(project: str, collection: str, name: str) -> str:
    return f"{project_url(project)}/global/{collection}/{name}"


def region_url(project: str, region: str) -> str:
    return f"{project_url(project)}/regions/{region}"


def regional_url(project: str, region: str, collection: str, name: str) -> str:
    return f"{region_url(project, region)}/{collection}/{name}"


def zone_url(project: str, zone: str) -> str:
    return f"{project_url(project)}/zones/{zone}"


def zonal_url(project: str, zone: str, collection: str, name: str) -> str:
    return f"{zone_url(project, zone)}/{collection}/{name}"


def region_of(zone: str) -> str:
    return zone.rsplit("-", 1)[0]


def timestamp() -> str:
    """Compute's RFC 3339 timestamps carry a zone offset, not ``Z``."""
    moment = datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}-00:00"


def body_object(request: Request) -> dict[str, Any]:
    body = request.json()
    if not isinstance(body, dict):
        raise invalid("The request body must be a JSON object")
    return body


def check_name(name: Any, *, field: str = "resource.name") -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise invalid(f"Invalid value for field '{field}': '{name}'. Must be a match of regex "
                      "'(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'", reason="invalid")
    return name


def invalid(message: str, *, reason: str = "invalid") -> HttpError:
    return HttpError(400, message, reason=reason)


def not_found(link: str) -> HttpError:
    return HttpError(404, f"The resource '{_short(link)}' was not found", reason="notFound")


def already_exists(link: str) -> HttpError:
    return HttpError(409, f"The resource '{_short(link)}' already exists", reason="alreadyExists")


def in_use(link: str, user: str) -> HttpError:
    return HttpError(400, f"The network resource '{_short(link)}' is already being used by "
                          f"'{_short(user)}'", reason="resourceInUseByAnotherResource")


def _short(link: str) -> str:
    return link.removeprefix(API_ROOT)


def network_link(value: Any, *, project: str, field: str) -> str:
    """A network reference (full URL or ``[projects/P/]global/networks/N``) as a full URL."""
    if not isinstance(value, str):
        raise invalid(f"Invalid value for field '{field}': '{value}'.")
    match = re.fullmatch(r"(?:(?:https?://[^/]+)?/?compute/v1/)?(?:projects/([^/]+)/)?"
                         r"global/networks/([^/]+)", value)
    if not match:
        raise invalid(f"Invalid value for field '{field}': '{value}'. The URL is malformed.")
    return global_url(match.group(1) or project, "networks", match.group(2))


def project_of(link: str) -> str:
    return _short(link).split("/")[1]


def refuse_immutable(body: dict[str, Any], current: dict[str, Any], allowed: frozenset[str],
                     *, what: str) -> None:
    """Refuse a patch that changes a field which cannot change after creation."""
    for key, value in body.items():
        if key not in allowed and value != current.get(key):
            raise invalid(f"Invalid value for field '{what}.{key}': it cannot be changed "
                          "after creation.")
