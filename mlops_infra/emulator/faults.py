"""Seeded fault injection: which service requests fail, how, and when.

A fault is decided per matching request from one ``random.Random(seed)``, so the same
sequence of requests meets the same faults. ``before`` faults fail without processing;
``after`` faults process the request and then lose the answer (an error status or a
connection reset instead of the real response).
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterable
from dataclasses import dataclass

PHASES = ("before", "after", "random")
RESET = 0   # the "status" of a connection reset


@dataclass(frozen=True)
class Fault:
    """What to do to one request: ``status`` (``RESET`` = drop the connection) and phase."""

    status: int
    phase: str   # "before" or "after"


class FaultInjector:
    """Decides faults for requests; thread-safe; inactive until configured."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rate = 0.0
        self._rng = random.Random(0)
        self._choices: tuple[int, ...] = ()
        self._phase = "random"
        self._methods: frozenset[str] | None = None
        self._services: frozenset[str] | None = None

    def configure(self, *, rate: float = 0.3, statuses: Iterable[int] = (503, 429),
                  seed: int = 1, phase: str = "random", methods: Iterable[str] | None = None,
                  services: Iterable[str] | None = None, resets: bool = True) -> None:
        if phase not in PHASES:
            raise ValueError(f"phase must be one of {PHASES}, not {phase!r}")
        if not 0.0 <= rate <= 1.0:
            raise ValueError("rate must be between 0 and 1")
        choices = tuple(int(s) for s in statuses) + ((RESET,) if resets else ())
        if not choices:
            raise ValueError("give at least one status, or resets=True")
        with self._lock:
            self._rate, self._rng, self._choices, self._phase = (
                rate, random.Random(seed), choices, phase)
            self._methods = frozenset(m.upper() for m in methods) if methods else None
            self._services = frozenset(services) if services else None

    def clear(self) -> None:
        with self._lock:
            self._rate = 0.0

    def decide(self, *, service: str, method: str) -> Fault | None:
        """The fault for this request, or ``None``; consumes randomness only when it applies."""
        with self._lock:
            if self._rate <= 0.0 or not self._applies(service, method):
                return None
            if self._rng.random() >= self._rate:
                return None
            status = self._rng.choice(self._choices)
            phase = self._phase if self._phase != "random" else self._rng.choice(("before", "after"))
            return Fault(status=status, phase=phase)

    def _applies(self, service: str, method: str) -> bool:
        if self._services is not None and service not in self._services:
            return False
        return self._methods is None or method in self._methods
