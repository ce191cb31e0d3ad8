"""Sensitive values never reach the spec or the ledger: they become ``secrets:`` to fill in.

A field is sensitive when Terraform marks the attribute it came from sensitive
(``sensitive_attributes`` in the state) or the kind says so (``Imported.secrets``). Its value
is dropped and the field says ``${secrets.NAME}``; the spec's ``secrets:`` section names
where the value is to come from, ``{env: NAME}`` to begin with (point it at Secret Manager
with ``{secretManager: projects/P/secrets/S/versions/V}``). The section is the one
``spec/secrets.py`` reads.
"""

from __future__ import annotations

import re
from typing import Any

from mlops_infra.importers.model import Entry


def secret_name(address: str, path: str) -> str:
    """A secret's name from where it is used: ``alerts-slack`` + ``labels.auth_token`` ->
    ``alerts_slack_auth_token``."""
    leaf = path.rsplit(".", 1)[-1]
    return re.sub(r"[^A-Za-z0-9_]+", "_", f"{address}_{leaf}").strip("_").lower()


def extract(entries: list[Entry]) -> dict[str, dict[str, str]]:
    """Replace every sensitive field by its secret reference (in place); the ``secrets:``
    section those references need."""
    section: dict[str, dict[str, str]] = {}
    for entry in entries:
        for path, what in sorted(entry.secrets.items()):
            name = secret_name(entry.address, path)
            if _replace(entry.fields, path.split("."), f"${{secrets.{name}}}"):
                section[name] = {"env": name.upper()}
                entry.notes.append(f"{path} is sensitive ({what}): fill in secret '{name}' "
                                   f"(set ${name.upper()}, or point it at Secret Manager)")
    return section


def _replace(node: Any, keys: list[str], value: str) -> bool:
    for key in keys[:-1]:
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    if not isinstance(node, dict) or keys[-1] not in node:
        return False
    node[keys[-1]] = value
    return True
