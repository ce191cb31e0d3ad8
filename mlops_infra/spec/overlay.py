"""Environment overlays: deep-merge ``environments.<env>`` into the base document.

Mappings merge key by key; lists and scalars replace; ``null`` removes a key (for
example a base resource). The entries of ``secrets:`` are replaced whole, never merged (a
secret has one source: ``{env: X}`` over ``{secretManager: ...}`` must not become both).
Lines follow the values: a value the overlay sets takes the overlay's line, a merged
mapping keeps the base line.
"""

from __future__ import annotations

from typing import Any

from mlops_infra.spec.envelope import ATOMIC_ENTRIES, OVERLAY_KEYS, check_keys, check_sections
from mlops_infra.spec.hints import clip, did_you_mean
from mlops_infra.spec.jsoncopy import copy_json
from mlops_infra.spec.source import LineMap, join_path


def apply_environment(data: dict[str, Any], lines: LineMap, env: str | None) -> dict[str, Any]:
    """The document for ``env`` (the base when ``env`` is ``None``), without ``environments``."""
    environments = data.get("environments") or {}
    base = {k: v for k, v in data.items() if k != "environments"}
    if env is None:
        return base
    if env not in environments:
        names = [str(name) for name in environments]
        known = clip(", ".join(sorted(names)), 200) or "none are defined"
        raise lines.error("environments" if environments else "",
                          f"unknown environment '{clip(env)}'{did_you_mean(env, names)} "
                          f"(known: {known})")
    overlay_path = f"environments.{env}"
    overlay = environments[env] or {}
    if not isinstance(overlay, dict):
        raise lines.error(overlay_path, "an environment must be a mapping")
    check_keys(overlay, OVERLAY_KEYS, overlay_path, lines)
    check_sections(overlay, overlay_path, lines)
    return _merge(base, overlay, path="", source=overlay_path, lines=lines)


def _merge(base: dict[Any, Any], overlay: dict[Any, Any], *, path: str, source: str,
           lines: LineMap) -> dict[Any, Any]:
    merged = dict(base)
    for key, value in overlay.items():
        key_path = join_path(path, key)
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict) \
                and path not in ATOMIC_ENTRIES:        # a secret's entry is replaced whole
            merged[key] = _merge(merged[key], value, path=key_path,
                                 source=join_path(source, key), lines=lines)
        else:
            merged[key] = copy_json(value)
            lines.replace_subtree(key_path, join_path(source, key), parent=path, key=key)
    return merged

