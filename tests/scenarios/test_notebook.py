"""examples/quickstart.ipynb executed as Jupyter runs it (nbclient, an IPython kernel), from a
directory that is not the repository: its outputs show the plan as the HTML table, the
applied stack's outputs, and the edit in the second plan."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "examples" / "quickstart.ipynb"


def _html(cell: Any) -> str:
    return "".join(o.get("data", {}).get("text/html", "") for o in cell.outputs)


def _text(cell: Any) -> str:
    parts = [o.get("text", "") for o in cell.outputs if o.output_type == "stream"]
    parts += [o.get("data", {}).get("text/plain", "") for o in cell.outputs]
    return "".join(parts)


def test_the_quickstart_notebook_runs_anywhere_and_shows_plan_apply_and_the_edit(
        tmp_path: Path) -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    assert all(not c.get("outputs") for c in notebook.cells if c.cell_type == "code")  # shipped clean
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env_before = os.environ.get("MLOPS_INFRA_ENDPOINTS")
    os.environ.pop("MLOPS_INFRA_ENDPOINTS", None)
    try:
        NotebookClient(notebook, timeout=300, kernel_name="python3",
                       resources={"metadata": {"path": str(elsewhere)}}).execute()
    finally:
        if env_before is not None:
            os.environ["MLOPS_INFRA_ENDPOINTS"] = env_before
    code = [c for c in notebook.cells if c.cell_type == "code"]
    setup, first_plan, applied, edited, again, _cleanup = code
    assert "the spec and the local state are in" in _text(setup)

    html = _html(first_plan)
    assert html.startswith('<div class="mlops-infra-plan">') and "<table" in html
    assert "Plan: 3 to create, 0 to update" in html
    for address in ("raw-data", "features", "training-events"):
        assert f"<code>{address}</code>" in html

    outputs = _text(applied)
    assert "'raw_bucket': 'gs://demo-mlops-raw-data'" in outputs
    assert "demo_features" in outputs

    html = _html(edited)
    assert "Plan: 0 to create, 2 to update" in html
    assert "storageClass" in html and "&quot;NEARLINE&quot;" in html
    assert "<code>training-events</code>" in html
    assert "schema.fields[&quot;model&quot;]" in html              # the new column, by name
    assert "'noop': 3" in _text(again)
    assert list(elsewhere.iterdir()) == []          # wrote nothing where it was started


def test_the_notebook_writes_the_quickstart_spec_as_shipped() -> None:
    source = nbformat.read(NOTEBOOK, as_version=4).cells[1].source
    assert (ROOT / "examples" / "quickstart.yaml").read_text() in source
