"""Wording shared by every renderer: value formatting, field lines, headers, the summary.

Keeping the words in one place means the terminal, Markdown and HTML reports say
the same thing about the same plan.
"""

from __future__ import annotations

import json
from typing import Any

from mlops_infra.engine.kind import FieldChange
from mlops_infra.engine.plan import Action, Plan, ResourceChange

FORCES_REPLACEMENT = "# forces replacement"

_OP_SYMBOL = {"add": "+", "change": "~", "remove": "-"}
_PAST = {Action.CREATE: "created", Action.UPDATE: "updated", Action.REPLACE: "replaced",
         Action.DELETE: "deleted", Action.ABANDON: "abandoned", Action.NOOP: "unchanged"}


def format_value(value: Any, *, limit: int | None = None) -> str:
    """JSON-encode ``value`` whole (terminals wrap long lines; Markdown keeps them in a
    collapsed block); ``limit`` cuts it, saying how long it was, for a short summary."""
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    if limit is None or len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text)} chars)"


def op_symbol(change: FieldChange) -> str:
    return _OP_SYMBOL.get(change.op, "~")


def field_text(change: FieldChange) -> str:
    """``path: value`` / ``path: old -> new``, without the leading op symbol."""
    if change.op == "add":
        body = f"{change.path}: {format_value(change.new)}"
    elif change.op == "remove":
        body = f"{change.path}: {format_value(change.old)}"
    else:
        body = f"{change.path}: {format_value(change.old)} -> {format_value(change.new)}"
    return f"{body}  {FORCES_REPLACEMENT}" if change.forces_replace else body


def field_line(change: FieldChange) -> str:
    """One field change as ``+ path: value`` (``~`` change, ``-`` remove)."""
    return f"{op_symbol(change)} {field_text(change)}"


def resource_title(rc: ResourceChange) -> str:
    """``storage.Bucket raw-data (projects/p/buckets/x)``."""
    return f"{rc.kind} {rc.address} ({rc.id})"


def adopt_note(rc: ResourceChange) -> str | None:
    """``# adopt: <how it was proven ours>`` for a resource taken into the ledger."""
    if not rc.adopt:
        return None
    return f"# adopt: {rc.adopt_reason or 'exists and is ours'}; not yet in the ledger"


def resource_notes(rc: ResourceChange) -> list[str]:
    """Every ``# ...`` note shown under a resource: adoption, reason, move, waivers, notes."""
    notes = [adopt_note(rc), f"# {rc.reason}" if rc.reason else None,
             f"# restarts it: {rc.restart}" if rc.restart else None,
             f"# moved from {rc.moved_from}" if rc.moved_from else None]
    return [n for n in notes if n] + waiver_notes(rc) + [f"# {note}" for note in rc.notes]


def waiver_notes(rc: ResourceChange) -> list[str]:
    """One ``# waived guardrail 'rule': reason`` line per waiver the resource carries."""
    return [f"# waived guardrail '{rule}': {reason}" for rule, reason in sorted(rc.waivers.items())]


def past_tense(action: Action) -> str:
    return _PAST[action]


def is_listed(rc: ResourceChange) -> bool:
    """Whether a resource gets its own entry (no-ops are only counted, unless notable)."""
    return rc.mutates or rc.adopt or bool(rc.blocked) or bool(rc.waivers) or bool(rc.notes) \
        or bool(rc.moved_from)


def summary_line(plan: Plan) -> str:
    """``Plan: 2 to create, 1 to update, 0 to replace, 0 to delete. (3 unchanged)``."""
    counts = plan.summary()
    adopting = sum(1 for r in plan.resources if r.adopt)
    blocked = [r for r in plan.resources if r.blocked and not r.mutates]
    unchanged = (f"({counts['noop'] - len(blocked)} unchanged"
                 + (f", {adopting} to adopt" if adopting else "") + ")")
    if not plan.has_changes and blocked:
        return (f"Plan: {len(blocked)} blocked, nothing else to change. {unchanged}")
    if not plan.has_changes:
        if plan.ledger_sync:
            return f"No changes to the infrastructure; the ledger will be updated. {unchanged}"
        return f"No changes. Live infrastructure matches the spec. {unchanged}"
    parts = ", ".join(f"{counts[a.value]} to {a.value}"
                      for a in (Action.CREATE, Action.UPDATE, Action.REPLACE, Action.DELETE))
    if counts["abandon"]:
        parts += f", {counts['abandon']} to abandon (kept live, dropped from the ledger)"
    return f"Plan: {parts}. {unchanged}"


def blocked_line(plan: Plan) -> str | None:
    """A warning when any change is blocked (apply refuses the whole plan then)."""
    n = len(plan.blocked)
    if not n:
        return None
    what = "1 change is" if n == 1 else f"{n} changes are"
    return f"! {what} blocked; apply will refuse this plan until resolved."


def plan_heading(plan: Plan) -> str:
    """``stack ml (env dev, project p)``."""
    where = [f"env {plan.env}"] if plan.env else []
    where.append(f"project {plan.project}")
    return f"stack {plan.stack} ({', '.join(where)})"
