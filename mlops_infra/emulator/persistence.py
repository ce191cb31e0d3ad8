"""The emulator's state file (``--local`` mode, ``emulator --state``): one JSON document of
sections by service name (``{"version": 1, "revision": R, "services": {NAME: STATE}}``).

Several processes may use one file at once (two ``--local`` runs in one folder, each with only
the services its spec needs, or a ``--local`` run beside ``emulator --state``). So:

* a save rewrites the whole document atomically (temporary file in the same directory, then
  rename) and keeps every section it was not given exactly as it is on disk: a section of a
  service this process did not start, or one it does not know (written by another version);
* the file is used under an ``flock`` on ``.NAME.lock`` next to it (exclusive to change it,
  shared to read it), and that file holds the ``revision`` of the current document, so a
  process sees at the cost of a few bytes' read whether someone else wrote since it last read;
* a document of another ``version`` is refused, never rewritten.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1


class StateFileError(ValueError):
    """The state file cannot be used (not JSON, not an object, another version): left as is."""


class StateFile:
    """One state file, shared with other processes through its lock file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock_path = path.with_name(f".{path.name}.lock")
        self.sections: dict[str, Any] = {}     # as last read or written by this process
        self._revision: str | None = None       # of that document ("" = no file)

    @contextmanager
    def locked(self, *, exclusive: bool) -> Iterator[bool]:
        """Hold the file (exclusive: to write it); yields whether it changed since this
        process last read or wrote it (then ``read()`` it again)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            yield os.pread(fd, 64, 0).decode("ascii", "replace") != self._revision
        finally:
            os.close(fd)      # releases the lock

    def read(self) -> dict[str, Any]:
        """The sections on disk (``{}`` without a file); hold ``locked`` around it."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            self.sections, self._revision = {}, ""
            return {}
        document = _parsed(self.path, raw)
        self.sections = document["services"]
        self._revision = str(document.get("revision", ""))
        return self.sections

    def write(self, sections: dict[str, Any]) -> None:
        """Replace the sections named in ``sections``, keep the others as read; hold
        ``locked(exclusive=True)`` (and ``read()`` first if it changed)."""
        merged = {**self.sections, **sections}
        revision = uuid.uuid4().hex
        payload = json.dumps({"version": SCHEMA_VERSION, "revision": revision, "services": merged})
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.",
                                   suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(payload)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._note_revision(revision)
        self.sections, self._revision = merged, revision

    def _note_revision(self, revision: str) -> None:
        fd = os.open(self.lock_path, os.O_WRONLY)
        try:
            os.pwrite(fd, revision.encode("ascii"), 0)
            os.ftruncate(fd, len(revision))
        finally:
            os.close(fd)


def _parsed(path: Path, raw: bytes) -> dict[str, Any]:
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise StateFileError(f"{path}: not an emulator state file ({type(exc).__name__})") from None
    if not isinstance(document, dict):
        raise StateFileError(f"{path}: not an emulator state file (not a JSON object)")
    version = document.get("version")
    if version != SCHEMA_VERSION:
        raise StateFileError(f"{path}: emulator state version {version!r} (written by another "
                             f"version of mlops_infra?); this one reads version {SCHEMA_VERSION}")
    services = document.get("services", {})
    if not isinstance(services, dict) or not all(isinstance(s, dict) for s in services.values()):
        raise StateFileError(f"{path}: not an emulator state file ('services' is not an object "
                             "of objects)")
    return document

