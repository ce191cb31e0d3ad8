"""Self-contained HTML table of a ``Plan`` for Jupyter (``Plan._repr_html_`` calls it).

One row per resource (no-ops included, greyed); every value from the plan is
HTML-escaped; colours are inline styles so the fragment needs no stylesheet.
"""

from __future__ import annotations

from html import escape

from mlops_infra.engine.kind import FieldChange
from mlops_infra.engine.plan import Action, Plan, ResourceChange
from mlops_infra.report import lines

ACTION_COLOR = {Action.CREATE: "#1a7f37", Action.UPDATE: "#9a6700", Action.REPLACE: "#8250df",
                Action.DELETE: "#cf222e", Action.ABANDON: "#8250df", Action.NOOP: "#6e7781"}
OP_COLOR = {"+": "#1a7f37", "~": "#9a6700", "-": "#cf222e"}
BLOCKED_COLOR = "#cf222e"
CELL = "padding:2px 8px;text-align:left;vertical-align:top"


def render_html(plan: Plan) -> str:
    """The plan as an HTML fragment: caption with the summary, then the table."""
    header = "".join(f'<th style="{CELL}">{h}</th>'
                     for h in ("", "Resource", "Kind", "Action", "Changed fields"))
    rows = "\n".join(_row(rc) for rc in plan.resources)
    return (f'<div class="mlops-infra-plan">\n<p><b>mlops-infra plan</b>: '
            f"{escape(lines.plan_heading(plan))}<br>{escape(lines.summary_line(plan))}"
            f"{_warning(plan)}{_plan_notes(plan)}</p>\n"
            f'<table style="border-collapse:collapse">\n<thead><tr>{header}</tr></thead>\n'
            f"<tbody>\n{rows}\n</tbody>\n</table>\n</div>")


def _warning(plan: Plan) -> str:
    warning = lines.blocked_line(plan)
    if not warning:
        return ""
    return f'<br><b style="color:{BLOCKED_COLOR}">{escape(warning)}</b>'


def _plan_notes(plan: Plan) -> str:
    return "".join(f"<br><i>{escape(note)}</i>" for note in plan.notes)


def _row(rc: ResourceChange) -> str:
    color = ACTION_COLOR[rc.action]
    symbol = "=" if rc.action is Action.NOOP and rc.adopt else rc.action.symbol
    action = rc.action.value + (" (adopt)" if rc.adopt else "")
    cells = [
        (f'<td style="{CELL};color:{color};font-weight:bold;font-family:monospace">'
         f"{escape(symbol)}</td>"),
        (f'<td style="{CELL}"><code>{escape(rc.address)}</code><br>'
         f'<small style="color:#6e7781">{escape(rc.id)}</small></td>'),
        f'<td style="{CELL}">{escape(rc.kind)}</td>',
        f'<td style="{CELL};color:{color}">{escape(action)}</td>',
        f'<td style="{CELL}">{_fields(rc)}</td>',
    ]
    return f"<tr>{''.join(cells)}</tr>"


def _fields(rc: ResourceChange) -> str:
    parts = []
    if rc.blocked:
        parts.append(f'<b style="color:{BLOCKED_COLOR}">blocked: {escape(rc.blocked)}</b>')
    parts.extend(_field(c) for c in rc.changes)
    if not rc.changes and rc.reason and rc.mutates:
        parts.append(f'<i style="color:#6e7781">{escape(rc.reason)}</i>')
    return "<br>".join(parts)


def _field(change: FieldChange) -> str:
    symbol = lines.op_symbol(change)
    return (f'<code><span style="color:{OP_COLOR.get(symbol, "inherit")}">{escape(symbol)}</span> '
            f"{escape(lines.field_text(change))}</code>")
