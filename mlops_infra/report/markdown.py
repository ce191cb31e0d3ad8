"""Markdown rendering of a ``Plan``, ready to paste into a pull request comment.

Shape: a heading naming stack/env/project, the summary line, a table with one
row per changed resource, then a collapsible ``<details>`` block per changed
resource holding a ```` ```diff ```` block of its field changes.
"""

from __future__ import annotations

import html
import re

from mlops_infra.engine.plan import Action, Plan, ResourceChange
from mlops_infra.report import lines

DETAIL_FIELDS = 3


def render_markdown(plan: Plan) -> str:
    """The whole report as GitHub-flavoured Markdown."""
    parts = [f"### mlops-infra plan: {_escape_inline(lines.plan_heading(plan))}",
             f"**{_escape_inline(lines.summary_line(plan))}**"]
    warning = lines.blocked_line(plan)
    if warning:
        parts.append(f"> **{_escape_inline(warning)}**")
    parts.extend(f"> Note: {_escape_inline(note)}" for note in plan.notes)
    listed = [rc for rc in plan.resources if lines.is_listed(rc)]
    if listed:
        parts.append(_table(listed))
        parts.extend(_details(rc) for rc in listed)
    return "\n\n".join(parts) + "\n"


def _table(listed: list[ResourceChange]) -> str:
    rows = ["| | Resource | Kind | Action | Details |", "|---|---|---|---|---|"]
    rows.extend(_row(rc) for rc in listed)
    return "\n".join(rows)


def _row(rc: ResourceChange) -> str:
    cells = [_code(_symbol(rc)), _code(rc.address), _cell(rc.kind), _cell(_action_word(rc)),
             _cell(_summary_of(rc))]
    return "| " + " | ".join(cells) + " |"


def _summary_of(rc: ResourceChange) -> str:
    """A short description: blocked reason, fields forcing replacement, changed fields."""
    notes = [f"BLOCKED: {rc.blocked}"] if rc.blocked else []
    forcing = [c.path for c in rc.changes if c.forces_replace]
    if forcing:
        notes.append(f"forces replacement: {', '.join(forcing)}")
    paths = [c.path for c in rc.changes if not c.forces_replace]
    if paths:
        shown = ", ".join(paths[:DETAIL_FIELDS])
        more = len(paths) - DETAIL_FIELDS
        notes.append(shown + (f" and {more} more" if more > 0 else ""))
    if not notes and rc.reason:
        notes.append(rc.reason)
    if rc.adopt:
        notes.append(f"adopt: {rc.adopt_reason or 'exists and is ours'}")
    return "; ".join(notes)


def _details(rc: ResourceChange) -> str:
    title = html.escape(f"{_symbol(rc)} {lines.resource_title(rc)}")
    body = [f"{line}" for line in _diff_lines(rc)]
    fence = _fence_for(body)
    notes = _notes(rc)
    paragraphs = [line for note in notes for line in (note, "")]
    return "\n".join([f"<details><summary><code>{title}</code></summary>", "", *paragraphs,
                      f"{fence}diff", *body, fence, "", "</details>"])


def _notes(rc: ResourceChange) -> list[str]:
    notes = [f"**Blocked:** {_escape_inline(rc.blocked)}"] if rc.blocked else []
    if rc.reason:
        notes.append(f"Reason: {_escape_inline(rc.reason)}")
    notes += [_escape_inline(note.lstrip("# ")) for note in lines.waiver_notes(rc)]
    notes += [_escape_inline(note) for note in rc.notes]
    if rc.moved_from:
        notes.append(f"Moved from `{rc.moved_from}`")
    if rc.adopt:
        notes.append(f"**Adopt:** {_escape_inline(rc.adopt_reason or 'exists and is ours')}")
    return notes


def _diff_lines(rc: ResourceChange) -> list[str]:
    if rc.changes:
        return [lines.field_line(c) for c in rc.changes]
    return [f"{_symbol(rc)} {lines.resource_title(rc)}"]


def _fence_for(body: list[str]) -> str:
    """A backtick fence longer than any backtick run in the block, so values cannot close it."""
    longest = max((len(run) for line in body for run in re.findall(r"`+", line)), default=0)
    return "`" * max(3, longest + 1)


def _symbol(rc: ResourceChange) -> str:
    return "=" if rc.action is Action.NOOP else rc.action.symbol


def _action_word(rc: ResourceChange) -> str:
    word = "adopt" if rc.action is Action.NOOP and rc.adopt else rc.action.value
    return f"{word} (adopt)" if rc.adopt and rc.action is not Action.NOOP else word


def _cell(text: str) -> str:
    """Table-cell text: pipes escaped, newlines flattened, HTML-ish characters escaped."""
    return _escape_inline(text).replace("|", "\\|")


def _code(text: str) -> str:
    """An inline code span inside a table cell (GFM still needs ``\\|`` there)."""
    flat = " ".join(text.split()).replace("|", "\\|")
    ticks = "``" if "`" in flat else "`"
    pad = " " if ticks == "``" else ""
    return f"{ticks}{pad}{flat}{pad}{ticks}"


def _escape_inline(text: str) -> str:
    """Neutralise HTML, Markdown emphasis/links and line breaks in text from the plan."""
    flat = re.sub(r"([\\`*_\[\]])", r"\\\1", " ".join(text.split()))
    return html.escape(flat, quote=False)
