"""``serve()``: one JSON line of endpoints on stdout, then runs until SIGTERM/SIGINT."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

SCRIPT = ("import sys; from mlops_infra.emulator import serve; "
          "serve(services=('storage',), state_path=sys.argv[1])")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serve_prints_endpoints_and_stops_on_signal(tmp_path: Path, sig: int) -> None:
    state = tmp_path / "state.json"
    process = subprocess.Popen([sys.executable, "-c", SCRIPT, str(state)],
                               stdout=subprocess.PIPE, text=True,
                               cwd=Path(__file__).resolve().parents[2])
    try:
        assert process.stdout is not None
        endpoints = json.loads(process.stdout.readline())
        assert set(endpoints) == {"storage", "control"}
        created = requests.post(endpoints["storage"] + "/storage/v1/b",
                                params={"project": "p"}, json={"name": "from-cli"}, timeout=5)
        assert created.status_code == 200
        journal = requests.get(endpoints["control"] + "/journal", timeout=5).json()
        assert [e["method"] for e in journal] == ["POST"]
        process.send_signal(sig)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
    assert "from-cli" in json.loads(state.read_text())["services"]["storage"]["buckets"]
