"""The command line: a thin layer over ``mlops_infra.api``.

Exit codes: 0 success / no changes, 1 error, 2 changes present (with
``--detailed-exitcode``), 3 stopped by a lock someone else holds. User errors are
one line on stderr, never a traceback.
"""

from __future__ import annotations

import errno
import gc
import json
import os
import re
import stat
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import click

from mlops_infra.engine.concurrency import APPLY_CONCURRENCY
from mlops_infra.engine.errors import LockHeld, MlopsInfraError, UserError

EXIT_OK, EXIT_ERROR, EXIT_CHANGES, EXIT_LOCKED = 0, 1, 2, 3
FORMATS = ("text", "json", "markdown")


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the command, map errors to one line and an exit code."""
    # gRPC core logs connection shutdowns at INFO level; a CLI user needs only its errors.
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    sys.exit(run(argv))


def process() -> None:
    """``main`` as a process of its own (``python -m mlops_infra``, the ``mlops-infra`` script).

    On the way out, what is alive is frozen (``gc.freeze``): the interpreter's shutdown then
    skips its last collections over every object the client libraries made, which took
    0.25-0.3 s of a 1.3 s no-op ``reconcile --local``. The exit code, flushed output and
    at-exit handlers are as before; finalizers of objects caught in garbage cycles do not run,
    and nothing of ours relies on one (ledger writes, the lock and the local emulator's state
    are saved explicitly). ``main`` itself does not freeze: a program that calls it and goes on
    keeps its collector."""
    try:
        main()
    finally:
        gc.freeze()


_STARTED = [time.monotonic()]       # when this command began: results show the run's wall time


def run(argv: list[str] | None = None) -> int:
    _STARTED[0] = time.monotonic()
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
        _error("interrupted; run the same command again to converge (the lock is released, "
               "or expires by itself)")
        return EXIT_ERROR


def _error(message: str) -> None:
    """One line, whatever a message quotes of a hostile file (a lock's owner, a plan's
    address): control characters are shown escaped, never written to the terminal."""
    click.echo(f"error: {_CONTROL.sub(lambda m: repr(m.group())[1:-1], message)}", err=True)


_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


# --- shared options -----------------------------------------------------------------------
def _spec_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn = click.option("--env", "env", default=None, help="Environment overlay to apply (dev, staging, prod...).")(fn)
    fn = click.option("--local", is_flag=True,
                      help="Use an in-process emulator persisted under .mlops_infra/ and a local ledger.")(fn)
    return click.argument("spec", type=click.Path(dir_okay=False))(fn)


def _format_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--format", "fmt", type=click.Choice(FORMATS), default="text",
                        show_default=True, help="How to print the plan.")(fn)


def _open_stack(spec: str, env: str | None, local: bool,
                state_dir: Path | None = None, kinds: Iterable[str] = ()) -> Any:
    from mlops_infra.api import LOCAL_STATE_DIR, Stack

    _check_input(spec)
    return Stack.load(spec, env=env, local=local, state_dir=state_dir or LOCAL_STATE_DIR,
                      kinds=kinds)


def _check_input(path: str) -> None:
    """One line unless ``path`` is a regular file (or a link to one): a device, a pipe or a
    symlink loop is said to be what it is."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UserError(f"{path}: a symlink loop") from None
        if exc.errno == errno.ENOENT:
            raise UserError(f"{path}: no such file") from None
        raise UserError(f"{path}: {exc.strerror}") from None
    if stat.S_ISDIR(mode):
        raise UserError(f"{path}: a directory, not a file")
    if not stat.S_ISREG(mode):
        raise UserError(f"{path}: not a regular file (a {_file_type(mode)})")


def _file_type(mode: int) -> str:
    for test, name in ((stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device"),
                       (stat.S_ISFIFO, "pipe"), (stat.S_ISSOCK, "socket")):
        if test(mode):
            return name
    return "special file"


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


def _confirm(auto_approve: bool) -> bool:
    if auto_approve:
        return True
    if not sys.stdin.isatty():
        raise UserError("refusing to apply without confirmation: stdin is not a terminal; "
                        "pass --auto-approve")
    return bool(click.confirm("Apply these changes?", default=False))


def _report(result: Any, fmt: str) -> int:
    from mlops_infra.report import render_result

    render_result(result, console=_console(fmt), seconds=time.monotonic() - _STARTED[0])
    return EXIT_OK if result.ok else EXIT_ERROR


def _watch(fmt: str, verbose: bool = False) -> Callable[[Any], Any]:
    from mlops_infra.report import ApplyProgress

    return lambda plan: ApplyProgress(plan, console=_console(fmt), verbose=verbose)


def _verbose_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("-v", "--verbose", is_flag=True,
                        help="Also list the resources left unchanged while applying.")(fn)


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
@click.option("--allow-restart", is_flag=True,
              help="Allow changes that stop and restart a resource (machine type, GPUs...).")
@click.option("--concurrency", type=click.IntRange(1, 64), default=APPLY_CONCURRENCY,
              show_default=True,
              help="How many changes run at once.")
@_verbose_option
def reconcile(spec: str, env: str | None, local: bool, fmt: str, dry_run: bool, auto_approve: bool,
              detailed_exitcode: bool, allow_data_loss: bool, allow_restart: bool,
              concurrency: int, verbose: bool) -> int:
    """Plan, show and apply SPEC (the main job)."""
    return _plan_then_apply(spec, env, local, fmt, dry_run=dry_run, auto_approve=auto_approve,
                            detailed=detailed_exitcode, allow_data_loss=allow_data_loss,
                            concurrency=concurrency, destroy=False, allow_restart=allow_restart,
                            verbose=verbose)


@cli.command()
@_spec_options
@_format_option
@click.option("--dry-run", is_flag=True, help="Only show what would be deleted.")
@click.option("--auto-approve", is_flag=True, help="Destroy without asking.")
@click.option("--allow-data-loss", is_flag=True, help="Also delete resources that hold data.")
@click.option("--concurrency", type=click.IntRange(1, 64), default=APPLY_CONCURRENCY,
              show_default=True,
              help="How many changes run at once.")
@_verbose_option
def destroy(spec: str, env: str | None, local: bool, fmt: str, dry_run: bool, auto_approve: bool,
            allow_data_loss: bool, concurrency: int, verbose: bool) -> int:
    """Delete every resource the ledger says this stack owns, and those a stopped run created
    before recording them (found by their intents, or by the spec's names and their labels)."""
    return _plan_then_apply(spec, env, local, fmt, dry_run=dry_run, auto_approve=auto_approve,
                            detailed=False, allow_data_loss=allow_data_loss,
                            concurrency=concurrency, destroy=True, verbose=verbose)


def _plan_then_apply(spec: str, env: str | None, local: bool, fmt: str, *, dry_run: bool,
                     auto_approve: bool, detailed: bool, allow_data_loss: bool, concurrency: int,
                     destroy: bool, allow_restart: bool = False, verbose: bool = False) -> int:
    from mlops_infra.api import refuse_blocked

    with _open_stack(spec, env, local) as stack:
        if dry_run:
            plan = stack.plan(allow_data_loss=allow_data_loss, destroy=destroy,
                              allow_restart=allow_restart)
            _show_plan(plan, fmt)
            refuse_blocked(plan)            # a blocked plan is a failed check (exit 1)
            return EXIT_CHANGES if detailed and plan.has_changes else EXIT_OK
        plan, result = stack.reconcile(
            allow_data_loss=allow_data_loss, destroy=destroy, concurrency=concurrency,
            show=lambda p: _show_plan(p, fmt), confirm=lambda p: _confirm(auto_approve),
            watch=_watch(fmt, verbose), allow_restart=allow_restart)
        if result is None:
            if plan.has_changes:
                click.echo("Nothing applied.", err=True)
            return EXIT_OK
        return _report(result, fmt)


@cli.command()
@_spec_options
@_format_option
@click.option("-o", "--out", type=click.Path(dir_okay=False), help="Save the plan as JSON for `apply`.")
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when the plan has changes.")
@click.option("--allow-data-loss", is_flag=True, help="Allow deletes/replaces that destroy data.")
@click.option("--allow-restart", is_flag=True,
              help="Allow changes that stop and restart a resource (machine type, GPUs...).")
@click.option("--graph", "with_graph", is_flag=True,
              help="With --format markdown: append the dependency graph, changes highlighted.")
def plan(spec: str, env: str | None, local: bool, fmt: str, out: str | None,
         detailed_exitcode: bool, allow_data_loss: bool, allow_restart: bool,
         with_graph: bool) -> int:
    """Show what reconcile would change; never calls a mutating API."""
    from mlops_infra.api import refuse_blocked

    if with_graph and fmt != "markdown":
        raise click.UsageError("--graph draws the plan in the Markdown report: add --format markdown")
    with _open_stack(spec, env, local) as stack:
        the_plan = stack.plan(allow_data_loss=allow_data_loss, allow_restart=allow_restart)
        _show_plan(the_plan, fmt)
        if with_graph:
            from mlops_infra.report.graph import render_plan_markdown

            click.echo(render_plan_markdown(the_plan))
        refuse_blocked(the_plan)            # a blocked plan is a failed check (exit 1)
        if out:
            _write_text(out, the_plan.to_json())
            click.echo(f"Saved the plan to {out}; apply it with: python -m mlops_infra apply {out}",
                       err=True)
        return EXIT_CHANGES if detailed_exitcode and the_plan.has_changes else EXIT_OK


@cli.command()
@click.argument("plan_file", type=click.Path(dir_okay=False))
@click.option("--local", is_flag=True, hidden=True,
              help="Accepted for compatibility: a plan records where its ledger lives.")
@click.option("--concurrency", type=click.IntRange(1, 64), default=APPLY_CONCURRENCY,
              show_default=True,
              help="How many changes run at once.")
def apply(plan_file: str, local: bool, concurrency: int) -> int:
    """Apply a saved plan, if the ledger has not moved since it was made."""
    from mlops_infra.api import offline_kinds
    from mlops_infra.engine.plan import Plan

    the_plan = Plan.from_json(_read_text(plan_file), source=plan_file, kinds=offline_kinds())
    if local and not the_plan.local:
        raise UserError(f"{plan_file}: the plan was made against {the_plan.ledger_location}, "
                        "not a local ledger; drop --local")
    state_dir = Path(the_plan.ledger_location).parent.parent if the_plan.local else None
    with _open_stack(the_plan.spec_path, the_plan.env, the_plan.local, state_dir,
                     kinds={change.kind for change in the_plan.resources}) as stack:
        if stack.spec.stack != the_plan.stack:
            raise UserError(f"{plan_file}: plan is for stack '{the_plan.stack}', "
                            f"{the_plan.spec_path} is stack '{stack.spec.stack}'")
        from mlops_infra.report import ApplyProgress

        with ApplyProgress(the_plan, console=_console("text")) as progress:
            result = stack.apply(the_plan, progress=progress, concurrency=concurrency)
        return _report(result, "text")


def _write_text(path: str, text: str) -> None:
    try:
        Path(path).write_text(text)
    except OSError as exc:
        raise UserError(f"{path}: cannot write it: {exc.strerror}") from None


def _read_text(path: str) -> str:
    _check_input(path)
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"{path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise UserError(f"{path}: not a usable plan: not UTF-8 text") from None


@cli.command()
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("--env", default=None, help="Environment overlay to validate.")
def validate(spec: str, env: str | None) -> int:
    """Check SPEC in every environment (syntax, fields, names, references, cycles, guardrails)
    without calling any API."""
    from mlops_infra.api import validate as validate_spec

    _check_input(spec)
    checked = validate_spec(spec, env=env)
    shown = checked[env] if env in checked else next(iter(checked.values()))
    envs = [name for name in checked if name]
    where = f", environments {', '.join(envs)}" if envs else ""
    click.echo(f"{spec}: valid ({len(shown.resources)} resources, stack '{shown.stack}'{where})")
    return EXIT_OK


@cli.command()
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("--env", default=None, help="Environment overlay to draw (needed when SPEC has environments).")
@click.option("--format", "fmt", type=click.Choice(("mermaid", "dot")), default="mermaid",
              show_default=True, help="Mermaid (GitHub renders it) or Graphviz dot.")
@click.option("-o", "--out", type=click.Path(dir_okay=False), help="Write to a file instead of stdout.")
def graph(spec: str, env: str | None, fmt: str, out: str | None) -> int:
    """Draw SPEC's dependency graph by layer (references, implied grants, API enablement);
    calls no API."""
    from mlops_infra.api import load
    from mlops_infra.clients import Clients
    from mlops_infra.engine.registry import LazyKinds
    from mlops_infra.report.graph import render, spec_graph

    _check_input(spec)
    loaded = load(spec, env=env)
    offline = Clients(project=loaded.project, endpoints={})     # never called: no API
    text = render(spec_graph(loaded, kinds=LazyKinds(lambda cls: cls(offline))), fmt)
    if out:
        _write_text(out, text)
    else:
        click.echo(text, nl=False)
    return EXIT_OK


@cli.command()
@click.option("-o", "--out", type=click.Path(dir_okay=False), help="Write to a file instead of stdout.")
def schema(out: str | None) -> int:
    """Print the spec's JSON Schema (for editors)."""
    from mlops_infra.api import kind_schemas
    from mlops_infra.spec import export_json_schema

    text = json.dumps(export_json_schema(kind_schemas()), indent=2)
    if out:
        _write_text(out, text + "\n")
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
        created = stack.ensure_ledger_home()
        verb = "created the ledger bucket" if created else "found the ledger bucket"
        click.echo(f"{verb} gs://{stack.spec.ledger_bucket}; ledger: {stack.ledger.location}")
    return EXIT_OK


@cli.group()
def state() -> None:
    """Inspect the ledger, or break a dead lock."""


@state.command("list")
@_spec_options
def state_list(spec: str, env: str | None, local: bool) -> int:
    """List the resources the ledger says this stack owns."""
    with _open_stack(spec, env, local) as stack:
        ledger_state = stack.read_ledger()
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
        entries = [e for e in stack.read_ledger().entries.values() if e.address == address]
        if not entries:
            raise UserError(f"no ledger entry with address '{address}'")
        click.echo(json.dumps([asdict(e) for e in entries], indent=2))
    return EXIT_OK


@state.command("unlock")
@_spec_options
@click.option("--force", is_flag=True, help="Break the lock even if its holder looks alive.")
def state_unlock(spec: str, env: str | None, local: bool, force: bool) -> int:
    """Break the stack's lock when its holder is dead (a live lease needs --force)."""
    with _open_stack(spec, env, local) as stack:
        holder = stack.ledger.break_lock(force=force)
        click.echo(f"removed the lock held by {json.dumps(holder)}" if holder else "no lock was held")
    return EXIT_OK


# --- moving in: import ----------------------------------------------------------------------
@cli.group("import")
def import_group() -> None:
    """Move existing resources in: Terraform state, or a live project, becomes a spec and a
    ledger that owns them (nothing live is changed)."""


def _import_output(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn = click.option("--force", is_flag=True, help="Overwrite the output file if it exists.")(fn)
    fn = click.option("--no-ledger", is_flag=True,
                      help="Write only the spec (no ledger, no check against live state).")(fn)
    fn = click.option("--ledger-prefix", default=None, help="The spec's ledger prefix.")(fn)
    fn = click.option("--ledger-bucket", default=None,
                      help="The spec's ledger bucket (default: <project>-mlops-infra-state).")(fn)
    fn = click.option("--stack", default=None,
                      help="The stack name (default: the output file's name).")(fn)
    return click.option("-o", "--out", required=True, type=click.Path(dir_okay=False),
                        help="The spec file to write.")(fn)


def _import_options(out: str, stack: str | None, ledger_bucket: str | None,
                    ledger_prefix: str | None, no_ledger: bool, force: bool) -> Any:
    from mlops_infra.importers import Options, default_stack
    from mlops_infra.spec.envelope import STACK_RE
    from mlops_infra.spec.identifiers import bucket_name_problem

    path = Path(out)
    if path.exists() and not force:
        raise UserError(f"{out} exists: pass --force to overwrite it")
    name = stack or default_stack(path)
    if not STACK_RE.match(name):
        raise UserError(f"--stack {name!r}: use lowercase letters, digits and '-', starting with "
                        "a letter, at most 40 characters")
    problem = bucket_name_problem(ledger_bucket) if ledger_bucket is not None else None
    if problem:
        raise UserError(f"--ledger-bucket: {problem}")
    return Options(out=path, stack=name, write_ledger=not no_ledger, ledger_bucket=ledger_bucket,
                   ledger_prefix=ledger_prefix)


def _import_summary(result: Any) -> int:
    from mlops_infra.importers.summary import render

    render(result, _console("text"))
    return EXIT_OK


@import_group.command("terraform")
@click.argument("states", nargs=-1, required=True)
@click.option("--env", "envs", multiple=True,
              help="The environment of each STATE, in order (default: one state -> no "
                   "environments; several -> their workspace names, e.g. prod.tfstate -> prod).")
@_import_output
def import_terraform_command(states: tuple[str, ...], envs: tuple[str, ...], out: str,
                             stack: str | None, ledger_bucket: str | None,
                             ledger_prefix: str | None, no_ledger: bool, force: bool) -> int:
    """Import Terraform STATE files (format 4), or gs://BUCKET/PREFIX/ENV.tfstate objects of
    the GCS backend (a gs://BUCKET/PREFIX/ prefix: every state under it)."""
    from mlops_infra.importers import import_terraform

    options = _import_options(out, stack, ledger_bucket, ledger_prefix, no_ledger, force)
    return _import_summary(import_terraform(list(states), envs=list(envs) or None,
                                            options=options))


@import_group.command("live")
@click.option("--project", required=True, help="The project whose resources to import.")
@click.option("--kinds", "kinds", multiple=True,
              help="Kinds or services to import (storage, iam.ServiceAccount...; default: all). "
                   "Repeat or separate with commas.")
@click.option("--region", "regions", multiple=True,
              help="Regions to look for regional resources in (subnetworks, key rings).")
@click.option("--env", default=None, help="The environment this project is (its own stack STACK-ENV).")
@_import_output
def import_live_command(project: str, kinds: tuple[str, ...], regions: tuple[str, ...],
                        env: str | None, out: str, stack: str | None, ledger_bucket: str | None,
                        ledger_prefix: str | None, no_ledger: bool, force: bool) -> int:
    """Import what exists in a project (brownfield without Terraform), through the kinds'
    list calls, leaving out what Google manages (default network, service agents, default
    APIs)."""
    from mlops_infra.importers import import_live

    options = _import_options(out, stack, ledger_bucket, ledger_prefix, no_ledger, force)
    wanted = [k.strip() for item in kinds for k in item.split(",") if k.strip()]
    if not regions:
        click.echo("note: no --region given: regional resources (subnetworks, regional key "
                   "rings) are not looked for", err=True)
    return _import_summary(import_live(project, kinds_wanted=wanted or None, regions=list(regions),
                                       env=env, options=options))


@import_group.command("labels")
@_spec_options
@_format_option
@click.option("--dry-run", is_flag=True, help="Only show the labels that would be added.")
@click.option("--auto-approve", is_flag=True, help="Apply without asking.")
def import_labels_command(spec: str, env: str | None, local: bool, fmt: str, dry_run: bool,
                          auto_approve: bool) -> int:
    """Add the ownership labels to the resources an import moved in: the one step after an
    import, its plan holding nothing else."""
    from mlops_infra.importers.labels import labels_plan

    with _open_stack(spec, env, local) as stack:
        plan = labels_plan(stack)
        _show_plan(plan, fmt)
        if dry_run or not plan.has_changes:
            return EXIT_OK
        if not _confirm(auto_approve):
            click.echo("Nothing applied.", err=True)
            return EXIT_OK
        return _report(stack.apply(plan, progress=None), fmt)
