"""Writing the spec: YAML in the order a person reads it, with comments saying where each
resource came from, what did not carry over, and what was not imported at all."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from mlops_infra.importers.model import Skipped
from mlops_infra.spec.envelope import API_VERSION

_ORDER = ("project", "region", "vars", "secrets", "ledger", "resources", "outputs")


def render(*, stack: str, base: Mapping[str, Any], overlays: Mapping[str, Any] | None,
           header: Sequence[str], origins: Mapping[str, Sequence[str]],
           notes: Mapping[str, Sequence[str]], skipped: Sequence[Skipped]) -> str:
    """The spec text (``overlays`` is ``None`` for a spec without environments)."""
    parts = [*(f"# {line}" for line in header), f"apiVersion: {API_VERSION}", f"stack: {stack}"]
    for key in _ORDER:
        if key == "resources":
            parts.append(_resources(base.get("resources") or {}, origins, notes))
        elif base.get(key) not in (None, {}, []):
            parts.append(_dump({key: base[key]}))
    if overlays is not None:
        parts.append(_dump({"environments": {env: overlay or {} for env, overlay in overlays.items()}}))
    if skipped:
        parts.append(_skipped(skipped))
    return "\n".join(p.rstrip("\n") for p in parts) + "\n"


def _dump(value: Any) -> str:
    return yaml.safe_dump(value, sort_keys=False, allow_unicode=True, width=100,
                          default_flow_style=False)


def _resources(resources: Mapping[str, Any], origins: Mapping[str, Sequence[str]],
               notes: Mapping[str, Sequence[str]]) -> str:
    if not resources:
        return "resources: {}"
    lines = ["resources:"]
    for address, body in resources.items():
        for origin in origins.get(address, ()):
            lines.append(f"  # from {origin}")
        for note in notes.get(address, ()):
            lines.append(f"  # note: {note}")
        block = _dump({address: body})
        lines += [f"  {line}" if line else line for line in block.rstrip("\n").split("\n")]
    return "\n".join(lines)


def _skipped(skipped: Sequence[Skipped]) -> str:
    lines = ["", "# Not imported (left untouched, never in the ledger):"]
    for item in skipped:
        lines.append(f"#   {item.origin} ({item.what}, {item.category}): {item.reason}")
    return "\n".join(lines)
