"""Live progress of an apply: a ``ProgressListener`` the executor calls from worker threads.

On a terminal it shows a rich progress display (a spinner line per running change with its
elapsed time and, while the kind waits on a long-running operation, that operation's status,
a bar for the total) and logs each finished change above it; elsewhere (CI logs, pipes) it
prints exactly one plain line per finished change.
"""

from __future__ import annotations

import threading
from types import TracebackType
from typing import TYPE_CHECKING, Self

from rich.console import Console

from mlops_infra.engine.plan import Action, Plan
from mlops_infra.engine.result import Outcome, ProgressListener
from mlops_infra.report import lines

if TYPE_CHECKING:       # rich.progress is imported only where a terminal shows it
    from rich.progress import Progress, TaskID

_STATUS_STYLE = {"done": "green", "failed": "bold red", "skipped": "yellow"}


def outcome_line(outcome: Outcome) -> str:
    """``+ raw-data created (0.4s)``; ``! raw-data create failed (0.4s): <error>``."""
    took = f"({outcome.seconds:.1f}s)"
    if outcome.status == "done":
        symbol = "=" if outcome.action is Action.NOOP else outcome.action.symbol
        word = "adopted" if outcome.adopted else lines.past_tense(outcome.action)
        return f"{symbol} {outcome.address} {word} {took}"
    error = f": {outcome.error}" if outcome.error else ""
    if outcome.status == "failed":
        return f"! {outcome.address} {outcome.action.value} failed {took}{error}"
    return f"  {outcome.address} {outcome.action.value} {outcome.status}{error}"


class ApplyProgress(ProgressListener):
    """Context manager and ``ProgressListener``; safe to call from several threads."""

    def __init__(self, plan: Plan, *, console: Console | None = None,
                 verbose: bool = False) -> None:
        self.console = console or Console(stderr=True)
        self.verbose = verbose              # also log the resources left unchanged
        self.total = sum(1 for rc in plan.resources if rc.mutates or rc.adopt)
        self._lock = threading.Lock()
        self._running: dict[str, TaskID] = {}
        self._labels: dict[str, str] = {}
        self._live = self.console.is_terminal
        self._progress = _make_progress(self.console) if self._live else None
        self._overall: TaskID | None = None

    def __enter__(self) -> Self:
        if self._progress is not None:
            self._progress.start()
            self._overall = self._progress.add_task("apply", total=self.total or None)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._progress is not None:
            self._progress.stop()

    @property
    def running(self) -> tuple[str, ...]:
        """Addresses of the changes currently shown as running (terminal only)."""
        with self._lock:
            return tuple(self._running)

    def started(self, *, address: str, kind: str, action: Action) -> None:
        """A change began: show a spinner line for it (terminal only)."""
        if self._progress is None:
            return
        with self._lock:
            label = f"{action.symbol} {kind} {address}"
            self._labels[address] = label
            self._running[address] = self._progress.add_task(label, total=None)

    def line_of(self, address: str) -> str | None:
        """The text shown for the running change at ``address`` (terminal only)."""
        with self._lock:
            task = self._running.get(address)
            if self._progress is None or task is None:
                return None
            return str(self._progress.tasks[self._progress.task_ids.index(task)].description)

    def operation(self, *, address: str, status: str) -> None:
        """The change's operation reported its status: show it on its line (terminal only)."""
        if self._progress is None:
            return
        with self._lock:
            task = self._running.get(address)
            if task is not None:
                self._progress.update(task, description=f"{self._labels[address]}: {status}")

    def finished(self, outcome: Outcome) -> None:
        """A change ended: log its line, drop its spinner, advance the total."""
        with self._lock:
            self._log(outcome)
            if self._progress is None:
                return
            task = self._running.pop(outcome.address, None)
            self._labels.pop(outcome.address, None)
            if task is not None:
                self._progress.remove_task(task)
            if self._overall is not None:
                self._progress.advance(self._overall)

    def _log(self, outcome: Outcome) -> None:
        quiet = outcome.action is Action.NOOP and outcome.status == "done" and not outcome.adopted
        if quiet and not self.verbose:
            return
        self.console.print(outcome_line(outcome), style=_STATUS_STYLE.get(outcome.status),
                           markup=False, highlight=False, soft_wrap=True)


def _make_progress(console: Console) -> Progress:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    return Progress(SpinnerColumn(), TextColumn("{task.description}", markup=False), BarColumn(),
                    MofNCompleteColumn(), TimeElapsedColumn(), console=console, transient=True)
