"""Terminal rendering of an ``ApplyResult``: counts and time, failures, outputs."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.text import Text

from mlops_infra.engine.plan import Action
from mlops_infra.engine.result import ApplyResult, Outcome
from mlops_infra.report import lines

_COUNTED = (Action.CREATE, Action.UPDATE, Action.REPLACE, Action.DELETE)


def render_result(result: ApplyResult, *, console: Console | None = None,
                  seconds: float | None = None) -> str:
    """``Apply complete: 2 created, 1 updated, 0 replaced, 0 deleted in 3.2s.`` and details.

    Failed and skipped changes are listed with their errors, then the stack outputs.
    ``seconds`` is the run's wall time (default: the apply's). Prints to ``console`` when
    given; returns the plain text either way.
    """
    text = Text()
    text.append(headline(result, seconds=seconds) + "\n",
                style="bold green" if result.ok else "bold red")
    _append_interruption(text, result)
    _append_problems(text, result.outcomes)
    if not result.interrupted:
        _append_outputs(text, result.outputs)
    if console is not None:
        console.print(text, markup=False, highlight=False, soft_wrap=True, end="")
    return text.plain


def headline(result: ApplyResult, *, seconds: float | None = None) -> str:
    """The one-line summary of an apply; every outcome is counted once."""
    done = [o for o in result.outcomes if o.status == "done"]
    made = [o for o in done if not o.adopted]
    counts = [f"{sum(1 for o in made if o.action is a)} {lines.past_tense(a)}" for a in _COUNTED]
    extra = {"abandoned": sum(1 for o in made if o.action is Action.ABANDON),
             "adopted": sum(1 for o in done if o.adopted),
             "failed": sum(1 for o in result.outcomes if o.status == "failed"),
             "skipped": sum(1 for o in result.outcomes if o.status == "skipped"),
             "not started": sum(1 for o in result.outcomes if o.status == "not started")}
    counts += [f"{n} {word}" for word, n in extra.items() if n]
    verb = ("Apply interrupted" if result.interrupted else
            "Apply complete" if result.ok else "Apply failed")
    took = result.seconds if seconds is None else seconds
    return f"{verb}: {', '.join(counts)} in {took:.1f}s."


def _append_interruption(text: Text, result: ApplyResult) -> None:
    if not result.interrupted:
        return
    applied = [o.address for o in result.outcomes if o.status == "done"]
    waiting = [o.address for o in result.outcomes if o.status == "not started"]
    text.append("\nInterrupted:\n", style="bold yellow")
    text.append(f"  applied ({len(applied)}): {', '.join(applied) or 'nothing'}\n")
    text.append(f"  in flight, finished before stopping ({len(result.in_flight)}): "
                f"{', '.join(result.in_flight) or 'nothing'}\n")
    text.append(f"  not started ({len(waiting)}): {', '.join(waiting) or 'nothing'}\n")
    text.append("  Run the same command again to continue: what was applied is recorded.\n")


def _append_problems(text: Text, outcomes: tuple[Outcome, ...]) -> None:
    for status, title in (("failed", "Failed:"), ("skipped", "Skipped:")):
        hits = [o for o in outcomes if o.status == status]
        if not hits:
            continue
        text.append(f"\n{title}\n", style="bold")
        for o in hits:
            text.append(f"  ! {o.kind} {o.address} ({o.action.value})",
                        style="red" if status == "failed" else "yellow")
            text.append(f": {o.error}\n" if o.error else "\n")


def _append_outputs(text: Text, outputs: dict[str, Any]) -> None:
    flat = flatten_outputs(outputs)
    if not flat:
        return
    text.append("\nOutputs:\n", style="bold")
    for key, value in flat:
        text.append(f"  {key} = {lines.format_value(value)}\n")


def flatten_outputs(outputs: dict[str, Any]) -> list[tuple[str, Any]]:
    """``{"raw": {"url": u}}`` -> ``[("raw.url", u)]``; one level, sorted by key."""
    flat: list[tuple[str, Any]] = []
    for key in sorted(outputs):
        value = outputs[key]
        if isinstance(value, dict) and value:
            flat.extend((f"{key}.{k}", value[k]) for k in sorted(value))
        else:
            flat.append((key, value))
    return flat
