"""Fixtures for end-to-end scenarios: a spec file on disk and a Stack bound to the emulator."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from mlops_infra.api import Stack

SPEC = """\
apiVersion: mlops-infra/v1
stack: scenario
project: test-project
region: us-central1
vars:
  prefix: scn
resources:
  raw:
    kind: storage.Bucket
    name: ${vars.prefix}-raw
    location: US
    labels: {team: ml, env: dev}
    versioning: true
    uniformBucketLevelAccess: true
    publicAccessPrevention: enforced
  models:
    kind: storage.Bucket
    name: ${vars.prefix}-models
    location: EU
    uniformBucketLevelAccess: true
    publicAccessPrevention: enforced
  features:
    kind: bigquery.Dataset
    name: features
    location: US
    labels: {team: ml}
  events:
    kind: bigquery.Table
    name: events
    dataset: ${features.name}
    schema:
      - {name: id, type: STRING, mode: REQUIRED}
      - {name: ts, type: TIMESTAMP}
outputs:
  raw_url: ${raw.url}
"""


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLOPS_INFRA_RETRY_SCALE", "0.02")


@pytest.fixture
def spec_file(tmp_path: Path) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(SPEC)
    return path


@pytest.fixture
def open_stack(emulator) -> Callable[[Path], Stack]:  # type: ignore[no-untyped-def]
    opened: list[Stack] = []

    def _open(path: Path, env: str | None = None) -> Stack:
        stack = Stack.load(path, env=env, endpoints=emulator.endpoints)
        opened.append(stack)
        return stack

    yield _open
    for stack in opened:
        stack.close()


def run_cli(args: list[str], *, endpoints: dict[str, str] | None = None,
            cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m mlops_infra ARGS`` in a subprocess, pointed at the emulator."""
    import json

    env = {k: v for k, v in os.environ.items() if k != "MLOPS_INFRA_ENDPOINTS"}
    env["MLOPS_INFRA_RETRY_SCALE"] = "0.02"
    env["MLOPS_INFRA_EMULATOR_DELAY_SCALE"] = "0.005"   # --local: Google's delays, shortened
    if endpoints is not None:
        env["MLOPS_INFRA_ENDPOINTS"] = json.dumps(endpoints)
    return subprocess.run([sys.executable, "-m", "mlops_infra", *args], capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=120, stdin=subprocess.DEVNULL)
