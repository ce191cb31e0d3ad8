"""Mermaid's own parser, run under Node (``.ci/node/mermaid-parse.mjs``), for the diagrams
``graph`` draws. Node and the packages are required, never skipped: ``.ci/run`` installs them
(``npm ci --prefix .ci/node``); a missing one fails the test saying how to install it."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

TOOLS = Path(__file__).resolve().parents[2] / ".ci" / "node"
SCRIPT = TOOLS / "mermaid-parse.mjs"


def parse_mermaid(texts: list[str]) -> list[dict[str, Any]]:
    """``{"ok": True, "type": ...}`` or ``{"ok": False, "error": ...}`` per diagram."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("Node.js is needed to check Mermaid diagrams with Mermaid's parser "
                    "(apt-get install nodejs); CI has it")
    if not (TOOLS / "node_modules" / "mermaid").is_dir():
        pytest.fail(f"Mermaid's parser is not installed: run npm ci --prefix {TOOLS} "
                    "(.ci/run does)")
    proc = subprocess.run([node, str(SCRIPT)], input=json.dumps(texts), capture_output=True,
                          text=True, timeout=120, cwd=TOOLS)
    assert proc.returncode == 0, proc.stderr
    results: list[dict[str, Any]] = json.loads(proc.stdout)
    assert len(results) == len(texts)
    return results
