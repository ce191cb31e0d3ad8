"""Terraform-like terminal rendering of a ``Plan`` (rich-coloured on a terminal).

The returned string is always the same words the console shows, so tests and
logs can use it; colour is only a matter of how it is printed.
"""

from __future__ import annotations

from collections.abc import Iterator
from io import StringIO

from rich.console import Console
from rich.text import Text

from mlops_infra.engine.kind import FieldChange
from mlops_infra.engine.plan import Action, Plan, ResourceChange
from mlops_infra.report import lines

ACTION_STYLE = {Action.CREATE: "green", Action.UPDATE: "yellow", Action.REPLACE: "magenta",
                Action.DELETE: "red", Action.ABANDON: "magenta", Action.NOOP: "dim"}
OP_STYLE = {"+": "green", "~": "yellow", "-": "red"}
INDENT = "  "
FIELD_INDENT = "      "


def render_text(plan: Plan, *, console: Console | None = None, color: bool | None = None) -> str:
    """Render ``plan``, resource by resource; print it to ``console`` when given.

    ``color=None`` lets the console decide (colour on a terminal) and returns plain
    text; ``color=False`` prints without styles; ``color=True`` also returns the
    text with ANSI colour codes (for writing to a pager or a log that shows them).
    Each resource is printed as soon as it is rendered, so a plan of thousands of
    resources never becomes one huge styled text.
    """
    pieces: list[str] = []
    for text in plan_texts(plan):
        if console is not None:
            console.print(text if color is not False else text.plain,
                          markup=False, highlight=False, soft_wrap=True, end="")
        pieces.append(to_ansi(text) if color else text.plain)
    return "".join(pieces)


def plan_texts(plan: Plan) -> Iterator[Text]:
    """The styled text of the plan, one piece per listed resource, then the summary."""
    listed = False
    for rc in plan.resources:
        if lines.is_listed(rc):
            listed = True
            out = Text()
            _append_resource(out, rc)
            yield out
    summary = Text("\n" if listed else "")
    for note in plan.notes:
        summary.append(f"# {note}\n", style="dim")
    _append_summary(summary, plan)
    yield summary


def plan_text(plan: Plan) -> Text:
    """The styled text of the whole plan."""
    out = Text()
    for piece in plan_texts(plan):
        out.append_text(piece)
    return out


def to_ansi(text: Text) -> str:
    """``text`` as a string with ANSI colour codes, independent of any terminal."""
    buffer = StringIO()
    Console(file=buffer, force_terminal=True, color_system="standard", width=10_000,
            legacy_windows=False).print(text, soft_wrap=True, end="")
    return buffer.getvalue()


def _append_resource(out: Text, rc: ResourceChange) -> None:
    symbol = "=" if rc.action is Action.NOOP else rc.action.symbol
    out.append(f"{INDENT}{symbol} ", style=ACTION_STYLE[rc.action])
    out.append(lines.resource_title(rc), style="bold")
    out.append("\n")
    for note in lines.resource_notes(rc):
        out.append(f"{FIELD_INDENT}{note}\n", style="dim")
    if rc.blocked:
        out.append(f"{FIELD_INDENT}! blocked: {rc.blocked}\n", style="bold red")
    for change in rc.changes:
        _append_field(out, change)


def _append_field(out: Text, change: FieldChange) -> None:
    symbol = lines.op_symbol(change)
    out.append(f"{FIELD_INDENT}{symbol} ", style=OP_STYLE.get(symbol, ""))
    body = lines.field_text(change)
    if change.forces_replace:
        body = body[: -len(lines.FORCES_REPLACEMENT)]
        out.append(body)
        out.append(lines.FORCES_REPLACEMENT, style="bold red")
    else:
        out.append(body)
    out.append("\n")


def _append_summary(out: Text, plan: Plan) -> None:
    out.append(lines.summary_line(plan), style="bold")
    out.append("\n")
    warning = lines.blocked_line(plan)
    if warning:
        out.append(warning + "\n", style="bold red")
