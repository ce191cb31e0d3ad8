"""The summary an import prints: what became which resource, what the first plan says, what
was left out and why, where the ledgers are, and the next commands."""

from __future__ import annotations

from typing import Any

from mlops_infra.importers.run import ImportResult


def rows(result: ImportResult) -> list[dict[str, str]]:
    """One row per imported resource (its environments and first-plan status)."""
    table: dict[str, dict[str, Any]] = {}
    for name, imp in result.imports.items():
        checked = result.checks.get(name)
        pending = set(checked.pending) if checked else set()
        secrets_once = set(checked.secrets_once) if checked else set()
        differs = {c.address: c for c in checked.differences} if checked else {}
        for entry in imp.entries:
            row = table.setdefault(entry.address, {"address": entry.address, "kind": entry.kind,
                                                   "from": entry.origin, "envs": [], "plan": []})
            row["envs"].append(name or "-")
            if entry.address in differs:
                change = differs[entry.address]
                fields = ", ".join(sorted({c.path for c in change.changes})) or change.action.value
                row["plan"].append(f"{name + ': ' if name else ''}{change.action.value}: {fields}")
            elif checked and entry.address in secrets_once:
                row["plan"].append("its secrets are sent once (fill them in first)")
            elif checked:
                row["plan"].append("labels pending" if entry.address in pending else "no change")
    return [{**r, "envs": ", ".join(r["envs"]),
             "plan": "; ".join(sorted(set(r["plan"]))) or "not checked"} for r in table.values()]


def render(result: ImportResult, console: Any) -> None:
    """Print the summary tables and the next steps on a rich ``console``."""
    from rich.table import Table

    table = Table(title=f"Imported into {result.spec_path} (stack {result.stack})")
    for column in ("address", "kind", "from", "environments", "first plan"):
        table.add_column(column, overflow="fold")
    for row in rows(result):
        table.add_row(row["address"], row["kind"], row["from"], row["envs"], row["plan"])
    console.print(table)
    skipped = result.skipped
    if skipped:
        left = Table(title="Not imported (left untouched, never in the ledger)")
        for column in ("what", "type", "why"):
            left.add_column(column, overflow="fold")
        for item in skipped:
            left.add_row(item.origin, item.what, f"{item.category}: {item.reason}")
        console.print(left)
    for line in next_steps(result):
        console.print(line, highlight=False, markup=False)


def next_steps(result: ImportResult) -> list[str]:
    lines = []
    for name, location in result.ledgers.items():
        checked = result.checks[name]
        lines.append(f"ledger {location}: {len(checked.entries)} resources owned, "
                     f"{len(checked.pending)} awaiting the ownership labels")
        if checked.secrets_once:
            lines.append(f"secrets: fill in the secrets: entries first; the first apply sends them "
                         f"to {len(checked.secrets_once)} resource(s) (Google never returns "
                         "them, so they cannot be compared)")
    bad = {n: c for n, c in result.checks.items() if c.differences}
    for name, checked in bad.items():
        lines.append(f"! {name or 'the stack'}: the first plan would change "
                     f"{len(checked.differences)} resource(s): see 'first plan' above")
    spec = result.spec_path
    for name in result.imports:
        env = f" --env {name}" if name else ""
        if result.ledgers:
            lines.append(f"next: python -m mlops_infra reconcile {spec}{env} --dry-run "
                         "--detailed-exitcode   # expect 'No changes'")
            if result.checks[name].pending:
                lines.append(f"then: python -m mlops_infra import labels {spec}{env}   "
                             "# adds the ownership labels, in one step you approve")
    return lines
