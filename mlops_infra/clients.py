"""Lazy construction of Google API clients: credentials, endpoints, transports.

Kinds declare the clients they call (``engine.kind.ClientDecl``: the endpoint name and a
builder); this module only knows how to build any of them. Production uses Application
Default Credentials and Google's endpoints. When ``MLOPS_INFRA_ENDPOINTS`` is set (a JSON
object mapping endpoint name to base URL, or the path of a file holding one) or an
``endpoints`` mapping is passed, clients talk to those URLs with anonymous credentials:
that is how the local emulator and the tests are reached. Client modules are imported
only when first used, by the builders.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Hashable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from mlops_infra.engine.concurrency import MOST_AT_ONCE
from mlops_infra.engine.errors import UserError
from mlops_infra.engine.kind import ClientDecl
from mlops_infra.spec.jsonload import JsonProblem, load_json

T = TypeVar("T")
ENDPOINTS_ENV = "MLOPS_INFRA_ENDPOINTS"
NO_CREDENTIALS = ("no Google credentials found: run `gcloud auth application-default login` "
                  "(or set GOOGLE_APPLICATION_CREDENTIALS), or pass --local to use the emulator")


LOCAL_EMULATOR = "the local emulator"


class NoEndpoint(UserError):
    """The endpoints given (an emulator's) have none for a service a client needs."""


def no_endpoint(name: str, endpoints: Mapping[str, str], source: str) -> NoEndpoint:
    """The error for a client of endpoint ``name`` missing from ``endpoints``, with what to do
    about it (``source``: ``ENDPOINTS_ENV``, ``LOCAL_EMULATOR`` or who passed them)."""
    known = ", ".join(sorted(endpoints)) or "none"
    if source == ENDPOINTS_ENV:
        return NoEndpoint(
            f"{ENDPOINTS_ENV} has no endpoint for '{name}' (it names: {known}); point it at an "
            f"emulator that serves '{name}' (`python -m mlops_infra emulator` serves every "
            f"service and prints all their endpoints), or unset {ENDPOINTS_ENV} to call Google")
    if source == LOCAL_EMULATOR:
        return NoEndpoint(
            f"{LOCAL_EMULATOR} was not started with '{name}' (it serves: {known}): a kind calls "
            "a client it does not declare in `uses`; this is a bug of mlops_infra")
    return NoEndpoint(f"{source} have no endpoint for '{name}' (they name: {known})")


def endpoints_from_env(environ: Mapping[str, str] = os.environ) -> dict[str, str] | None:
    """Parse ``MLOPS_INFRA_ENDPOINTS`` (inline JSON or a file path); ``None`` if unset."""
    raw = environ.get(ENDPOINTS_ENV, "").strip()
    if not raw:
        return None
    if not raw.startswith("{"):
        path = Path(raw)
        try:
            raw = path.read_text()
        except OSError as exc:
            raise UserError(f"{ENDPOINTS_ENV}: cannot read {path}: {exc.strerror}") from None
    try:
        value = load_json(raw)
    except JsonProblem as exc:
        raise UserError(f"{ENDPOINTS_ENV}: not valid JSON ({exc})") from None
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise UserError(f"{ENDPOINTS_ENV}: expected a JSON object of service name to URL")
    return checked_endpoints(value, source=ENDPOINTS_ENV)


# An endpoint is a REST base URL (http or https, a host, an optional port and path) or a gRPC
# target ``HOST:PORT`` (``grpc://`` accepted): what the emulator prints for its services.
_HOST = r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?)"
_REST_URL = re.compile(rf"https?://{_HOST}(:(?P<port>[0-9]{{1,5}}))?(/[^\s]*)?")
_GRPC_TARGET = re.compile(rf"(grpc://)?{_HOST}:(?P<port>[0-9]{{1,5}})")


class BadEndpoint(UserError):
    """An endpoint that is no URL (or no target of the client's transport)."""


def checked_endpoints(endpoints: Mapping[str, str], *, source: str) -> dict[str, str]:
    """``endpoints`` as a dict, or one line naming ``source`` and the key whose value is
    neither an http(s) URL with a host nor a gRPC ``HOST:PORT``."""
    for name, url in endpoints.items():
        match = _REST_URL.fullmatch(url) or _GRPC_TARGET.fullmatch(url)
        if match is None or int(match["port"] or 0) > 65535:
            raise BadEndpoint(f"{source}: endpoint '{name}' {url!r}: expected http(s)://HOST[:PORT] "
                              "(a REST API) or HOST:PORT (a gRPC one)")
    return dict(endpoints)


def http_options(url: str | None) -> dict[str, Any]:
    """Keyword arguments of a google-cloud client: anonymous and at ``url`` for the emulator."""
    if url is None:
        return {}
    if not _REST_URL.fullmatch(url):
        raise BadEndpoint(f"{url!r}: this client speaks REST: give it http(s)://HOST:PORT")
    from google.auth.credentials import AnonymousCredentials

    return {"credentials": AnonymousCredentials(), "client_options": {"api_endpoint": url}}


def insecure_channel(url: str) -> Any:
    """A plain-text gRPC channel to an emulator ``host:port`` (a ``grpc://`` prefix is accepted)."""
    if not _GRPC_TARGET.fullmatch(url):
        raise BadEndpoint(f"{url!r}: this client speaks gRPC: give it HOST:PORT")
    import grpc

    return grpc.insecure_channel(url.removeprefix("grpc://"))


def check_credentials() -> None:
    """Fail with one line when Application Default Credentials are not set up."""
    import google.auth
    from google.auth import exceptions

    try:
        google.auth.default()
    except exceptions.DefaultCredentialsError:
        raise UserError(NO_CREDENTIALS) from None


# google-cloud-storage >= 3.17 reads each bucket's metadata in the background the first time
# a bucket is named ("App-centric Observability" tracing attributes): one extra GET per
# bucket per process, and threads outliving the call. This environment variable, read at
# each call by the library's tracing module, turns that off; a user's own setting wins.
# tests/kinds/test_storage_bucket.py checks that no such GET is made.
_NO_BUCKET_METADATA_FETCH = "DISABLE_GCS_PYTHON_CLIENT_OTEL_BUCKET_METADATA"


def _storage(url: str | None, project: str | None) -> Any:
    from google.cloud import storage  # type: ignore[attr-defined]

    os.environ.setdefault(_NO_BUCKET_METADATA_FETCH, "true")
    return storage.Client(project=project or "_", **http_options(url))


STORAGE = ClientDecl(endpoint="storage", build=_storage, per_project=True)
"""The Cloud Storage client: the ledger's, and the storage kinds'."""


class ReadMemo:
    """While a plan reads, a read two kinds make of one API object is made once.

    Kinds name the object they read (``("crm.policy", project)``); inside ``sharing()`` the
    first caller reads and the others wait for and share its answer — the same object, so
    what a plan reads is read-only (kinds normalise into new values). Outside it (while
    applying) every read goes to the API: writes need fresh state. Errors are never shared.
    """

    def __init__(self) -> None:
        self._active = 0
        self._values: dict[Hashable, Any] = {}
        self._locks: dict[Hashable, threading.Lock] = {}
        self._guard = threading.Lock()

    @contextmanager
    def sharing(self) -> Iterator[None]:
        with self._guard:
            self._active += 1
        try:
            yield
        finally:
            with self._guard:
                self._active -= 1
                if not self._active:
                    self._values.clear()
                    self._locks.clear()

    def once(self, key: Hashable, read: Callable[[], T]) -> T:
        with self._guard:
            if not self._active:
                lock = None
            else:
                lock = self._locks.setdefault(key, threading.Lock())
        if lock is None:
            return read()
        with lock:
            if key not in self._values:
                self._values[key] = read()
            return self._values[key]


class Clients:
    """One cached client per (declaration, project); thread-safe lazy creation."""

    def __init__(self, *, project: str | None = None, endpoints: Mapping[str, str] | None = None,
                 endpoints_source: str | None = None) -> None:
        """``endpoints`` default to ``MLOPS_INFRA_ENDPOINTS`` (``None``: Google's);
        ``endpoints_source`` says where given ones come from, for the missing-endpoint error."""
        self.project = project
        self._endpoints_source = endpoints_source or (
            ENDPOINTS_ENV if endpoints is None else "the endpoints given")
        self.endpoints = (checked_endpoints(endpoints, source=self._endpoints_source)
                          if endpoints is not None else endpoints_from_env())
        self._cache: dict[tuple[ClientDecl, str | None], Any] = {}
        self._lock = threading.Lock()
        self._environment = environment_once()
        self.reads = ReadMemo()

    def read_once(self, key: Hashable, read: Callable[[], T]) -> T:
        """``read()``, shared with other kinds reading the same object during a plan."""
        return self.reads.once(key, read)

    @property
    def emulated(self) -> bool:
        return self.endpoints is not None

    def get(self, decl: ClientDecl, project: str | None = None) -> Any:
        """The client ``decl`` declares (for ``project`` when it is per project)."""
        scope = (project or self.project) if decl.per_project else None
        key = (decl, scope)
        with self._lock:
            if key not in self._cache:
                self._cache[key] = self._build(decl, scope)
            return self._cache[key]

    def storage(self, project: str | None = None) -> Any:
        """A ``google.cloud.storage.Client`` (the ledger's)."""
        return self.get(STORAGE, project)

    def _build(self, decl: ClientDecl, project: str | None) -> Any:
        url = None
        if self.endpoints is not None:
            if decl.endpoint not in self.endpoints:
                raise no_endpoint(decl.endpoint, self.endpoints, self._endpoints_source)
            url = self.endpoints[decl.endpoint]
        from google.auth import exceptions

        try:
            client = decl.build(url, project)
        except exceptions.DefaultCredentialsError:
            raise UserError(NO_CREDENTIALS) from None
        except BadEndpoint as exc:
            raise BadEndpoint(f"{self._endpoints_source}: endpoint '{decl.endpoint}' {exc}") from None
        for session in http_sessions(client):
            widen_pools(session, MOST_AT_ONCE)
            if self._environment is not None:
                session.trust_env = False
                session.verify = self._environment.verify
        return client


# ``requests`` re-reads the environment on every request of a session that trusts it (the
# default): every ``*_proxy`` variable, three times over, the CA-bundle variables and
# ``~/.netrc``. Against the emulator that was half of a read's client CPU (2.4 -> 1.15 ms for
# a bucket policy GET). What it would find is read once instead when it can be: the CA
# bundle becomes the session's ``verify``, as requests itself does per request
# (``Session.merge_environment_settings``). A proxy or a ``.netrc`` keeps the lookups on.
@dataclass(frozen=True)
class Environment:
    """What ``requests`` would take from the environment, read once."""

    verify: bool | str = True


def environment_once(environ: Mapping[str, str] = os.environ) -> Environment | None:
    """The environment ``requests`` would read on each request, or ``None`` when a
    proxy (``urllib.request.getproxies``: the ``*_proxy`` variables, and the system's settings
    on macOS and Windows), ``NETRC`` or a ``~/.netrc`` makes it depend on the request."""
    import urllib.request

    if urllib.request.getproxies() or environ.get("NETRC"):
        return None
    home = Path(environ.get("HOME") or Path.home())
    if any((home / name).exists() for name in (".netrc", "_netrc")):
        return None
    return Environment(verify=environ.get("REQUESTS_CA_BUNDLE") or environ.get("CURL_CA_BUNDLE")
                       or True)


def widen_pools(session: Any, size: int) -> None:
    """Keep up to ``size`` connections per host for reuse. ``requests`` keeps 10: with more
    calls at once, every extra connection is opened, used once and dropped with a "Connection
    pool is full, discarding connection" warning (24 of them in one 500-resource plan at 50 ms
    a call), and against Google each new one costs a TLS handshake. Only ``requests``' own
    adapter as it comes (a plain ``HTTPAdapter`` with its default pool) is replaced; one set
    up otherwise, such as the mutual-TLS adapter google-auth mounts for client certificates,
    is left as it is (and keeps 10)."""
    from requests.adapters import DEFAULT_POOLBLOCK, DEFAULT_POOLSIZE, HTTPAdapter

    as_it_comes = {"maxsize": DEFAULT_POOLSIZE, "block": DEFAULT_POOLBLOCK}
    for prefix, adapter in list(session.adapters.items()):
        if type(adapter) is HTTPAdapter and adapter.poolmanager.connection_pool_kw == as_it_comes:
            session.mount(prefix, HTTPAdapter(pool_maxsize=size, max_retries=adapter.max_retries))


def http_sessions(client: Any) -> list[Any]:
    """The ``requests`` sessions a google-cloud client sends its REST calls through (none
    for gRPC). Both places are private to the libraries: google-cloud-core clients (storage,
    bigquery) keep theirs as ``_http``, generated clients' REST transports as
    ``transport._session``. A REST transport's operations client (``transport.
    operations_client``, which the kinds poll long-running operations through) has a session
    of its own, kept the same way; tests/kinds/test_client_sessions.py checks every declared
    client."""
    import requests

    def session_of(holder: Any, name: str) -> Any:
        session = getattr(holder, name, None) if holder is not None else None
        return session if isinstance(session, requests.Session) else None

    transport: Any = getattr(client, "transport", None)
    rest = session_of(transport, "_session")
    polls = None
    if rest is not None and hasattr(transport, "operations_client"):
        polls = session_of(transport.operations_client.transport, "_session")  # built, no call
    return [s for s in (session_of(client, "_http"), rest, polls) if s is not None]

