"""What the Monitoring handlers share: message <-> JSON, names, errors, paging, filters on
listings, user labels, and the one-edit-at-a-time rule per project.

State keeps every resource in its REST JSON form (camelCase, defaults omitted), as
``json_format.MessageToDict`` writes it; responses are built back from that JSON.
"""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Callable
from typing import Any

import grpc

from mlops_infra.emulator.core import Deferred
from mlops_infra.emulator.grpc_core import RpcError

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
_USER_LABEL = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
_USER_VALUE = re.compile(r"^[a-z0-9_-]{0,63}$")
CONCURRENT_EDITS = ("Too many concurrent edits to the project configuration. Please try again.")


def invalid(message: str) -> RpcError:
    return RpcError(grpc.StatusCode.INVALID_ARGUMENT, message)


def not_found(message: str) -> RpcError:
    return RpcError(grpc.StatusCode.NOT_FOUND, message)


def precondition(message: str) -> RpcError:
    return RpcError(grpc.StatusCode.FAILED_PRECONDITION, message)


def to_json(message: Any) -> dict[str, Any]:
    """A proto-plus (or protobuf) message as REST JSON (camelCase, defaults left out)."""
    from google.protobuf import json_format

    raw = getattr(type(message), "pb", None)
    pb = raw(message) if callable(raw) else message
    return dict(json_format.MessageToDict(pb))


def from_json(cls: Any, value: dict[str, Any]) -> Any:
    """The proto-plus ``cls`` message of REST JSON ``value``."""
    return cls.from_json(json.dumps(value), ignore_unknown_fields=True)


def project_of(name: str) -> str:
    """``projects/P/...`` -> ``P``; anything else is Google's 400."""
    parts = name.split("/")
    if len(parts) < 2 or parts[0] != "projects" or not parts[1]:
        raise invalid(f"Invalid resource name {name!r}: expected projects/[PROJECT_ID_OR_NUMBER]")
    return parts[1]


def numeric_id(state: dict[str, Any]) -> str:
    """A server-chosen numeric id (channels and alert policies have 16-20 digit ids)."""
    state["counter"] = state.get("counter", 0) + 1
    return str(10_000_000_000_000_000 + state["counter"] * 7919 + random.randint(0, 999))


def page(items: list[dict[str, Any]], *, size: int, token: str) -> tuple[list[dict[str, Any]], str]:
    """Items (sorted by name) after the name carried by ``token``; the next token or ``""``."""
    if size < 0:
        raise invalid("page_size must not be negative")
    size = min(size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    ordered = sorted(items, key=lambda item: str(item["name"]))
    if token:
        ordered = [item for item in ordered if str(item["name"]) > token]
    chosen = ordered[:size]
    return chosen, (str(chosen[-1]["name"]) if len(ordered) > size else "")


_TERM = re.compile(r'^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*=\s*"([^"]*)"\s*$')


def listing_filter(text: str) -> Callable[[dict[str, Any]], bool]:
    """The list methods' ``filter``: a conjunction of ``field = "value"`` (``user_labels.K``,
    ``type``, ``display_name``); anything richer is a 400 here (the emulator's limit)."""
    if not text.strip():
        return lambda item: True
    terms = []
    for part in re.split(r"\s+AND\s+", text.strip()):
        match = _TERM.match(part)
        if match is None:
            raise invalid(f"Unsupported filter {text!r} (the emulator accepts "
                          'field = "value" terms joined with AND)')
        terms.append((camel_path(match.group(1)), match.group(2)))
    return lambda item: all(_at(item, path) == value for path, value in terms)


def camel_path(path: str) -> list[str]:
    head, *rest = path.split(".")
    words = head.split("_")
    return [words[0] + "".join(w.title() for w in words[1:]), *rest]


def _at(item: dict[str, Any], path: list[str]) -> Any:
    value: Any = item
    for part in path:
        value = value.get(part) if isinstance(value, dict) else None
    return value


def check_user_labels(labels: dict[str, str], what: str) -> None:
    """Google's user-label rules (alert.proto / notification.proto ``user_labels``): at most
    64 entries; keys start with a letter; lowercase letters, digits, ``_`` and ``-``."""
    if len(labels) > 64:
        raise invalid(f"{what}: user_labels may hold at most 64 entries")
    for key, value in labels.items():
        if not _USER_LABEL.match(key) or not _USER_VALUE.match(value):
            raise invalid(f"{what}: invalid user label {key}={value!r}: labels and values can "
                          "contain only lowercase letters, numerals, underscores, and dashes; "
                          "keys must begin with a letter")


def mutate_time() -> dict[str, str]:
    moment = time.gmtime()
    return {"mutateTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", moment)}


class EditGate:
    """One configuration edit at a time per project (see ``realism.Delays.monitoring_edit``).

    An edit holds its project for the delay; the change is made when it ends. Another edit
    of the project meanwhile is refused with Google's 409 ABORTED "Too many concurrent edits
    to the project configuration".
    """

    def __init__(self, state: Callable[[], dict[str, Any]], seconds: Callable[[], float]) -> None:
        self.state, self.seconds = state, seconds

    def edit(self, project: str, commit: Callable[[], Any]) -> Any:
        busy = self.state().setdefault("editing", {})
        now = time.time()
        if busy.get(project, 0.0) > now:
            raise RpcError(grpc.StatusCode.ABORTED, CONCURRENT_EDITS)
        until = now + self.seconds()
        busy[project] = until

        def finish() -> Any:
            self.state().setdefault("editing", {}).pop(project, None)
            return commit()
        return Deferred(until=until, then=finish)
