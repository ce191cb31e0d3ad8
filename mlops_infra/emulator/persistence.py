"""Loading and atomically saving the emulator's state to a JSON file (``--local`` mode)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1


def load_states(path: Path) -> dict[str, Any]:
    """The per-service states saved at ``path``; ``{}`` when the file does not exist."""
    try:
        raw = path.read_text()
    except FileNotFoundError:
        return {}
    document = json.loads(raw)
    if document.get("version") != SCHEMA_VERSION:
        raise ValueError(f"{path}: unsupported emulator state version {document.get('version')!r}")
    return dict(document.get("services", {}))


def save_states(path: Path, states: dict[str, Any]) -> None:
    """Write all states to ``path`` atomically (temporary file in the same directory + rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = json.dumps({"version": SCHEMA_VERSION, "services": states})
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(payload)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
