"""Terminal rendering: symbols, field lines, summary, blocked changes, colour handling."""

from __future__ import annotations

from io import StringIO

from rich.console import Console

from mlops_infra.engine.kind import FieldChange
from mlops_infra.engine.plan import Action
from mlops_infra.report import render_markdown, render_text
from mlops_infra.report.lines import format_value
from tests.report.plans import blocked, bucket, create, delete, noop, plan_of, replace, update


def test_each_action_gets_its_symbol_and_title() -> None:
    out = render_text(plan_of(create(), update(), replace(), delete()))
    assert "  + storage.Bucket raw-data (projects/p/buckets/raw-data)\n" in out
    assert "  ~ storage.Bucket models (projects/p/buckets/models)\n" in out
    assert "  -/+ storage.Bucket features (projects/p/buckets/features)\n" in out
    assert "  - storage.Bucket scratch (projects/p/buckets/scratch)\n" in out


def test_field_lines_are_json_encoded_with_op_symbols() -> None:
    out = render_text(plan_of(update(), create()))
    assert '      ~ storageClass: "STANDARD" -> "NEARLINE"\n' in out
    assert '      - labels.old: "x"\n' in out
    assert "      + versioning.enabled: true\n" in out
    assert '      + labels.env: "dev"\n' in out


def test_forces_replacement_marks_only_the_forcing_field() -> None:
    out = render_text(plan_of(replace()))
    assert '~ location: "US" -> "EU"  # forces replacement' in out
    assert '+ labels.team: "ml"\n' in out


def test_noops_are_counted_not_listed() -> None:
    out = render_text(plan_of(create(), noop("logs"), noop("tmp")))
    assert "logs" not in out and "tmp" not in out
    assert out.endswith(
        "Plan: 1 to create, 0 to update, 0 to replace, 0 to delete. (2 unchanged)\n")


def test_no_changes_summary() -> None:
    assert render_text(plan_of(noop())) == \
        "No changes. Live infrastructure matches the spec. (1 unchanged)\n"


def test_blocked_change_is_flagged_with_a_warning() -> None:
    out = render_text(plan_of(blocked()))
    assert "      ! blocked: bucket holds objects" in out
    assert "! 1 change is blocked; apply will refuse this plan" in out


def test_long_values_are_shown_whole_never_cut() -> None:
    long = "https://www.googleapis.com/compute/v1/projects/acme-ml-dev/global/networks/" + "v" * 400
    change = FieldChange(path="network", op="change", old="a", new=long)
    out = render_text(plan_of(bucket("b", Action.UPDATE, change)))
    assert f'"{long}"' in out and "chars)" not in out
    md = render_markdown(plan_of(bucket("b", Action.UPDATE, change)))
    assert long in md and "chars)" not in md
    assert format_value({"b": 1, "a": [1, 2]}) == '{"a": [1, 2], "b": 1}'
    assert format_value("x" * 100, limit=10) == '"xxxxxxxxx... (102 chars)'


def test_prints_plain_to_a_non_terminal_console() -> None:
    buffer = StringIO()
    returned = render_text(plan_of(create()), console=Console(file=buffer, width=40))
    assert buffer.getvalue() == returned  # no wrapping at 40 columns, no escape codes
    assert "\x1b[" not in returned


def test_colour_on_a_terminal_and_returned_when_asked() -> None:
    buffer = StringIO()
    console = Console(file=buffer, force_terminal=True, color_system="standard")
    plain = render_text(plan_of(create()), console=console)
    assert "\x1b[" in buffer.getvalue() and "\x1b[" not in plain
    coloured = render_text(plan_of(create()), color=True)
    assert "\x1b[32m" in coloured  # green for create


def test_color_false_prints_without_styles_even_on_a_terminal() -> None:
    buffer = StringIO()
    console = Console(file=buffer, force_terminal=True, color_system="standard")
    render_text(plan_of(create()), console=console, color=False)
    assert "\x1b[" not in buffer.getvalue()


def test_rich_markup_in_values_is_printed_literally() -> None:
    buffer = StringIO()
    change = FieldChange(path="labels.k", op="add", new="[bold]x[/bold]")
    render_text(plan_of(bucket("b", Action.UPDATE, change)), console=Console(file=buffer))
    assert '"[bold]x[/bold]"' in buffer.getvalue()
