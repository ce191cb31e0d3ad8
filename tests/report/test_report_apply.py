"""Apply-time rendering: the result summary and the progress listener."""

from __future__ import annotations

import threading
from io import StringIO

from rich.console import Console

from mlops_infra.engine.plan import Action
from mlops_infra.engine.result import ApplyResult
from mlops_infra.report import ApplyProgress, render_result
from tests.report.plans import create, failed_result, noop, outcome, plan_of, update


def test_result_headline_counts_and_time() -> None:
    result = ApplyResult(outcomes=(outcome("a", Action.CREATE), outcome("b", Action.CREATE),
                                   outcome("c", Action.DELETE)), seconds=3.21)
    assert render_result(result) == \
        "Apply complete: 2 created, 0 updated, 0 replaced, 1 deleted in 3.2s.\n"


def test_result_lists_failures_skips_and_outputs() -> None:
    text = render_result(failed_result())
    assert text.startswith("Apply failed: 1 created, 1 updated, 0 replaced, 0 deleted, "
                           "1 failed, 1 skipped in 3.2s.\n")
    assert ("  ! storage.Bucket features (replace): 403 caller lacks storage.buckets.create\n"
            in text)
    assert "Skipped:\n  ! storage.Bucket exports (update): depends on failed" in text
    assert 'Outputs:\n  raw-data.url = "gs://raw-data"\n  region = "europe-west1"\n' in text


def test_result_prints_to_console() -> None:
    buffer = StringIO()
    assert render_result(failed_result(), console=Console(file=buffer)) == buffer.getvalue()


def test_progress_prints_one_plain_line_per_outcome_off_terminal() -> None:
    buffer = StringIO()
    with ApplyProgress(plan_of(create(), update()), console=Console(file=buffer)) as progress:
        progress.started(address="raw-data", kind="storage.Bucket", action=Action.CREATE)
        progress.finished(outcome("raw-data", Action.CREATE, seconds=0.42))
        progress.finished(outcome("models", Action.UPDATE, "failed", error="boom", seconds=1.0))
        progress.finished(outcome("x", Action.UPDATE, "skipped", error="dependency failed"))
        progress.finished(outcome("logs", Action.NOOP, adopted=True))
    assert buffer.getvalue().splitlines() == [
        "+ raw-data created (0.4s)",
        "! models update failed (1.0s): boom",
        "  x update skipped: dependency failed",
        "= logs adopted (0.0s)",
    ]


def test_progress_is_safe_from_many_threads() -> None:
    buffer = StringIO()
    plan = plan_of(create())
    addresses = [f"b{i}" for i in range(200)]
    with ApplyProgress(plan, console=Console(file=buffer)) as progress:
        def work(address: str) -> None:
            progress.started(address=address, kind="storage.Bucket", action=Action.CREATE)
            progress.finished(outcome(address, Action.CREATE))
        threads = [threading.Thread(target=work, args=(a,)) for a in addresses]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    got = buffer.getvalue().splitlines()
    assert sorted(got) == sorted(f"+ {a} created (0.0s)" for a in addresses)


def test_progress_on_a_terminal_logs_finished_changes_and_clears_spinners() -> None:
    buffer = StringIO()
    console = Console(file=buffer, force_terminal=True, width=100)
    plan = plan_of(create(), update(), noop())
    with ApplyProgress(plan, console=console) as progress:
        assert progress.total == 2
        progress.started(address="raw-data", kind="storage.Bucket", action=Action.CREATE)
        progress.started(address="models", kind="storage.Bucket", action=Action.UPDATE)
        progress.finished(outcome("raw-data", Action.CREATE, seconds=0.4))
        assert progress.running == ("models",)
        progress.finished(outcome("models", Action.UPDATE, seconds=0.1))
        assert progress.running == ()
    assert "raw-data created (0.4s)" in buffer.getvalue()
    assert "models updated (0.1s)" in buffer.getvalue()


def test_progress_shows_the_status_of_a_changes_long_running_operation() -> None:
    from mlops_infra.engine.waiting import report_progress, reporting_to

    console = Console(file=StringIO(), force_terminal=True, width=120)
    with ApplyProgress(plan_of(create()), console=console) as progress:
        progress.started(address="gke", kind="container.Cluster", action=Action.CREATE)
        with reporting_to(lambda status: progress.operation(address="gke", status=status)):
            report_progress("CREATE_CLUSTER RUNNING (operation-1)")
        report_progress("outside any change: shown nowhere")
        assert progress.line_of("gke") == \
            "+ container.Cluster gke: CREATE_CLUSTER RUNNING (operation-1)"
        progress.operation(address="unknown", status="ignored")
        progress.finished(outcome("gke", Action.CREATE, seconds=300.0))
        assert progress.line_of("gke") is None
