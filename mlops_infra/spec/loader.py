"""``load_spec``: YAML text -> validated ``Spec`` (overlay, variables, kinds, references, order)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlops_infra.spec.envelope import check_document
from mlops_infra.spec.errors import SourceLocation, SpecError
from mlops_infra.spec.graph import topological_order
from mlops_infra.spec.model import KindSchema, ResourceSpec, Spec
from mlops_infra.spec.overlay import apply_environment
from mlops_infra.spec.refs import located_refs
from mlops_infra.spec.resources import (
    Defaults,
    Edge,
    build_resource,
    check_address,
    check_ref,
    edges_of,
)
from mlops_infra.spec.source import LineMap
from mlops_infra.spec.variables import Variables, check_no_resource_refs
from mlops_infra.spec.yaml_source import parse_yaml

DEFAULT_LEDGER_PREFIX = "mlops-infra"


def load_spec(path: str | Path, *, env: str | None = None,
              kinds: Mapping[str, KindSchema]) -> Spec:
    """Read and validate the spec file at ``path`` for environment ``env``."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(f"cannot read spec: {exc.strerror}",
                        location=SourceLocation(str(path))) from None
    return load_spec_text(text, filename=str(path), env=env, kinds=kinds)


def load_spec_text(text: str, *, filename: str, env: str | None = None,
                   kinds: Mapping[str, KindSchema]) -> Spec:
    """Validate spec ``text`` (``filename`` is used in messages and ``Spec.path``)."""
    data, lines = parse_yaml(text, filename=filename)
    doc = apply_environment(check_document(data, lines), lines, env)
    check_document({**doc, "environments": None}, lines)
    variables = Variables(vars=doc.get("vars") or {}, project=doc.get("project"),
                          region=doc.get("region"), stack=doc["stack"], env=env, lines=lines)
    project, region = _setting(variables, "project", lines), _setting(variables, "region", lines)
    resources = _resources(doc.get("resources") or {}, variables, kinds,
                           Defaults(project, region), lines)
    bucket, prefix = _ledger(doc.get("ledger") or {}, variables, project, lines)
    return Spec(path=filename, stack=doc["stack"], project=project or "", region=region, env=env,
                vars=variables.all_vars(), ledger_bucket=bucket, ledger_prefix=prefix,
                policy=_plain(variables, doc.get("policy") or {}, "policy", lines),
                resources=resources,
                outputs=_outputs(doc.get("outputs") or {}, variables, resources, kinds, lines))


def _setting(variables: Variables, name: str, lines: LineMap) -> str | None:
    value = variables.entry(name, name)
    if value is not None and not isinstance(value, str):
        raise lines.error(name, "must be a string")
    check_no_resource_refs(value, name, lines)
    return value


def _plain(variables: Variables, value: Any, path: str, lines: LineMap) -> Any:
    resolved = variables.resolve(value, path)
    check_no_resource_refs(resolved, path, lines)
    return resolved


def _ledger(section: dict[str, Any], variables: Variables, project: str | None,
            lines: LineMap) -> tuple[str, str]:
    ledger = _plain(variables, section, "ledger", lines)
    bucket = ledger.get("bucket") or (f"{project}-mlops-infra-state" if project else None)
    if not bucket:
        raise lines.error("ledger", "no ledger bucket: set 'ledger.bucket' or a top-level 'project'")
    prefix = ledger.get("prefix", DEFAULT_LEDGER_PREFIX)
    for key, value in (("bucket", bucket), ("prefix", prefix)):
        if not isinstance(value, str):
            raise lines.error(f"ledger.{key}", "must be a string")
    return bucket, prefix.strip("/")


def _resources(section: dict[Any, Any], variables: Variables, kinds: Mapping[str, KindSchema],
               defaults: Defaults, lines: LineMap) -> dict[str, ResourceSpec]:
    raw = {check_address(a, lines): variables.resolve(v, f"resources.{a}")
           for a, v in section.items()}
    built = {a: build_resource(a, r, kinds=kinds, defaults=defaults, lines=lines)
             for a, r in raw.items()}
    outputs = {a: kinds[r.kind].outputs for a, r in built.items()}
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
    for sub, ref in located_refs(resolved, "outputs", lines):
        check_ref(ref.parts[0], ref.parts[1], f"outputs.{sub}", outputs, lines)
    return {str(k): v for k, v in resolved.items()}
