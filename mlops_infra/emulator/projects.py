"""Project facts several emulated services share: a stable project number per project id."""

from __future__ import annotations

import hashlib


def project_number(project: str) -> str:
    """A stable 12-digit project number for ``project`` (a number is returned as it is)."""
    if project.isdigit():
        return project
    digest = int(hashlib.sha256(project.encode()).hexdigest(), 16)
    return str(100_000_000_000 + digest % 900_000_000_000)
