"""Long-running operations shared by the emulated services that have them.

How long a new operation takes before it reports ``done`` is one process-wide setting:
``set_operation_duration(seconds)`` (what ``Emulator.set_operation_duration`` calls;
``operation_duration()`` reads it, ``done_at()`` is now plus it, ``is_done(done_at)``
tells). Services may keep their own operation records (compute does) or use the helpers
below: operations live in the service's JSON state (a dict passed in), so they survive
persistence; each one carries an ``effect`` the service applies
once, when the operation is first seen done (``settle``) - so state changes when
the operation completes, as in GCP.

Stored shape: ``{"name", "doneAt": epoch seconds, "effect": any, "settled": bool,
"response"?: {...}, "metadata"?: {...}, "error"?: {"code", "message"}}``; rendered in
the ``google.longrunning.Operation`` JSON shape.
"""

from __future__ import annotations

import time
from typing import Any

DEFAULT_DURATION = 0.0   # done at once unless a test or a person asks for slower operations


_duration = DEFAULT_DURATION


def set_operation_duration(seconds: float) -> None:
    """How long operations started from now on take (process-wide: tests run one at a time)."""
    global _duration
    if seconds < 0:
        raise ValueError("operation duration must be >= 0")
    _duration = float(seconds)


def operation_duration() -> float:
    return _duration


def done_at() -> float:
    """When an operation started now will be done (epoch seconds)."""
    return time.time() + _duration


def start(table: dict[str, Any], *, name: str, effect: Any = None,
          response: dict[str, Any] | None = None,
          metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    """Record a new operation in ``table`` (name -> stored op) and return the stored op."""
    op: dict[str, Any] = {"name": name, "doneAt": done_at(),
                          "effect": effect, "settled": False}
    if response is not None:
        op["response"] = response
    if metadata is not None:
        op["metadata"] = metadata
    table[name] = op
    return op


def is_done(when: float | dict[str, Any]) -> bool:
    """Whether an operation is done: ``when`` is its ``doneAt`` time, or a stored op."""
    done_time = when["doneAt"] if isinstance(when, dict) else when
    return time.time() >= done_time


def due(table: dict[str, Any]) -> list[dict[str, Any]]:
    """Operations that are done but whose effect is not applied yet; marks them settled."""
    ready = [op for op in table.values() if not op["settled"] and is_done(op)]
    ready.sort(key=lambda op: op["doneAt"])
    for op in ready:
        op["settled"] = True
    return ready


def render(op: dict[str, Any]) -> dict[str, Any]:
    """The ``google.longrunning.Operation`` JSON of a stored op."""
    out: dict[str, Any] = {"name": op["name"]}
    if "metadata" in op:
        out["metadata"] = op["metadata"]
    if is_done(op):
        out["done"] = True
        if "error" in op:
            out["error"] = op["error"]
        elif "response" in op:
            out["response"] = op["response"]
    return out
