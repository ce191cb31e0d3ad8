"""JSON round trip, Markdown table shape and escaping, HTML escaping."""

from __future__ import annotations

import dataclasses
import json

from mlops_infra.engine.plan import Plan
from mlops_infra.report import render_html, render_json, render_markdown
from tests.report.plans import CASES, blocked, create, nasty, noop, plan_of, replace, update


def test_json_round_trips_every_case() -> None:
    for name, make in CASES.items():
        plan = make()
        # from_dict: some cases are fragments (a replace whose dependency is not in the plan),
        # which reading a saved plan refuses (engine.plan_file); the JSON must still carry all
        assert Plan.from_dict(json.loads(render_json(plan))) == plan, name
    assert Plan.from_json(render_json(CASES["mixed"]())) == CASES["mixed"]()


def test_json_carries_the_documented_derived_fields() -> None:
    data = json.loads(render_json(plan_of(create(), noop())))
    assert data["format_version"] == 2
    assert data["has_changes"] is True
    assert data["summary"] == {"create": 1, "update": 0, "replace": 0, "delete": 0,
                               "abandon": 0, "noop": 1}
    assert data["resources"][0]["changes"][0] == {
        "path": "labels.env", "op": "add", "old": None, "new": "dev", "forces_replace": False}


def test_markdown_table_has_one_row_per_changed_resource() -> None:
    md = render_markdown(plan_of(create(), update(), noop()))
    table = [line for line in md.splitlines() if line.startswith("|")]
    assert table[0] == "| | Resource | Kind | Action | Details |"
    assert len(table) == 4  # header, separator, two changed resources
    assert all(line.count(" | ") == 4 for line in table if not line.startswith("|---"))
    assert md.count("<details>") == 2 and md.count("```diff") == 2


def test_markdown_heading_names_stack_env_and_project() -> None:
    assert render_markdown(plan_of(create())).startswith(
        "### mlops-infra plan: stack ml (env dev, project p)\n")


def test_markdown_escapes_pipes_and_html() -> None:
    md = render_markdown(plan_of(nasty()))
    row = next(line for line in md.splitlines() if "a\\|b" in line)
    assert row.count("|") - row.count("\\|") == 6  # the pipe in the address does not split cells
    summary = next(line for line in md.splitlines() if line.startswith("<details>"))
    assert "<script>" not in summary.replace("<summary>", "")
    assert "````diff" in md  # a value with ``` cannot close the fence


def test_markdown_no_changes_has_no_table() -> None:
    md = render_markdown(plan_of(noop()))
    assert "No changes." in md and "|" not in md and "<details>" not in md


def test_markdown_shows_blocked_and_forcing_fields() -> None:
    md = render_markdown(plan_of(blocked(), replace()))
    assert "BLOCKED: bucket holds objects" in md
    assert "forces replacement: location" in md


def test_html_escapes_values() -> None:
    html = render_html(plan_of(nasty()))
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_html_has_one_row_per_resource_including_noops() -> None:
    html = render_html(plan_of(create(), update(), noop()))
    assert html.count("<tr>") == 4  # header + three resources
    assert "color:#1a7f37" in html  # create is green
    assert "labels.env" in html and "logs" in html


def test_plan_repr_html_uses_the_renderer() -> None:
    plan = plan_of(create())
    assert plan._repr_html_() == render_html(plan)


def test_plan_wide_notes_reach_markdown_and_html() -> None:
    """A ledger migration note is as visible in a PR comment and a notebook as in the terminal."""
    plan = dataclasses.replace(plan_of(noop()), notes=("ledger migrated from schema 1 <v1>",))
    md = render_markdown(plan)
    assert "> Note: ledger migrated from schema 1 &lt;v1&gt;" in md
    html = render_html(plan)
    assert "<i>ledger migrated from schema 1 &lt;v1&gt;</i>" in html
