"""A local, wire-level emulator of the Google Cloud APIs mlops_infra uses.

The real google-cloud-* client libraries talk to it over HTTP exactly as they talk to
Google. Start one in-process with ``Emulator.start(...)`` or in the foreground with
``serve(...)`` (what ``python -m mlops_infra emulator`` calls).
"""

from mlops_infra.emulator.emulator import Emulator
from mlops_infra.emulator.journal import JournalEntry
from mlops_infra.emulator.persistence import StateFileError
from mlops_infra.emulator.serve import serve

__all__ = ["Emulator", "JournalEntry", "StateFileError", "serve"]
