"""Local-file ledger backend: ``DIR/STACK.json`` and ``DIR/STACK.lock``.

Serves notebooks, tests and the local demo. Generations live in hidden sidecar
files (``.STACK.json.gen``), and every conditional operation runs under an
exclusive ``flock`` on ``.STACK.json.guard``, so separate processes on one
machine get the same compare-and-swap semantics as GCS. Data is replaced
atomically (write a temporary file, then ``os.replace``).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from mlops_infra.engine.errors import LedgerConflict
from mlops_infra.ledger.backend import ObjectKind, StoredObject, check_stack_name


class LocalBackend:
    """Ledger objects as files in ``directory`` (created on first write)."""

    checks_delete_generation = True

    def __init__(self, *, directory: Path | str, stack: str) -> None:
        self.directory = Path(directory)
        self.stack = check_stack_name(stack)

    def location(self, what: ObjectKind) -> str:
        return str(self._path(what))

    def read(self, what: ObjectKind) -> StoredObject | None:
        if not self.directory.is_dir():
            return None
        with self._guard(what):
            return self._read_unlocked(what)

    def write(self, what: ObjectKind, data: bytes, *, if_generation_match: int) -> int:
        self.directory.mkdir(parents=True, exist_ok=True)
        with self._guard(what):
            current = self._check(what, if_generation_match)
            generation = max(self._stored_generation(what), current) + 1
            # Generation first: a crash in between leaves old data with a newer
            # generation, which only makes other writers re-read (never lose an update).
            _atomic_write(self._gen_path(what), str(generation).encode())
            _atomic_write(self._path(what), data)
            return generation

    def delete(self, what: ObjectKind, *, if_generation_match: int) -> bool:
        if not self.directory.is_dir():
            return False
        with self._guard(what):
            if not self._path(what).exists():
                return False
            self._check(what, if_generation_match)
            self._path(what).unlink()
            return True

    # --- internals ------------------------------------------------------------
    def _path(self, what: ObjectKind) -> Path:
        return self.directory / f"{self.stack}.{what}"

    def _gen_path(self, what: ObjectKind) -> Path:
        return self.directory / f".{self.stack}.{what}.gen"

    @contextlib.contextmanager
    def _guard(self, what: ObjectKind) -> Iterator[None]:
        path = self.directory / f".{self.stack}.{what}.guard"
        with open(path, "a+b") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def _read_unlocked(self, what: ObjectKind) -> StoredObject | None:
        try:
            data = self._path(what).read_bytes()
        except FileNotFoundError:
            return None
        return StoredObject(data=data, generation=max(self._stored_generation(what), 1))

    def _stored_generation(self, what: ObjectKind) -> int:
        try:
            return int(self._gen_path(what).read_text().strip() or 0)
        except (FileNotFoundError, ValueError):
            return 0

    def _check(self, what: ObjectKind, expected: int) -> int:
        current = self._read_unlocked(what)
        actual = current.generation if current else 0
        if actual != expected:
            raise LedgerConflict(f"{self.location(what)}: generation is {actual}, "
                                 f"expected {expected} (someone else wrote it)")
        return actual


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
