"""`graph` and `plan --graph` as a user runs them: subprocesses, the emulator's journal proving
that drawing the spec calls no API."""

from __future__ import annotations

from pathlib import Path

from tests.report.mermaid import parse_mermaid
from tests.scenarios.conftest import SPEC, run_cli

ROOT = Path(__file__).resolve().parents[2]
PLATFORM = ROOT / "specs" / "platform.yaml"


def test_graph_draws_the_spec_by_layer_without_any_api_call(emulator, tmp_path: Path) -> None:
    emulator.clear_journal()
    proc = run_cli(["graph", str(PLATFORM), "--env", "dev"], endpoints=emulator.endpoints)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("---\ntitle: stack ml-platform-dev\n---\nflowchart LR\n")
    for layer in ("Data", "Compute", "Security"):
        assert f'["{layer}"]' in proc.stdout
    assert "-.->|API|" in proc.stdout and "-.->|implied|" in proc.stdout
    dot = run_cli(["graph", str(PLATFORM), "--env", "prod", "--format", "dot", "-o",
                   str(tmp_path / "g.dot")], endpoints=emulator.endpoints)
    assert dot.returncode == 0 and dot.stdout == "", dot.stderr
    text = (tmp_path / "g.dot").read_text()
    assert text.startswith('digraph "stack ml-platform-prod" {') and 'label="Security"' in text
    assert emulator.journal == []
    assert parse_mermaid([proc.stdout]) == [{"ok": True, "type": "flowchart-v2"}]


def test_graph_needs_an_env_when_the_spec_has_environments(tmp_path: Path) -> None:
    proc = run_cli(["graph", str(PLATFORM)])
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and "pass --env NAME" in proc.stderr, proc.stderr
    proc = run_cli(["graph", str(PLATFORM), "--env", "prd"])
    assert proc.returncode == 1 and "did you mean 'prod'" in proc.stderr, proc.stderr
    proc = run_cli(["graph", str(tmp_path / "missing.yaml")])
    assert proc.returncode == 1 and "no such file" in proc.stderr


def test_graph_of_a_bad_spec_is_the_same_one_line_error_as_validate(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC.replace("${features.name}", "${featurez.name}"))
    graph, validate = (run_cli([cmd, str(spec)]) for cmd in ("graph", "validate"))
    assert graph.returncode == validate.returncode == 1
    assert graph.stderr == validate.stderr and f"{spec}:30" in graph.stderr


def test_plan_markdown_with_graph_highlights_the_changes(emulator, spec_file: Path) -> None:
    proc = run_cli(["plan", str(spec_file), "--format", "markdown", "--graph"],
                   endpoints=emulator.endpoints)
    assert proc.returncode == 0, proc.stderr
    report, section = proc.stdout.split("<details><summary><b>Dependency graph</b>")
    assert report.startswith("### mlops-infra plan") and "4 to create" in report
    diagram = section.split("```mermaid\n", 1)[1].split("\n```", 1)[0]
    assert "class n0,n1,n2,n3 created" in diagram and "n2 --> n3" in diagram
    assert parse_mermaid([diagram]) == [{"ok": True, "type": "flowchart-v2"}]
    assert run_cli(["reconcile", str(spec_file), "--auto-approve"],
                   endpoints=emulator.endpoints).returncode == 0
    spec_file.write_text(SPEC.replace("env: dev", "env: staging"))
    proc = run_cli(["plan", str(spec_file), "--format", "markdown", "--graph"],
                   endpoints=emulator.endpoints)
    diagram = proc.stdout.split("```mermaid\n", 1)[1].split("\n```", 1)[0]
    assert "class n0 updated" in diagram and "class n1,n2,n3 unchanged" in diagram


def test_graph_flag_needs_the_markdown_format(emulator, spec_file: Path) -> None:
    emulator.clear_journal()
    proc = run_cli(["plan", str(spec_file), "--graph"], endpoints=emulator.endpoints)
    assert proc.returncode == 1 and "add --format markdown" in proc.stderr, proc.stderr
    assert emulator.journal == []
