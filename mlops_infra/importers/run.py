"""The import runs: Terraform states or a live project -> a spec file, ledgers, a summary.

Both runs go the same way: collect spec entries through the kinds (``collect``), give them
stable addresses, let each kind revise its entries knowing the others
(``Kind.adjust_imports``), rebuild references (``references``), turn sensitive values into
``secrets:`` entries, compose one document per environment and fold them (``compose``),
waive the guardrails live resources already break, write the spec and check it validates,
plan every environment against live state with the ledger the import is about to write
(``ledgers.check``), then write the spec and the ledgers. Nothing but the ledgers (and the
ledger bucket, when missing, as ``init`` makes it) is written anywhere; no resource is touched.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops_infra.api import registered_kinds, validate
from mlops_infra.clients import Clients
from mlops_infra.engine.errors import SpecError, UserError
from mlops_infra.engine.kind import Imported, Kind
from mlops_infra.engine.registry import LazyKinds, terraform_types
from mlops_infra.importers import collect, compose, references, render, secrets
from mlops_infra.importers.collect import Found
from mlops_infra.importers.ledgers import Checked, check, violations, write
from mlops_infra.importers.model import EnvImport, Skipped
from mlops_infra.importers.tfstate import environment_of, parse_state, read_states
from mlops_infra.spec import default_ledger_bucket
from mlops_infra.spec.envelope import ENV_RE, STACK_RE

DEFAULT_STACK = "imported"


@dataclass
class ImportResult:
    """What an import wrote and found: per environment, its entries, checks and ledgers."""

    spec_path: Path
    stack: str
    imports: dict[str | None, EnvImport]
    checks: dict[str | None, Checked] = field(default_factory=dict)
    ledgers: dict[str | None, str] = field(default_factory=dict)

    @property
    def skipped(self) -> list[Skipped]:
        seen: dict[str, Skipped] = {}
        for imp in self.imports.values():
            for item in imp.skipped:
                seen.setdefault(f"{imp.env}:{item.origin}", item)
        return list(seen.values())

    @property
    def clean(self) -> bool:
        """Whether every environment's first plan is a no-op (ownership labels aside)."""
        return not any(c.differences for c in self.checks.values())


@dataclass(frozen=True)
class Options:
    """Where to write and what to call things."""

    out: Path
    stack: str
    endpoints: dict[str, str] | None = None
    write_ledger: bool = True
    ledger_bucket: str | None = None
    ledger_prefix: str | None = None


def default_stack(out: Path) -> str:
    """The stack name when none is given: the output file's name, if it is a valid one."""
    stem = re.sub(r"[^a-z0-9-]+", "-", out.stem.lower()).strip("-")
    return stem if STACK_RE.match(stem) and stem not in ("spec",) else DEFAULT_STACK


# --- Terraform ------------------------------------------------------------------------------

def import_terraform(sources: Sequence[str], *, envs: Sequence[str] | None,
                     options: Options) -> ImportResult:
    """Import the Terraform states ``sources`` (files or ``gs://`` objects/prefixes), one
    environment each (``envs``, or the states' workspace names when several)."""
    _check_out(options.out)
    clients = Clients(endpoints=options.endpoints if options.endpoints is not None else None)
    states = [parse_state(data, source=where) for source in sources
              for where, data in read_states(source, storage=lambda _b: clients.storage())]
    names = _env_names(states, envs)
    kinds = _kinds(clients)
    types = terraform_types()
    found: dict[str | None, list[Found]] = {}
    imports: dict[str | None, EnvImport] = {}
    for name, state in zip(names, states):
        items, skipped = collect.from_state(state, types=types, kind_for=kinds.__getitem__)
        found[name] = items
        imports[name] = EnvImport(env=name, source=state.source, skipped=skipped,
                                  locate=state.where,
                                  outputs={k: v for k, v in state.outputs.items()
                                           if k not in state.sensitive_outputs})
    return _finish(found, imports, kinds, options,
                   header=["Imported from Terraform by `python -m mlops_infra import terraform`: "
                           + ", ".join(f"{n or 'state'}={i.source}" for n, i in imports.items())])


def _env_names(states: list[Any], envs: Sequence[str] | None) -> list[str | None]:
    if envs:
        if len(envs) != len(states):
            raise UserError(f"{len(states)} state(s) but {len(envs)} --env name(s): give one "
                            "per state, in the same order")
        names: list[str | None] = list(envs)
    elif len(states) == 1:
        names = [None]
    else:
        names = [environment_of(s.source) for s in states]
    for name in names:
        if name is not None and not ENV_RE.match(name):
            raise UserError(f"environment name {name!r}: use lowercase letters, digits and '-', "
                            "starting with a letter, at most 22 characters (--env NAME)")
    if len(set(names)) != len(names):
        raise UserError(f"two states would be the same environment ({', '.join(map(str, names))})"
                        ": name them with --env")
    return names


def _kinds(clients: Clients) -> Mapping[str, Kind]:
    registered_kinds()
    return LazyKinds(lambda cls: cls(clients))


# --- live ---------------------------------------------------------------------------------

def import_live(project: str, *, kinds_wanted: Sequence[str] | None, regions: Sequence[str],
                env: str | None, options: Options) -> ImportResult:
    """Import what lives in ``project`` (the kinds asked for, or every kind that can)."""
    _check_out(options.out)
    clients = Clients(project=project, endpoints=options.endpoints)
    kinds = _kinds(clients)
    chosen = _live_kinds(kinds_wanted)
    ledger_stack = f"{options.stack}-{env}" if env else options.stack
    ledger = f"gs://{options.ledger_bucket or default_ledger_bucket(project)}/"
    items, skipped = collect.from_live(project, tuple(regions), kinds=chosen, stack=ledger_stack,
                                       kind_for=kinds.__getitem__, ledger=ledger)
    imports = {env: EnvImport(env=env, source=f"projects/{project}", skipped=skipped,
                              project=project)}
    return _finish({env: items}, imports, kinds, options,
                   header=[f"Imported from the live project {project} by "
                           "`python -m mlops_infra import live`"])


def _live_kinds(wanted: Sequence[str] | None) -> list[type[Kind]]:
    every = {name: cls for name, cls in registered_kinds().items()
             if cls.from_live is not Kind.from_live}
    if not wanted:
        return list(every.values())
    chosen = [cls for name, cls in every.items()
              if any(name == w or name.split(".")[0] == w for w in wanted)]
    unknown = [w for w in wanted if not any(n == w or n.split(".")[0] == w for n in every)]
    if unknown:
        raise UserError(f"--kinds {', '.join(unknown)}: no such kind or service can be imported "
                        f"(known: {', '.join(sorted(every))})")
    return chosen


# --- the shared second half ------------------------------------------------------------------

def _check_out(out: Path) -> None:
    """Before anything is read: the spec can be written where asked."""
    folder = out.parent
    if not folder.is_dir():
        why = f"{folder} is not a directory" if folder.exists() else f"no directory {folder}"
        raise UserError(f"{out}: cannot write the spec there: {why}")


def _finish(found: dict[str | None, list[Found]], imports: dict[str | None, EnvImport],
            kinds: Mapping[str, Kind], options: Options, *, header: list[str]) -> ImportResult:
    addresses = collect.assign(found)
    for name, items in found.items():
        imp = imports[name]
        adjusted, left_out = _adjusted(items, kinds)
        imp.entries = collect.entries(adjusted, addresses)
        imp.skipped += left_out
        _place(imp, kinds, options.stack)
    result = ImportResult(spec_path=options.out, stack=options.stack, imports=imports)
    text = _text(result, kinds, options, header)
    temp = options.out.with_name(f".{options.out.name}.importing")
    try:
        _write(temp, text, options.out)
        text = _with_waivers(result, temp, kinds, options, header)
        _validated(temp, options.out, result)
        if options.write_ledger:
            api_names = {name: {e.address: e.api_name for e in imp.entries if e.api_name}
                         for name, imp in imports.items()}
            result.checks = {name: check(temp, name, endpoints=options.endpoints,
                                         api_names=api_names[name]) for name in imports}
        os.replace(temp, options.out)
    finally:
        temp.unlink(missing_ok=True)
    for name, checked in result.checks.items():
        source = imports[name].source
        result.ledgers[name] = write(checked, source=source)
    return result


def _write(path: Path, text: str, shown: Path) -> None:
    try:
        path.write_text(text)
    except OSError as exc:
        raise UserError(f"{shown}: cannot write the spec: {exc.strerror}") from None


def _adjusted(items: list[Found], kinds: Mapping[str, Kind]) -> tuple[list[Found], list[Skipped]]:
    """Each kind's entries revised knowing every kind's (``Kind.adjust_imports``), and those
    a kind left out after all."""
    by_kind: dict[str, list[Found]] = {}
    for item in items:
        by_kind.setdefault(item.kind, []).append(item)
    every = {kind: [f.imported for f in group] for kind, group in by_kind.items()}
    out: list[Found] = []
    for kind, group in by_kind.items():
        out += _matched(group, kinds[kind].adjust_imports(every[kind], every))
    kept = [f for f in out if not f.imported.skipped]
    left_out = [Skipped(f.origin, f.kind, "not importable", f.imported.skipped)
                for f in out if f.imported.skipped]
    return kept, left_out


def _matched(group: list[Found], revised: list[Imported]) -> list[Found]:
    from dataclasses import replace

    left = list(group)
    out = []
    for item in revised:
        hit = next((f for f in left if f.imported is item), None) or next(
            (f for f in left if (f.imported.name, f.imported.key, f.imported.project)
             == (item.name, item.key, item.project)), None)
        if hit is not None:
            left.remove(hit)
            out.append(replace(hit, imported=item))
    return out


def _place(imp: EnvImport, kinds: Mapping[str, Kind], stack: str) -> None:
    """Top project and region, references, secrets, outputs of one environment."""
    imp.project = compose.top_project(imp.entries) or imp.project     # (live: the project asked)
    imp.region = compose.top_region(imp.entries)
    references.rebuild(imp.entries, kind_for=kinds.__getitem__, project=imp.project,
                       region=imp.region, stack=stack)
    for entry in imp.entries:
        entry.project = entry.project or imp.project
    imp.secrets = secrets.extract(imp.entries)
    index = references.outputs_index(imp.entries, kind_for=kinds.__getitem__,
                                     project=imp.project, region=imp.region, stack=stack)
    imp.outputs = references.output_refs(imp.outputs, index)


def _text(result: ImportResult, kinds: Mapping[str, Kind], options: Options,
          header: list[str]) -> str:
    docs = {name: compose.env_document(imp, kind_for=kinds.__getitem__)
            for name, imp in result.imports.items()}
    names = list(docs)
    overlays: dict[str, Any] | None
    if names == [None]:
        base, overlays = docs[None], None
    elif len(names) == 1:
        base, overlays = docs[names[0]], {str(names[0]): {}}
    else:
        base, folded = compose.fold({str(n): d for n, d in docs.items()})
        overlays = dict(folded)
    ledger = {k: v for k, v in (("bucket", options.ledger_bucket),
                                ("prefix", options.ledger_prefix)) if v}
    if ledger:
        base = {**base, "ledger": ledger}
    return render.render(stack=options.stack, base=base, overlays=overlays,
                         header=[*header, "Review the notes below; every resource here is owned "
                                 "by this stack's ledger (see `state list`)."],
                         origins=_origins(result), notes=_notes(result), skipped=result.skipped)


def _origins(result: ImportResult) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    many = len(result.imports) > 1
    for name, imp in result.imports.items():
        for entry in imp.entries:
            where = f"{name}: " if many and name else ""
            out.setdefault(entry.address, []).append(f"{where}{entry.origin}")
    return {a: sorted(set(v)) for a, v in out.items()}


def _notes(result: ImportResult) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for imp in result.imports.values():
        for entry in imp.entries:
            for note in entry.notes:
                if note not in out.setdefault(entry.address, []):
                    out[entry.address].append(note)
    return out


def _with_waivers(result: ImportResult, path: Path, kinds: Mapping[str, Kind], options: Options,
                  header: list[str]) -> str:
    """Waive, on the resource, each guardrail rule a live resource already breaks."""
    changed = False
    for name, imp in result.imports.items():
        broken = _broken(path, name, options.out, result)
        for entry in imp.entries:
            for rule, reason in broken.get(entry.address, {}).items():
                changed |= rule not in entry.waivers
                entry.waivers.setdefault(rule, reason)
    text = _text(result, kinds, options, header)
    if changed:
        path.write_text(text)
    return text


def _broken(path: Path, env: str | None, shown: Path,
            result: ImportResult) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = _guarded(lambda: violations(path, env), path, shown, result)
    return found


def _validated(path: Path, shown: Path, result: ImportResult) -> None:
    _guarded(lambda: validate(path), path, shown, result)


def _guarded(run: Callable[[], Any], path: Path, shown: Path, result: ImportResult) -> Any:
    """``run()``; a spec error names where the value came from (the state file and the
    Terraform address, or the live resource) when it is a resource's: a value this tool
    cannot write (a hand-edited or damaged state, say). Nothing is written then."""
    try:
        return run()
    except SpecError as exc:
        origin = _origin_of(exc.field or "", result)
        if origin is None:
            raise _importer_bug(exc, path, shown) from None
        raise UserError(f"{origin}: cannot be imported: as {exc.field}: {exc.detail}; nothing "
                        "was written (correct the value, or leave the resource out)") from None
    except UserError as exc:
        raise _importer_bug(exc, path, shown) from None


def _origin_of(field: str, result: ImportResult) -> str | None:
    """``SOURCE: ORIGIN`` of the spec resource ``field`` (``resources.ADDRESS...``) is in."""
    parts = field.split(".")
    if len(parts) < 2 or parts[0] != "resources":
        return None
    for imp in result.imports.values():
        for entry in imp.entries:
            if entry.address == parts[1]:
                address = entry.origin.split(" (")[0]      # "ADDRESS (KEY)" for a part
                where = imp.locate(address) if imp.locate else imp.source
                return f"{where}: {entry.origin}"
    return None


def _importer_bug(exc: UserError, path: Path, shown: Path) -> UserError:
    return UserError(f"the imported spec does not validate ({str(exc).replace(str(path), str(shown))});"
                     " this is a bug of the importer: please report it with the state")
