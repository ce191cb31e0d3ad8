"""The emulator in its own process (``python -m mlops_infra emulator``), driven through its
control API, so the benchmarked run shares neither the GIL nor memory with it."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from types import TracebackType
from typing import Any, Self


class EmulatorProcess:
    """Start with ``with EmulatorProcess() as emu:``; ``emu.endpoints`` for the clients."""

    def __init__(self) -> None:
        self._process = subprocess.Popen([sys.executable, "-m", "mlops_infra", "emulator"],
                                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                         stdin=subprocess.DEVNULL, text=True)
        assert self._process.stdout is not None
        self.endpoints: dict[str, str] = json.loads(self._process.stdout.readline())

    def control(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.endpoints["control"] + path, data=data,
                                         method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            text = response.read()
        return json.loads(text) if text else None

    def latency(self, seconds: float) -> None:
        self.control("PUT", "/latency", {"seconds": seconds})

    def delays(self, **seconds: Any) -> None:
        """Emulated delays (``operation``, ``apiEnablement``, ``iamPolicy``, ...)."""
        self.control("PUT", "/delays", seconds)

    def journal(self) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = self.control("GET", "/journal")
        return entries

    def clear_journal(self) -> None:
        self.control("DELETE", "/journal")

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._process.terminate()
        self._process.wait(timeout=30)
