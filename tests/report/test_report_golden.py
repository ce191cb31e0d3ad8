"""Golden files: one plan per case, its text and Markdown rendering kept in tests/report/golden.

Regenerate after an intended wording change with ``UPDATE_GOLDEN=1 pytest tests/report``
and review the diff.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from mlops_infra.report import render_markdown, render_text
from tests.report.plans import CASES

GOLDEN = Path(__file__).parent / "golden"
RENDERERS: dict[str, Callable[..., str]] = {"txt": render_text, "md": render_markdown}


@pytest.mark.parametrize("suffix", sorted(RENDERERS))
@pytest.mark.parametrize("case", sorted(CASES))
def test_matches_golden(case: str, suffix: str) -> None:
    rendered = RENDERERS[suffix](CASES[case]())
    path = GOLDEN / f"{case}.{suffix}"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(rendered)
    assert rendered == path.read_text()
