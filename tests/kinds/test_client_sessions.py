"""The clients' ``requests`` sessions read the environment once (``clients.environment_once``)
when what it says cannot depend on the request, and every REST client the kinds declare is
one whose session is found (``clients.http_sessions`` wraps two private attributes), and
whose connection pools hold as many connections as calls are made at once."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from requests.adapters import HTTPAdapter

from mlops_infra.api import registered_kinds
from mlops_infra.clients import STORAGE, Clients, environment_once, http_sessions, widen_pools
from mlops_infra.emulator.services import service_names
from mlops_infra.engine.kind import ClientDecl
from mlops_infra.kinds._clients import AIPLATFORM, SECRET_MANAGER, aiplatform

CLOSED = "http://127.0.0.1:9"          # building a client connects to nothing
CLOSED_GRPC = "127.0.0.1:9"            # the same for the services whose clients speak gRPC
GRPC_SERVICES = frozenset({"iam", "logging", "monitoring"})     # kinds/_clients.py
PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "HTTP_PROXY",
                   "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "REQUESTS_CA_BUNDLE",
                   "CURL_CA_BUNDLE", "NETRC")


def _declared() -> dict[str, ClientDecl]:
    decls: dict[str, ClientDecl] = {"storage": STORAGE, "secretmanager": SECRET_MANAGER}
    for kind in registered_kinds().values():
        agents = kind.service_agent.uses if kind.service_agent else ()
        for decl in (*kind.uses, *agents):
            if decl is not AIPLATFORM and decl not in decls.values():
                decls[f"{decl.endpoint}-{len(decls)}"] = decl   # (AIPLATFORM: regional)
        service = getattr(kind, "client_class", None)
        if isinstance(service, str) and AIPLATFORM in kind.uses:
            decls[f"aiplatform:{service}"] = aiplatform(service, "us-central1")
    return decls


DECLARED = _declared()


@pytest.fixture
def quiet(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    return monkeypatch


def _build(decl: ClientDecl) -> Any:
    clients = Clients(project="p", endpoints={name: CLOSED_GRPC if name in GRPC_SERVICES else CLOSED
                                              for name in service_names()})
    return clients.get(decl, "p")


def _is_rest(client: Any) -> bool:
    transport = getattr(client, "transport", None)
    if transport is None:
        return hasattr(client, "_http")          # google-cloud-core: REST only
    return "Rest" in type(transport).__name__


@pytest.mark.parametrize("name", sorted(DECLARED))
def test_every_rest_client_has_its_session_found_and_quieted(name: str, quiet: Any) -> None:
    client = _build(DECLARED[name])
    sessions = http_sessions(client)
    if _is_rest(client):
        assert sessions, f"{name}: a REST client whose requests session is not found"
        assert all(s.trust_env is False for s in sessions)
    else:
        assert sessions == []


def test_the_operations_client_kinds_poll_through_has_its_session_quieted_and_widened(
        quiet: Any) -> None:
    """``transport.operations_client`` (how serviceusage, Vertex and Workbench wait on
    operations) builds a session of its own: it reads the environment once and keeps 64
    connections a host too, like the client's."""
    polled = 0
    for name, decl in sorted(DECLARED.items()):
        client = _build(decl)
        transport = getattr(client, "transport", None)
        if not _is_rest(client) or not hasattr(transport, "operations_client"):
            continue
        polls = transport.operations_client.transport._session
        assert any(s is polls for s in http_sessions(client)), name
        assert polls.trust_env is False, name
        assert polls.get_adapter("https://x").poolmanager.connection_pool_kw["maxsize"] == 64
        polled += 1
    assert polled >= 3          # serviceusage, kms, resource manager, vertex, workbench...


def test_a_ca_bundle_is_pinned_as_requests_would_use_it(quiet: pytest.MonkeyPatch) -> None:
    quiet.setenv("CURL_CA_BUNDLE", "/etc/ssl/curl.pem")
    sessions = http_sessions(_build(STORAGE))
    assert sessions and all(s.verify == "/etc/ssl/curl.pem" and not s.trust_env for s in sessions)
    quiet.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/requests.pem")        # requests' own order
    assert all(s.verify == "/etc/ssl/requests.pem" for s in http_sessions(_build(STORAGE)))


@pytest.mark.parametrize("variable, value", [("HTTPS_PROXY", "http://127.0.0.1:3128"),
                                             ("no_proxy", "localhost"),
                                             ("NETRC", "/tmp/netrc")])
def test_a_proxy_or_netrc_keeps_the_lookups_per_request(
        quiet: pytest.MonkeyPatch, variable: str, value: str) -> None:
    assert environment_once() is not None
    quiet.setenv(variable, value)
    assert environment_once() is None
    sessions = http_sessions(_build(STORAGE))
    assert sessions and all(s.trust_env is True and s.verify is True for s in sessions)


def test_a_netrc_file_keeps_the_lookups(quiet: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".netrc").write_text("machine example.com login a password b\n")
    assert environment_once() is None


@pytest.mark.emulator_services("storage")
def test_as_many_calls_at_once_as_the_engine_makes_keep_their_connections(
        emulator: Any, emulator_clients: Clients, caplog: pytest.LogCaptureFixture) -> None:
    """``requests`` keeps 10 connections a host: 48 calls at once opened up to 48 and dropped
    all but 10 with a warning each, and the next 48 opened them again. Now no connection is
    dropped, and two bursts open no more than one burst's calls."""
    client = emulator_clients.storage()
    emulator.set_latency(0.05)                  # the calls of a burst overlap
    caplog.set_level(logging.DEBUG, logger="urllib3.connectionpool")

    def burst() -> None:
        with ThreadPoolExecutor(max_workers=48) as pool:
            list(pool.map(lambda _: list(client.list_buckets()), range(48)))
    burst()
    burst()
    assert 10 < _count(caplog, "Starting new HTTP connection") <= 48
    assert _count(caplog, "Connection pool is full") == 0


def test_an_adapter_set_up_otherwise_than_requests_own_is_left_alone() -> None:
    class MutualTls(HTTPAdapter):     # as google-auth mounts for client certificates
        pass

    session = requests.Session()
    own, blocking = MutualTls(), HTTPAdapter(pool_block=True, max_retries=3)
    session.mount("https://", own)
    session.mount("http://10.", blocking)         # set up otherwise than requests' own
    widen_pools(session, 64)
    assert session.get_adapter("https://storage.googleapis.com") is own
    assert session.get_adapter("http://10.0.0.1") is blocking
    plain = session.get_adapter("http://127.0.0.1:9")
    assert type(plain) is HTTPAdapter and plain.poolmanager.connection_pool_kw["maxsize"] == 64


def _count(caplog: pytest.LogCaptureFixture, message: str) -> int:
    return sum(message in record.getMessage() for record in caplog.records)
