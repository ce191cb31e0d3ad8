"""The state ledger: what this tool owns per stack, in GCS or local files, plus a lease lock.

See ``ledger.Ledger`` for the entry point; ``document`` for the JSON format,
``writer`` for coalesced compare-and-swap writes, ``lease`` for the lock.
"""

from mlops_infra.ledger.backend import Backend, StoredObject
from mlops_infra.ledger.document import (
    LEDGER_SCHEMA_VERSION,
    MAX_RUNS,
    Intent,
    LedgerEntry,
    LedgerState,
    utc_now,
)
from mlops_infra.ledger.gcs import GcsBackend, ensure_ledger_bucket
from mlops_infra.ledger.lease import Lease
from mlops_infra.ledger.ledger import Ledger
from mlops_infra.ledger.local import LocalBackend
from mlops_infra.ledger.writer import LedgerRolledBack, LedgerWriter

__all__ = [
    "LEDGER_SCHEMA_VERSION",
    "MAX_RUNS",
    "Backend",
    "GcsBackend",
    "Intent",
    "Lease",
    "Ledger",
    "LedgerEntry",
    "LedgerRolledBack",
    "LedgerState",
    "LedgerWriter",
    "LocalBackend",
    "StoredObject",
    "ensure_ledger_bucket",
    "utc_now",
]
