"""``load_spec``: YAML text -> validated ``Spec`` (overlay, variables, kinds, references, order).

``load_every_environment`` loads a spec once per environment it defines, so ``validate``
can check every overlay, not only the one being deployed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from mlops_infra.spec.envelope import check_document
from mlops_infra.spec.errors import SourceLocation, SpecError
from mlops_infra.spec.foreach import expand as expand_for_each
from mlops_infra.spec.foreach import refuse_group_refs
from mlops_infra.spec.graph import topological_order
from mlops_infra.spec.hints import clip
from mlops_infra.spec.identifiers import bucket_name_problem, region_problem
from mlops_infra.spec.limits import MAX_DEPTH
from mlops_infra.spec.model import KindSchema, ResourceSpec, Spec
from mlops_infra.spec.overlay import apply_environment
from mlops_infra.spec.policy import check_policy
from mlops_infra.spec.refs import located_refs
from mlops_infra.spec.resources import (
    Defaults,
    Edge,
    build_resource,
    check_address,
    check_project,
    check_ref,
    edges_of,
)
from mlops_infra.spec.secrets import (
    SecretSource,
    check_secret_refs,
    parse_secrets,
    refuse_secret_refs,
)
from mlops_infra.spec.source import LineMap
from mlops_infra.spec.text import read_spec_file
from mlops_infra.spec.variables import Variables, check_no_resource_refs
from mlops_infra.spec.yaml_source import parse_yaml

DEFAULT_LEDGER_PREFIX = "mlops-infra"
T = TypeVar("T")


@dataclass(frozen=True)
class Checks:
    """What the caller knows that a spec is checked against (see ``load_spec``)."""

    kinds: Mapping[str, KindSchema]
    policy_settings: Mapping[str, Any] | None = None
    guardrail_rules: Collection[str] | None = None


def load_spec(path: str | Path, *, env: str | None = None,
              kinds: Mapping[str, KindSchema], require_env: bool = False,
              policy_settings: Mapping[str, Any] | None = None,
              guardrail_rules: Collection[str] | None = None) -> Spec:
    """Read and validate the spec file at ``path`` for environment ``env``.

    ``require_env``: the caller wants a concrete stack, so a spec that defines
    ``environments:`` without ``env`` being given is an error naming them (without it,
    the base document is loaded and ``${env}`` is ``""``: only for tooling that asks for
    the base on purpose).
    ``policy_settings``: guardrail setting name -> type annotation (``{"require_cmek":
    bool, "allowed_public_ports": list[int]}``); ``policy:`` is then checked strictly
    (unknown settings and wrong types are errors). ``None`` passes it through unchecked.
    ``guardrail_rules``: the rule names a resource's ``waivers:`` may name; ``None``
    accepts any name.
    """
    return load_spec_text(read_spec_file(path), filename=str(path), env=env, kinds=kinds,
                          require_env=require_env, policy_settings=policy_settings,
                          guardrail_rules=guardrail_rules)


def load_spec_text(text: str, *, filename: str, env: str | None = None,
                   kinds: Mapping[str, KindSchema], require_env: bool = False,
                   policy_settings: Mapping[str, Any] | None = None,
                   guardrail_rules: Collection[str] | None = None) -> Spec:
    """Validate spec ``text`` (``filename`` is used in messages and ``Spec.path``);
    the keyword arguments are ``load_spec``'s."""
    doc, lines = _document(text, filename)
    if env is None and require_env:
        _refuse_base(doc, lines)
    checks = Checks(kinds, policy_settings, guardrail_rules)
    return _guarded(filename, partial(build_spec, doc, lines, env, checks))


def load_every_environment(path: str | Path, *, kinds: Mapping[str, KindSchema],
                           policy_settings: Mapping[str, Any] | None = None,
                           guardrail_rules: Collection[str] | None = None,
                           ) -> dict[str | None, Spec]:
    """The spec at ``path`` loaded for each environment it defines, in file order (keyed
    by name), or ``{None: base}`` when it defines none; the first problem in any of them
    is raised. The other arguments are ``load_spec``'s.

    With environments the base alone is not a stack anyone deploys (``${env}`` would be
    empty), so it is checked only as the part of every environment it is.
    """
    return load_every_environment_text(read_spec_file(path), filename=str(path), kinds=kinds,
                                       policy_settings=policy_settings,
                                       guardrail_rules=guardrail_rules)


def load_every_environment_text(text: str, *, filename: str, kinds: Mapping[str, KindSchema],
                                policy_settings: Mapping[str, Any] | None = None,
                                guardrail_rules: Collection[str] | None = None,
                                ) -> dict[str | None, Spec]:
    """``load_every_environment`` for spec ``text``."""
    doc, lines = _document(text, filename)
    checks = Checks(kinds, policy_settings, guardrail_rules)
    envs: list[str | None] = list(doc.get("environments") or {}) or [None]
    specs: dict[str | None, Spec] = {}
    for env in envs:
        try:
            specs[env] = _guarded(filename, partial(build_spec, doc, lines.copy(), env, checks))
        except SpecError as exc:
            raise in_environment(exc, env) from None
    return specs


def _document(text: str, filename: str) -> tuple[dict[str, Any], LineMap]:
    data, lines = parse_yaml(text, filename=filename)
    return _guarded(filename, partial(check_document, data, lines)), lines


def _guarded(filename: str, build: Callable[[], T]) -> T:
    """``build()``, with a recursion overflow (pathological nesting the limits did not
    catch) reported as one line rather than a traceback."""
    try:
        return build()
    except RecursionError:
        raise SpecError(f"the spec nests too deeply (the limit is {MAX_DEPTH} levels)",
                        location=SourceLocation(filename)) from None


def _refuse_base(doc: dict[str, Any], lines: LineMap) -> None:
    names = [str(name) for name in doc.get("environments") or {}]
    if names:
        shown = clip(", ".join(names), 200)
        raise lines.error("environments", f"this spec defines environments {shown}: "
                                          "pass --env NAME")


def in_environment(exc: SpecError, env: str | None) -> SpecError:
    """``exc`` saying which environment it was found in, unless its field already does."""
    overlay = f"environments.{env}"
    if env is None or exc.field == overlay or (exc.field or "").startswith(overlay + "."):
        return exc
    return type(exc)(f"{exc.detail} (in environment '{env}')", location=exc.location,
                     field=exc.field)


def build_spec(doc: dict[str, Any], lines: LineMap, env: str | None, checks: Checks) -> Spec:
    """The ``Spec`` of an envelope-checked document for ``env``; rewrites ``lines``."""
    doc = apply_environment(doc, lines, env)
    check_document({**doc, "environments": None}, lines)
    variables = Variables(vars=doc.get("vars") or {}, project=doc.get("project"),
                          region=doc.get("region"), stack=doc["stack"], env=env, lines=lines)
    project, region = _project(variables, lines), _region(variables, lines)
    secrets = parse_secrets(_plain(variables, doc.get("secrets"), "secrets", lines), lines)
    section = doc.get("resources") or {}
    for address in section:
        check_address(address, lines)
    section, groups = expand_for_each(section, variables.resolve, lines)
    resources = _resources(section, variables, checks, Defaults(project, region), lines, secrets)
    refuse_group_refs(doc.get("outputs") or {}, groups, lines, "outputs")
    bucket, prefix = _ledger(doc.get("ledger") or {}, variables, project, lines)
    policy = check_policy(_plain(variables, doc.get("policy") or {}, "policy", lines),
                          checks.policy_settings, lines)
    return Spec(path=lines.file, stack=doc["stack"], project=project or "", region=region,
                env=env, vars=variables.all_vars(), ledger_bucket=bucket, ledger_prefix=prefix,
                policy=policy, resources=resources,
                assume=tuple(_plain(variables, doc.get("assume") or [], "assume", lines)),
                outputs=_outputs(doc.get("outputs") or {}, variables, resources, checks.kinds,
                                 lines), secrets=secrets)


def _setting(variables: Variables, name: str, lines: LineMap) -> str | None:
    value = variables.entry(name, name)
    if value is not None and not isinstance(value, str):
        raise lines.error(name, "must be a string")
    check_no_resource_refs(value, name, lines)
    return value


def _project(variables: Variables, lines: LineMap) -> str | None:
    project = _setting(variables, "project", lines)
    return check_project(project, "project", lines) if project is not None else None


def _region(variables: Variables, lines: LineMap) -> str | None:
    """The default region, shaped like one (it places subnetworks and key rings)."""
    region = _setting(variables, "region", lines)
    problem = region_problem(region) if region and "${" not in region else None
    if problem:
        raise lines.error("region", problem)
    return region


def _plain(variables: Variables, value: Any, path: str, lines: LineMap) -> Any:
    resolved = variables.resolve(value, path)
    check_no_resource_refs(resolved, path, lines)
    return resolved


def default_ledger_bucket(project: str) -> str:
    """The ledger's bucket when a spec names none."""
    return f"{project}-mlops-infra-state"


def _ledger(section: dict[str, Any], variables: Variables, project: str | None,
            lines: LineMap) -> tuple[str, str]:
    ledger = _plain(variables, section, "ledger", lines)
    bucket = ledger.get("bucket") or (default_ledger_bucket(project) if project else None)
    if not bucket:
        raise lines.error("ledger", "no ledger bucket: set 'ledger.bucket' or a top-level 'project'")
    prefix = ledger.get("prefix", DEFAULT_LEDGER_PREFIX)
    for key, value in (("bucket", bucket), ("prefix", prefix)):
        if not isinstance(value, str):
            raise lines.error(f"ledger.{key}", "must be a string")
    problem = bucket_name_problem(bucket)
    if problem:             # found before any call, not as a 400 from the ledger's first write
        raise lines.error("ledger.bucket", problem)
    return bucket, prefix.strip("/")


def _resources(section: dict[Any, Any], variables: Variables, checks: Checks,
               defaults: Defaults, lines: LineMap,
               secrets: dict[str, SecretSource]) -> dict[str, ResourceSpec]:
    raw = {check_address(a, lines): variables.resolve(v, f"resources.{a}")
           for a, v in section.items()}
    for address, value in raw.items():
        check_secret_refs(value, f"resources.{address}", secrets, lines)
    built = {a: build_resource(a, r, kinds=checks.kinds, defaults=defaults, lines=lines,
                               guardrail_rules=checks.guardrail_rules)
             for a, r in raw.items()}
    outputs = {a: checks.kinds[r.kind].outputs for a, r in built.items()}
    edges: list[Edge] = []
    for address, resource in built.items():
        mine = edges_of(resource, raw[address], outputs=outputs, lines=lines)
        built[address] = dataclasses.replace(
            resource, depends_on=frozenset(e.target for e in mine))
        edges += mine
    return {a: built[a] for a in topological_order(list(built), edges, lines)}


def _outputs(section: dict[Any, Any], variables: Variables, resources: dict[str, ResourceSpec],
             kinds: Mapping[str, KindSchema], lines: LineMap) -> dict[str, Any]:
    outputs = {a: kinds[r.kind].outputs for a, r in resources.items()}
    resolved = variables.resolve(section, "outputs")
    refuse_secret_refs(resolved, "outputs", lines)
    for sub, ref in located_refs(resolved, "outputs", lines):
        check_ref(ref.parts[0], ref.parts[1], f"outputs.{sub}", outputs, lines)
    return {str(k): v for k, v in resolved.items()}
