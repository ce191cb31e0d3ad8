"""What the kinds share to move existing resources in: reading the google provider's state
attributes, and cleaning live resources into spec fields.

Terraform state (format version 4) holds each instance's attributes as the provider's schema
names them (snake_case, GoogleCloudPlatform/magic-modules ``mmv1/products/*/*.yaml`` and the
hand-written ``mmv1/third_party/terraform/services/*``): nested blocks are lists (a block with
``MaxItems: 1`` is a one-item list), unset optional attributes are ``null``, ``""``, ``0``,
``false`` or an empty list. Labels come in three maps since provider 5.0: ``labels`` (what the
resource's configuration wrote), ``terraform_labels`` (that plus the provider's
``default_labels`` and its attribution label ``goog-terraform-provisioned``) and
``effective_labels`` (everything on the resource, whoever set it): the user set
``terraform_labels`` minus the attribution label (magic-modules
``tpgresource/labels.go``, ``transport/config.go.tmpl`` ``AttributionKey``).

Only the kinds read attribute names; the importer (``mlops_infra.importers``) never does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from mlops_infra.engine.kind import ADDRESS_LABEL, MANAGED_BY_LABEL, STACK_LABEL, BadAttribute
from mlops_infra.spec.jsonload import JsonProblem, load_json

ATTRIBUTION_LABEL = "goog-terraform-provisioned"   # the provider's own label, not the user's
_OURS = frozenset({MANAGED_BY_LABEL, STACK_LABEL, ADDRESS_LABEL, ATTRIBUTION_LABEL})

# Attributes every google resource carries that say nothing about what the user set.
COMPUTED = frozenset({"id", "project", "self_link", "etag", "creation_time", "creation_timestamp",
                      "terraform_labels", "effective_labels", "labels", "timeouts",
                      "last_modified_time", "project_number", "time_created", "updated",
                      "deletion_protection", "force_destroy", "url",
                      "delete_contents_on_destroy"})


def unset(value: Any) -> bool:
    """Whether a state attribute holds nothing (``null``, ``""``, ``0``, ``false``, empty)."""
    return value is None or value is False or value == "" or value == 0 or value in ([], {})


def block(attributes: Mapping[str, Any], name: str) -> dict[str, Any]:
    """A ``MaxItems: 1`` block (a one-item list in state), ``{}`` when absent."""
    value = attributes.get(name)
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return dict(value[0])
    return dict(value) if isinstance(value, dict) else {}


def blocks(attributes: Mapping[str, Any], name: str) -> list[dict[str, Any]]:
    """A repeated block (a list of objects in state)."""
    value = attributes.get(name) or []
    return [dict(item) for item in value if isinstance(item, dict)]


def user_labels(labels: Any) -> dict[str, str]:
    """Labels without mlops-infra's own nor the provider's attribution label."""
    if not isinstance(labels, dict):
        return {}
    return {str(k): str(v) for k, v in labels.items() if k not in _OURS}


def terraform_labels(attributes: Mapping[str, Any], *, prefix: str = "") -> dict[str, str]:
    """What the configuration set: ``terraform_labels`` (provider >= 5) or else ``labels``."""
    chosen = attributes.get(f"{prefix}terraform_labels")
    if not isinstance(chosen, dict):
        chosen = attributes.get(f"{prefix}labels")
    return user_labels(chosen)


def put(fields: dict[str, Any], key: str, value: Any, *, default: Any = None) -> None:
    """Set ``fields[key]`` unless ``value`` is unset or equals the API ``default``."""
    if value is None or value == "" or value in ([], {}) or value == default:
        return
    fields[key] = value


def leftovers(attributes: Mapping[str, Any], known: Iterable[str]) -> tuple[str, ...]:
    """Notes for attributes set in state that the kind's spec cannot hold (they stay as
    they are live, unmanaged)."""
    skip = COMPUTED | set(known)
    extra = sorted(k for k, v in attributes.items() if k not in skip and not unset(v))
    return (f"not carried over (left as it is live): {', '.join(extra)}",) if extra else ()


def integer(value: Any, path: tuple[str | int, ...]) -> int | None:
    """An integer attribute (the provider writes numbers, some as strings of digits), ``None``
    when unset; ``BadAttribute`` naming ``path`` for anything else."""
    if value is None or value == "":
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int | str) \
            or (isinstance(value, str) and not value.strip().lstrip("-").isdigit()):
        raise BadAttribute(path, f"{value!r} is not an integer")
    return int(value)


def embedded_json(value: Any, path: tuple[str | int, ...]) -> Any:
    """An attribute holding a JSON document as a string (``policy_data``, a table's ``schema``,
    ``dashboard_json``), ``None`` when unset; ``BadAttribute`` naming ``path`` when it is not
    JSON this package reads (``spec.jsonload``)."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise BadAttribute(path, "must be a string holding JSON")
    try:
        return load_json(value)
    except JsonProblem as exc:
        raise BadAttribute(path, f"not JSON ({exc})") from None


def condition(raw: Mapping[str, Any] | None) -> dict[str, str] | None:
    """An IAM condition block as the spec writes it (``title``, ``expression``, ``description``)."""
    if not raw:
        return None
    out = {k: str(raw[k]) for k in ("title", "expression", "description") if raw.get(k)}
    return out or None


def last_segment(value: str) -> str:
    """The last ``/``-separated part of a resource name or URL."""
    return value.rstrip("/").rsplit("/", 1)[-1]


def shaped(model: Any, attributes: Mapping[str, Any], *,
           skip: Iterable[str] = ()) -> dict[str, Any]:
    """The fields of the pydantic ``model`` (a spec model with REST names) that ``attributes``
    set, read where the provider's schema keeps them: magic-modules generates its snake_case
    attribute names from the REST names, and nested messages are blocks (a one-item list for
    a message field, a list for a repeated one). Unset attributes (``unset``) are left out,
    so only what the configuration wrote remains; a kind then adjusts what differs (defaults
    the provider writes into state, renamed or flattened attributes). ``skip``: spec fields
    to leave out (the kind maps them itself)."""
    out: dict[str, Any] = {}
    left_out = set(skip)
    for key, info in model.model_fields.items():
        if key in left_out:
            continue
        value = attributes.get(_snake(key))
        nested, repeated = _nested(info.annotation)
        if nested is not None and repeated:
            items = [shaped(nested, item) for item in blocks(attributes, _snake(key))]
            value = [item for item in items if item] or None
        elif nested is not None and isinstance(value, list):
            value = shaped(nested, block(attributes, _snake(key))) or None
        if not unset(value):
            out[key] = value
    return out


def _snake(name: str) -> str:
    import re

    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _nested(annotation: Any) -> tuple[Any, bool]:
    """The spec model an annotation holds (``X | None``, ``list[X] | None``, ``X | str``) and
    whether it is a list of them; ``(None, False)`` for scalars, maps and plain lists."""
    import types
    import typing

    from pydantic import BaseModel

    union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
    options = typing.get_args(annotation) if union else (annotation,)
    for option in options:
        if isinstance(option, type) and issubclass(option, BaseModel):
            return option, False
        if typing.get_origin(option) is list:
            (item,) = typing.get_args(option) or (None,)
            if isinstance(item, type) and issubclass(item, BaseModel):
                return item, True
    return None, False
