"""The conformance suite every registered kind goes through, from its first commit.

Parametrised over the registry, so a new kind is enrolled by registering:
- golden cases (``tests/kinds/cases/KIND/CASE.yaml``, one file per case): ``desired`` is
  exactly what the case says, and what Google returns for it (``live``) makes no diff;
- ``normalize`` is idempotent, on the desired state and on live state;
- identity round trip: ``identify`` -> the API name the ledger keeps -> ``id_from_name``
  gives back the same name, scope and parts;
- outputs known before creation are computed without live state;
- declarations hold together: clients served by the emulator, one owner per guardrail
  rule and service agent, server-named kinds carry labels (their identity needs them).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops_infra.api import registered_kinds
from mlops_infra.clients import Clients
from mlops_infra.emulator.services import service_names
from mlops_infra.engine import ownership, sensitive
from mlops_infra.engine.diff import compare, without_paths
from mlops_infra.engine.kind import Kind, ResourceContext, name_regex

CASES_DIR = Path(__file__).parent / "cases"
KINDS = registered_kinds()
CASES = sorted(CASES_DIR.glob("*/*.yaml"))
STACK = "s"


def _kind(name: str) -> Kind:
    return KINDS[name](Clients(project="acme-ml", endpoints={}))


def _load(case: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(case.read_text())
    return data


def _place(kind: Kind, case: dict[str, Any]) -> tuple[ResourceContext, dict[str, Any]]:
    context = {"name": "thing", "project": "acme-ml", "region": "us-central1", **case.get("context", {})}
    ctx = ResourceContext(address=context.get("address", "thing"), name=context["name"],
                          project=context["project"], region=context["region"], stack=STACK)
    fields = kind.model.model_validate(case["fields"]).model_dump(
        exclude_unset=True, by_alias=True, mode="json")
    return ctx, fields


def _case_id(case: Path) -> str:
    return f"{case.parent.name}/{case.stem}"


@pytest.mark.parametrize("name", sorted(KINDS))
def test_every_kind_has_golden_cases(name: str) -> None:
    assert list((CASES_DIR / name).glob("*.yaml")), f"add a case under tests/kinds/cases/{name}/"


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_desired_is_exactly_the_golden_case(case: Path) -> None:
    data = _load(case)
    kind = _kind(case.parent.name)
    ctx, fields = _place(kind, data)
    assert kind.desired(ctx, fields) == data["desired"]


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_golden_case_names_are_names_google_accepts(case: Path) -> None:
    data = _load(case)
    kind = _kind(case.parent.name)
    assert kind.check_name(*_place(kind, data)) is None


@pytest.mark.parametrize("case", [c for c in CASES if "live" in _load(c)], ids=_case_id)
def test_what_google_returns_makes_no_diff(case: Path) -> None:
    data = _load(case)
    kind = _kind(case.parent.name)
    ctx, fields = _place(kind, data)
    desired = ownership.with_managed_labels(kind, kind.desired(ctx, fields), STACK, ctx.address)
    # as the planner compares: local fields left out, input-only ones taken as written, secret
    # paths never compared with live state (Google obfuscates them; the ledger's keyed hash
    # decides, tests/engine/test_secrets.py)
    secret = list(sensitive.secret_paths(desired, kind))
    assert compare(kind, without_paths(desired, secret),
                   without_paths(kind.normalize(data["live"]), secret)) == []


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_normalize_is_idempotent(case: Path) -> None:
    data = _load(case)
    kind = _kind(case.parent.name)
    for value in (data["desired"], data.get("live", data["desired"])):
        once = kind.normalize(value)
        assert kind.normalize(once) == once


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_identity_round_trips_through_the_ledger(case: Path) -> None:
    data = _load(case)
    kind = _kind(case.parent.name)
    rid = kind.identify(*_place(kind, data))
    if kind.naming == "server" and not rid.name:    # named by the server once created
        assert rid.scope
        return
    back = kind.id_from_name(rid.name)          # what the ledger keeps is the API name
    assert (back.name, back.scope, back.parts) == (rid.name, rid.scope, rid.parts)


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_its_api_name_is_taken_back_from_a_ledger_or_plan_file(case: Path) -> None:
    """``name_problem`` refuses what an edited ledger or plan could name: never a real name."""
    data = _load(case)
    kind = _kind(case.parent.name)
    rid = kind.identify(*_place(kind, data))
    name = rid.name or f"{rid.scope}/{(kind.name_pattern or 'x/y').split('/')[-2]}/1234567"
    assert kind.name_problem(name) is None
    assert kind.name_problem("garbage") is not None
    assert kind.name_problem(name.replace("/", "/../", 1)) is not None


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_outputs_before_creation_need_no_live_state(case: Path) -> None:
    data = _load(case)
    kind = _kind(case.parent.name)
    rid = kind.identify(*_place(kind, data))
    before = kind.outputs_of(rid, None)
    assert set(before) <= kind.outputs
    if "live" in data:
        after = kind.outputs_of(rid, data["live"])
        assert set(after) <= kind.outputs and {k: after[k] for k in before} == before


@pytest.mark.parametrize("name", sorted(KINDS))
def test_declared_clients_are_served_by_the_emulator(name: str) -> None:
    kind = KINDS[name]
    assert kind.uses, f"{name} declares no clients (uses)"
    agents = kind.service_agent.uses if kind.service_agent else ()
    assert {d.endpoint for d in (*kind.uses, *agents)} <= set(service_names())


@pytest.mark.parametrize("name", sorted(KINDS))
def test_every_kind_declares_the_shape_of_its_api_names(name: str) -> None:
    """What a ledger or a plan file names is checked against it before any call
    (``Kind.name_problem``): an edited id never reaches the kind's own parsing."""
    pattern = KINDS[name].name_pattern
    assert pattern, f"{name}: declare name_pattern, e.g. 'projects/*/buckets/*'"
    name_regex(pattern)                         # a pattern it can read


@pytest.mark.parametrize("name", sorted(KINDS))
def test_server_named_kinds_can_carry_ownership_labels(name: str) -> None:
    kind = KINDS[name]
    if kind.naming == "server":
        assert kind.labels_path and kind.listable


def test_each_guardrail_rule_and_service_agent_has_one_meaning() -> None:
    descriptions: dict[str, str] = {}
    for kind in KINDS.values():
        for rule, text in kind.guardrails.items():
            assert descriptions.setdefault(rule, text) == text, rule
    agents: dict[str, object] = {}
    for kind in KINDS.values():     # kinds of one service may share its agent: the same object
        if kind.service_agent:
            assert agents.setdefault(kind.service_agent.name, kind.service_agent) is kind.service_agent


@pytest.mark.parametrize("name", sorted(KINDS))
def test_a_kind_lives_in_the_module_of_its_service(name: str) -> None:
    """``SERVICE.Name`` is defined under ``mlops_infra.kinds.SERVICE``: looking a kind up
    imports that service only (``engine.registry`` loads kinds lazily)."""
    service = name.split(".", 1)[0]
    module = KINDS[name].__module__
    assert module == f"mlops_infra.kinds.{service}" or module.startswith(f"mlops_infra.kinds.{service}.")


def test_looking_up_a_kind_imports_only_its_service() -> None:
    import subprocess
    import sys

    probe = ("import sys, mlops_infra.kinds; from mlops_infra.engine.registry import find; "
             "find('storage.Bucket'); "
             "print(sorted(m for m in sys.modules if m.startswith('mlops_infra.kinds.') "
             "and not m.split('.')[2].startswith('_')))")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=True).stdout
    assert "mlops_infra.kinds.storage" in loaded and "mlops_infra.kinds.compute" not in loaded


@pytest.mark.parametrize("name", sorted(KINDS))
def test_a_kind_says_which_layer_of_the_platform_it_belongs_to(name: str) -> None:
    from mlops_infra.engine.kind import LAYERS

    assert getattr(KINDS[name], "layer", None) in LAYERS, f"{name}: declare layer = one of {LAYERS}"
