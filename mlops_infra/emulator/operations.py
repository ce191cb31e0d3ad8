"""Long-running operations shared by the emulated services that have them.

How long a new operation takes is the owning emulator's ``Delays.operation_for(service)``
(``emulator/realism.py``: realistic by default, one knob with per-service overrides); a
service passes it to ``start``. ``set_operation_duration`` is the older process-wide knob:
while set, it overrides every emulator's durations (``reset_operation_duration`` clears it);
prefer ``Emulator.set_operation_duration`` / ``Emulator.set_delays``.

Operations live in the service's JSON state (a dict passed in), so they survive persistence.
Stored shape: ``{"name", "doneAt": epoch seconds, "effect": any, "settled": bool,
"response"?: {...}, "metadata"?: {...}, "error"?: {"code", "message"}}``; rendered in
the ``google.longrunning.Operation`` JSON shape.
"""

from __future__ import annotations

import time
from typing import Any

_process_override: float | None = None


def set_operation_duration(seconds: float | None) -> None:
    """Process-wide: operations started from now on take ``seconds`` (``None`` = no override)."""
    global _process_override
    if seconds is not None and seconds < 0:
        raise ValueError("operation duration must be >= 0")
    _process_override = None if seconds is None else float(seconds)


def reset_operation_duration() -> None:
    set_operation_duration(None)


def effective_duration(configured: float) -> float:
    """``configured`` unless the process-wide override is set."""
    return configured if _process_override is None else _process_override


def done_at(duration: float) -> float:
    """When an operation started now and lasting ``duration`` will be done (epoch seconds)."""
    return time.time() + effective_duration(duration)


def start(table: dict[str, Any], *, name: str, duration: float, effect: Any = None,
          response: dict[str, Any] | None = None,
          metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    """Record a new operation in ``table`` (name -> stored op) and return the stored op."""
    op: dict[str, Any] = {"name": name, "doneAt": done_at(duration),
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
    """The ``google.longrunning.Operation`` JSON of a stored op.

    An op with an effect is done only once that effect is applied (``due`` marked it settled):
    its time may pass between a service settling its ops and rendering this one, and a done
    operation carries its result ("If `done` == `true`, exactly one of `error` or `response` can
    be set", googleapis google/longrunning/operations.proto)."""
    out: dict[str, Any] = {"name": op["name"]}
    if "metadata" in op:
        out["metadata"] = op["metadata"]
    if op["settled"] if op.get("effect") is not None else is_done(op):
        out["done"] = True
        if "error" in op:
            out["error"] = op["error"]
        elif "response" in op:
            out["response"] = op["response"]
    return out
