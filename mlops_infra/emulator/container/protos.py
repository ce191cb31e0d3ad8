"""Request bodies read the way Google's front end reads them: through the API's own protos.

The container REST client sends enums as integers (``$alt=json;enum-encoding=int``) and drops
proto3 defaults; Google parses the JSON into the request proto, so an unknown field is a 400
("Invalid JSON payload received. Unknown name ..."), an enum may come as a name or a number,
and what is stored is the canonical JSON (camelCase, enum names, int64 as strings). The
message classes are googleapis' ``google/container/v1/cluster_service.proto`` as the installed
google-cloud-container ships them; a message field sent empty (``{"labels": {}}``) stays
present, which is how UpdateNodePool tells "clear" from "leave alone".
"""

from __future__ import annotations

from typing import Any

from mlops_infra.emulator.core import HttpError


def parse(body: Any, message: str) -> dict[str, Any]:
    """``body`` parsed as ``google.container.v1.<message>`` and rendered canonically."""
    from google.cloud import container_v1
    from google.protobuf import json_format

    if not isinstance(body, dict):
        raise HttpError(400, "Invalid JSON payload received. Expected an object.",
                        reason="badRequest")
    pb = getattr(container_v1, message).pb()()
    try:
        json_format.ParseDict(body, pb)
    except json_format.ParseError as exc:
        first = str(exc).splitlines()[0]
        raise HttpError(400, f"Invalid JSON payload received. {first}",
                        reason="badRequest") from None
    rendered: dict[str, Any] = json_format.MessageToDict(pb)
    return rendered
