"""A rescue copy of a ledger this run could not safely write (see ``LedgerRolledBack``).

Written under ``.mlops_infra/rescue/`` in the working directory: the ledger never holds
secret values (secret fields are stored as digests), so the copy is safe on disk.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from mlops_infra.ledger.document import LedgerState, render_document

RESCUE_DIR = Path(".mlops_infra") / "rescue"


def save_rescue_copy(state: LedgerState, directory: Path = RESCUE_DIR) -> Path:
    """Write ``state`` as a ledger document; returns its path."""
    directory.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=directory, suffix=".json",
                                prefix=f"{state.stack}-{time.strftime('%Y%m%dT%H%M%S')}-")
    with os.fdopen(fd, "wb") as handle:
        handle.write(render_document(state))
    return Path(name)
