"""``python -m mlops_infra emulator``: run the emulator in the foreground until a signal."""

from __future__ import annotations

import json
import signal
import sys
import threading
from collections.abc import Iterable
from pathlib import Path

from mlops_infra.emulator.emulator import Emulator


def serve(*, services: Iterable[str] | None = None, state_path: str | Path | None = None) -> None:
    """Start, print the endpoints as one JSON line, block until SIGINT/SIGTERM, stop."""
    stopping = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stopping.set())
                for sig in (signal.SIGINT, signal.SIGTERM)}
    emulator = Emulator.start(services=tuple(services) if services else None,
                              state_path=state_path)
    try:
        sys.stdout.write(json.dumps(emulator.endpoints) + "\n")
        sys.stdout.flush()
        while not stopping.wait(0.5):
            pass
    finally:
        emulator.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
