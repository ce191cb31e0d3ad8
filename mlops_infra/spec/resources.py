"""Turn one ``resources.<address>`` entry into a ``ResourceSpec``: reserved keys, kind lookup,
field validation, and the dependency edges its references and ``dependsOn`` imply."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from mlops_infra.spec.envelope import type_name
from mlops_infra.spec.hints import clip, clipped_repr, did_you_mean
from mlops_infra.spec.identifiers import project_id_problem
from mlops_infra.spec.model import KindSchema, ResourceSpec
from mlops_infra.spec.refs import CONTEXT_NAMES, EACH, SECRETS, VARS, located_refs
from mlops_infra.spec.secrets import refuse_secret_refs
from mlops_infra.spec.source import LineMap, join_path
from mlops_infra.spec.validation import validate_fields

ADDRESS_RE = re.compile(r"^[a-z][a-z0-9_-]*$")
RESERVED_ADDRESSES = (VARS, SECRETS, EACH, *CONTEXT_NAMES)
RESERVED_KEYS = ("kind", "name", "project", "dependsOn", "allowDataLoss", "allowRestart", "waivers",
                 "adopt", "forEach")


@dataclass(frozen=True)
class Defaults:
    project: str | None
    region: str | None


@dataclass(frozen=True)
class Edge:
    """``source`` depends on ``target`` because of the value at dotted ``path`` (document-wide)."""

    source: str
    target: str
    path: str


def check_address(address: Any, lines: LineMap) -> str:
    path = join_path("resources", address)
    if not isinstance(address, str) or not ADDRESS_RE.match(address):
        raise lines.error(path, "invalid address: use lowercase letters, digits, '_' and '-', "
                                "starting with a letter")
    if address in RESERVED_ADDRESSES:
        raise lines.error(path, f"'{address}' is reserved for ${{{address}...}} references")
    return address


def build_resource(address: str, raw: Any, *, kinds: Mapping[str, KindSchema],
                   defaults: Defaults, lines: LineMap,
                   guardrail_rules: Collection[str] | None = None) -> ResourceSpec:
    """Validate ``raw`` (variables already resolved) into a ``ResourceSpec`` without edges;
    ``guardrail_rules`` (when given) are the rule names ``waivers:`` may name."""
    path = join_path("resources", address)
    if not isinstance(raw, dict):
        raise lines.error(path, f"a resource must be a mapping (got {type_name(raw)})")
    kind = _kind(raw, path, kinds, lines)
    for key in ("name", "project"):
        refuse_secret_refs(raw.get(key), f"{path}.{key}", lines)
    fields = {k: v for k, v in raw.items() if k not in RESERVED_KEYS}
    validated = validate_fields(kinds[kind].model, fields, path=path, lines=lines,
                                extra_names=RESERVED_KEYS)
    return ResourceSpec(
        address=address, kind=kind,
        name=_string(raw.get("name", address), f"{path}.name", lines),
        project=_project(raw, defaults, path, lines),
        region=defaults.region, fields=validated,
        depends_on=frozenset(_depends_on(raw, path, lines)),
        allow_data_loss=_flag(raw.get("allowDataLoss", False), f"{path}.allowDataLoss", lines),
        waivers=_waivers(raw.get("waivers", {}), f"{path}.waivers", lines, guardrail_rules),
        adopt=_flag(raw.get("adopt", False), f"{path}.adopt", lines),
        allow_restart=_flag(raw.get("allowRestart", False), f"{path}.allowRestart", lines),
        location=lines.location(path), field_lines=lines.under(path))


def _waivers(value: Any, path: str, lines: LineMap,
             rules: Collection[str] | None) -> dict[str, str]:
    """``waivers: {RULE: "written reason"}``; a waiver without a reason is refused, and so
    is an unknown rule when the caller says which rules exist."""
    if not isinstance(value, dict):
        raise lines.error(path, f"must be a mapping of guardrail rule to reason (got {type_name(value)})")
    for rule, reason in value.items():
        if rules is not None and rule not in rules:
            known = clip(", ".join(sorted(rules)) or "none", 300)
            raise lines.error(f"{path}.{rule}", f"unknown guardrail rule '{clip(str(rule))}'"
                                                f"{did_you_mean(str(rule), rules)} (rules: {known})")
        if not isinstance(reason, str) or len(reason.strip()) < 10:
            raise lines.error(f"{path}.{rule}", "a waiver needs a written reason (10+ characters)")
    return {str(rule): reason.strip() for rule, reason in value.items()}


def _kind(raw: dict[str, Any], path: str, kinds: Mapping[str, KindSchema], lines: LineMap) -> str:
    if "kind" not in raw:
        raise lines.error(path, "missing required key 'kind'")
    kind = raw["kind"]
    if not isinstance(kind, str) or kind not in kinds:
        hint = did_you_mean(kind, kinds) if isinstance(kind, str) else ""
        raise lines.error(f"{path}.kind", f"unknown kind {clipped_repr(kind)}{hint}")
    return kind


def _string(value: Any, path: str, lines: LineMap) -> str:
    if not isinstance(value, str) or not value:
        raise lines.error(path, f"must be a non-empty string (got {type_name(value)})")
    return value


def _flag(value: Any, path: str, lines: LineMap) -> bool:
    if not isinstance(value, bool):
        raise lines.error(path, f"must be true or false (got {type_name(value)})")
    return value


def _project(raw: dict[str, Any], defaults: Defaults, path: str, lines: LineMap) -> str:
    if "project" in raw:
        return check_project(_string(raw["project"], f"{path}.project", lines),
                             f"{path}.project", lines)
    if not defaults.project:
        raise lines.error(path, "no project: set 'project' at the top level or on the resource")
    return defaults.project


def check_project(value: str, path: str, lines: LineMap) -> str:
    """``value`` if it is a project id (or a template resolved later), else a located error."""
    problem = None if "${" in value else project_id_problem(value)
    if problem:
        raise lines.error(path, problem)
    return value


def _depends_on(raw: dict[str, Any], path: str, lines: LineMap) -> list[str]:
    value = raw.get("dependsOn", [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise lines.error(f"{path}.dependsOn", "must be a list of resource addresses")
    return value


def edges_of(resource: ResourceSpec, raw: dict[str, Any], *,
             outputs: Mapping[str, frozenset[str]], lines: LineMap) -> list[Edge]:
    """Every dependency of ``resource`` (explicit and by reference), checked to exist."""
    path = join_path("resources", resource.address)
    edges = [_explicit_edge(resource.address, target, f"{path}.dependsOn.{i}", outputs, lines)
             for i, target in enumerate(_depends_on(raw, path, lines))]
    for sub, ref in located_refs(raw, path, lines):
        check_ref(ref.parts[0], ref.parts[1], join_path(path, sub), outputs, lines)
        edges.append(Edge(resource.address, ref.parts[0], join_path(path, sub)))
    return edges


def _explicit_edge(source: str, target: str, path: str, outputs: Mapping[str, frozenset[str]],
                   lines: LineMap) -> Edge:
    if target not in outputs:
        raise lines.error(path, f"unknown resource '{clip(target)}'{did_you_mean(target, outputs)}")
    return Edge(source, target, path)


def check_ref(address: str, output: str, path: str, outputs: Mapping[str, frozenset[str]],
              lines: LineMap) -> None:
    """``${address.output}`` must name an existing resource and one of its kind's outputs."""
    if address not in outputs:
        hint = did_you_mean(address, outputs, quote="'${{{}." + clip(output) + "}}'")
        raise lines.error(path, f"unknown resource '{clip(address)}' in "
                                f"'${{{clip(address)}.{clip(output)}}}'{hint}")
    if output not in outputs[address]:
        known = ", ".join(sorted(outputs[address])) or "none"
        hint = did_you_mean(output, outputs[address])
        raise lines.error(path, f"'{address}' has no output '{clip(output)}'{hint} "
                                f"(outputs: {known})")
