"""The live suite skips cleanly where it cannot run, without reaching anything but loopback:
no project, or a project without credentials (the credential lookup must not probe the GCE
metadata server: ``GCE_METADATA_HOST`` points at a closed loopback port, ``NO_GCE_CHECK``)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("MLOPS_INFRA_", "GOOGLE_", "CLOUDSDK_"))}
    clean.update(HOME=str(tmp_path), GCE_METADATA_HOST=f"127.0.0.1:{_closed_port()}",
                 GCE_METADATA_IP=f"127.0.0.1:{_closed_port()}", NO_GCE_CHECK="True", **env)
    root = Path(__file__).resolve().parents[2]
    return subprocess.run([sys.executable, "-m", "pytest", str(root / "tests/live/test_live_platform.py"),
                           "-q", "-rs", "-p", "no:randomly", "-p", "no:cacheprovider"],
                          capture_output=True, text=True, env=clean, cwd=root, timeout=120)


def test_without_a_project_the_live_suite_is_skipped(tmp_path: Path) -> None:
    done = _run(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SKIPPED [1]" in done.stdout and "MLOPS_INFRA_LIVE_PROJECT" in done.stdout


def test_without_credentials_it_is_skipped_and_says_so(tmp_path: Path) -> None:
    done = _run(tmp_path, MLOPS_INFRA_LIVE_PROJECT="some-project")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SKIPPED [1]" in done.stdout and "Application Default Credentials" in done.stdout
