"""The command line: a thin layer over ``mlops_infra.api``.

Exit codes: 0 success / no changes, 1 error, 2 changes present (with
``--detailed-exitcode``), 3 stopped by a lock someone else holds. User errors are
one line on stderr, never a traceback.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from mlops_infra.engine.errors import LockHeld, MlopsInfraError, UserError

EXIT_OK, EXIT_ERROR, EXIT_CHANGES, EXIT_LOCKED = 0, 1, 2, 3
FORMATS = ("text", "json", "markdown")


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the command, map errors to one line and an exit code."""
    # gRPC core logs connection shutdowns at INFO level; a CLI user needs only its errors.
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    sys.exit(run(argv))


def run(argv: list[str] | None = None) -> int:
    try:
        code = cli.main(args=argv, prog_name="mlops_infra", standalone_mode=False)
        return code if isinstance(code, int) else EXIT_OK
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.exceptions.Abort:
        _error("aborted")
        return EXIT_ERROR
    except click.ClickException as exc:
        _error(f"{exc.format_message()} (see --help)")
        return EXIT_ERROR
    except LockHeld as exc:
        _error(str(exc))
        return EXIT_LOCKED
    except MlopsInfraError as exc:
        _error(str(exc))
        return EXIT_ERROR
    except KeyboardInterrupt:
        _error("interrupted; re-run to converge (the lock expires by itself)")
        return EXIT_ERROR


def _error(message: str) -> None:
    click.echo(f"error: {message}", err=True)


# --- shared options -----------------------------------------------------------------------
def _spec_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn = click.option("--env", "env", default=None, help="Environment overlay to apply (dev, staging, prod...).")(fn)
    fn = click.option("--local", is_flag=True,
                      help="Use an in-process emulator persisted under .mlops_infra/ and a local ledger.")(fn)
    return click.argument("spec", type=click.Path(dir_okay=False))(fn)


def _format_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--format", "fmt", type=click.Choice(FORMATS), default="text",
                        show_default=True, help="How to print the plan.")(fn)


def _open_stack(spec: str, env: str | None, local: bool) -> Any:
    from mlops_infra.api import Stack

    if not Path(spec).is_file():
        raise UserError(f"{spec}: no such file")
    return Stack.load(spec, env=env, local=local)


def _console(fmt: str) -> Any:
    from rich.console import Console

    return Console(stderr=fmt != "text", highlight=False)


def _show_plan(plan: Any, fmt: str) -> None:
    from mlops_infra import report

    if fmt == "json":
        click.echo(report.render_json(plan))
    elif fmt == "markdown":
        click.echo(report.render_markdown(plan))
    else:
        report.render_text(plan, console=_console(fmt))


def _confirm(auto_approve: bool) -> None:
    if auto_approve:
        return
    if not sys.stdin.isatty():
        raise UserError("refusing to apply without confirmation: stdin is not a terminal; "
                        "pass --auto-approve")
    if not click.confirm("Apply these changes?", default=False):
        raise click.exceptions.Abort()


def _apply_and_report(stack: Any, plan: Any, fmt: str, concurrency: int,
                      replan_if_moved: bool) -> int:
    from mlops_infra.report import ApplyProgress, render_result

    console = _console(fmt)
    with ApplyProgress(plan, console=console) as progress:
        result = stack.apply(plan, progress=progress, concurrency=concurrency,
                             replan_if_moved=replan_if_moved)
    render_result(result, console=console)
    return EXIT_OK if result.ok else EXIT_ERROR


# --- commands ---------------------------------------------------------------------------------
@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mlops-infra")
def cli() -> None:
    """Provision MLOps infrastructure on Google Cloud from a declarative YAML spec."""


@cli.command()
@_spec_options
@_format_option
@click.option("--dry-run", is_flag=True, help="Only show the plan; call no mutating API.")
@click.option("--auto-approve", is_flag=True, help="Apply without asking.")
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when the plan has changes.")
@click.option("--allow-data-loss", is_flag=True, help="Allow deletes/replaces that destroy data.")
@click.option("--concurrency", type=click.IntRange(1, 64), default=8, show_default=True)
def reconcile(spec: str, env: str | None, local: bool, fmt: str, dry_run: bool, auto_approve: bool,
              detailed_exitcode: bool, allow_data_loss: bool, concurrency: int) -> int:
    """Plan, show and apply SPEC (the main job)."""
    return _plan_then_apply(spec, env, local, fmt, dry_run=dry_run, auto_approve=auto_approve,
                            detailed=detailed_exitcode, allow_data_loss=allow_data_loss,
                            concurrency=concurrency, destroy=False)


@cli.command()
@_spec_options
@_format_option
@click.option("--dry-run", is_flag=True, help="Only show what would be deleted.")
@click.option("--auto-approve", is_flag=True, help="Destroy without asking.")
@click.option("--allow-data-loss", is_flag=True, help="Also delete resources that hold data.")
@click.option("--concurrency", type=click.IntRange(1, 64), default=8, show_default=True)
def destroy(spec: str, env: str | None, local: bool, fmt: str, dry_run: bool, auto_approve: bool,
            allow_data_loss: bool, concurrency: int) -> int:
    """Delete every resource the ledger says this stack owns."""
    return _plan_then_apply(spec, env, local, fmt, dry_run=dry_run, auto_approve=auto_approve,
                            detailed=False, allow_data_loss=allow_data_loss,
                            concurrency=concurrency, destroy=True)


def _plan_then_apply(spec: str, env: str | None, local: bool, fmt: str, *, dry_run: bool,
                     auto_approve: bool, detailed: bool, allow_data_loss: bool, concurrency: int,
                     destroy: bool) -> int:
    with _open_stack(spec, env, local) as stack:
        plan = stack.plan(allow_data_loss=allow_data_loss, destroy=destroy)
        _show_plan(plan, fmt)
        if dry_run:
            return EXIT_CHANGES if detailed and plan.has_changes else EXIT_OK
        if not (plan.has_changes or plan.ledger_sync):
            return EXIT_OK
        if plan.has_changes:
            _confirm(auto_approve)
        return _apply_and_report(stack, plan, fmt, concurrency, replan_if_moved=True)


@cli.command()
@_spec_options
@_format_option
@click.option("-o", "--out", type=click.Path(dir_okay=False), help="Save the plan as JSON for `apply`.")
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when the plan has changes.")
@click.option("--allow-data-loss", is_flag=True, help="Allow deletes/replaces that destroy data.")
def plan(spec: str, env: str | None, local: bool, fmt: str, out: str | None,
         detailed_exitcode: bool, allow_data_loss: bool) -> int:
    """Show what reconcile would change; never calls a mutating API."""
    with _open_stack(spec, env, local) as stack:
        the_plan = stack.plan(allow_data_loss=allow_data_loss)
        _show_plan(the_plan, fmt)
        if out:
            Path(out).write_text(the_plan.to_json())
            click.echo(f"Saved the plan to {out}; apply it with: python -m mlops_infra apply {out}",
                       err=True)
        return EXIT_CHANGES if detailed_exitcode and the_plan.has_changes else EXIT_OK


@cli.command()
@click.argument("plan_file", type=click.Path(dir_okay=False))
@click.option("--local", is_flag=True, help="The plan was made with --local.")
@click.option("--concurrency", type=click.IntRange(1, 64), default=8, show_default=True)
def apply(plan_file: str, local: bool, concurrency: int) -> int:
    """Apply a saved plan, if the ledger has not moved since it was made."""
    from mlops_infra.engine.plan import Plan

    the_plan = Plan.from_json(_read_text(plan_file))
    with _open_stack(the_plan.spec_path, the_plan.env, local) as stack:
        if stack.spec.stack != the_plan.stack:
            raise UserError(f"{plan_file}: plan is for stack '{the_plan.stack}', "
                            f"{the_plan.spec_path} is stack '{stack.spec.stack}'")
        return _apply_and_report(stack, the_plan, "text", concurrency, replan_if_moved=False)


def _read_text(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError as exc:
        raise UserError(f"{path}: {exc.strerror}") from None


@cli.command()
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("--env", default=None, help="Environment overlay to validate.")
def validate(spec: str, env: str | None) -> int:
    """Check SPEC (syntax, fields, references, cycles, guardrails) without calling any API."""
    from mlops_infra.api import validate as validate_spec

    if not Path(spec).is_file():
        raise UserError(f"{spec}: no such file")
    loaded = validate_spec(spec, env=env)
    click.echo(f"{spec}: valid ({len(loaded.resources)} resources, stack '{loaded.stack}'"
               f"{', env ' + env if env else ''})")
    return EXIT_OK


@cli.command()
@click.option("-o", "--out", type=click.Path(dir_okay=False), help="Write to a file instead of stdout.")
def schema(out: str | None) -> int:
    """Print the spec's JSON Schema (for editors)."""
    from mlops_infra.api import kind_schemas
    from mlops_infra.spec import export_json_schema

    text = json.dumps(export_json_schema(kind_schemas()), indent=2)
    if out:
        Path(out).write_text(text + "\n")
    else:
        click.echo(text)
    return EXIT_OK


@cli.command()
@click.option("--state", "state_path", type=click.Path(dir_okay=False), default=None,
              help="Persist the emulator's state in this JSON file.")
def emulator(state_path: str | None) -> int:
    """Serve the local emulator; the first stdout line is the endpoints JSON."""
    from mlops_infra.emulator import serve

    serve(state_path=Path(state_path) if state_path else None)
    return EXIT_OK


@cli.command()
@_spec_options
def init(spec: str, env: str | None, local: bool) -> int:
    """Create the ledger bucket (versioned, no public access) if it does not exist."""
    with _open_stack(spec, env, local) as stack:
        if stack.local:
            click.echo(f"local ledger: {stack.ledger.location}")
            return EXIT_OK
        stack._ensure_ledger_home()
        click.echo(f"ledger: {stack.ledger.location}")
    return EXIT_OK


@cli.group()
def state() -> None:
    """Inspect the ledger, or break a dead lock."""


@state.command("list")
@_spec_options
def state_list(spec: str, env: str | None, local: bool) -> int:
    """List the resources the ledger says this stack owns."""
    with _open_stack(spec, env, local) as stack:
        ledger_state = stack.ledger.read()
        click.echo(f"# {ledger_state.location} (generation {ledger_state.generation})")
        for entry in sorted(ledger_state.entries.values(), key=lambda e: (e.kind, e.address)):
            click.echo(f"{entry.address}\t{entry.kind}\t{entry.id}\t{entry.updated_at}")
    return EXIT_OK


@state.command("show")
@_spec_options
@click.argument("address")
def state_show(spec: str, env: str | None, local: bool, address: str) -> int:
    """Show one ledger entry (by address) as JSON."""
    from dataclasses import asdict

    with _open_stack(spec, env, local) as stack:
        entries = [e for e in stack.ledger.read().entries.values() if e.address == address]
        if not entries:
            raise UserError(f"no ledger entry with address '{address}'")
        click.echo(json.dumps([asdict(e) for e in entries], indent=2))
    return EXIT_OK


@state.command("unlock")
@_spec_options
def state_unlock(spec: str, env: str | None, local: bool) -> int:
    """Break the stack's lock (only when its holder is known to be dead)."""
    with _open_stack(spec, env, local) as stack:
        holder = stack.ledger.break_lock()
        click.echo(f"removed the lock held by {json.dumps(holder)}" if holder else "no lock was held")
    return EXIT_OK
