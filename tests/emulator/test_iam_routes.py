"""Fidelity of the emulated IAM admin gRPC service: every RPC it serves is an RPC of
``google.iam.admin.v1.IAM`` in the client library (its gapic metadata and its gRPC transport,
with the same request and response messages), and a method of Google's discovery document
``iam.v1.json``."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any, Self

import grpc
import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import iam_admin_v1
from google.cloud.iam_admin_v1.services.iam.transports import IAMGrpcTransport

from mlops_infra.emulator.grpc_core import Rpc
from mlops_infra.emulator.iam import IamService
from tests.emulator.test_routes_match_discovery import DOCUMENTS, _methods

SERVICE = "google.iam.admin.v1.IAM"
# RPC noun -> discovery collection (REST resources of IAM v1).
_COLLECTIONS = {"ServiceAccount": "projects.serviceAccounts", "ServiceAccounts": "projects.serviceAccounts",
                "IamPolicy": "projects.serviceAccounts", "Role": "projects.roles",
                "Roles": "projects.roles"}
# The one RPC whose REST method has another verb (its http rule is PATCH .../roles/*).
_REST_VERB = {"UpdateRole": "patch"}


class _Recorded(Exception):
    """Raised instead of sending: the stub's method and (de)serialisers are recorded."""


class _RecordingChannel(grpc.Channel):
    """A channel that only records the stubs a transport calls (method, (de)serialisers).

    The transport's interceptor channel creates the underlying stub on first call, so
    each stub is called once; the call raises ``_Recorded`` instead of sending anything.
    """

    def __init__(self) -> None:
        self.stubs: dict[str, tuple[Any, Any]] = {}

    def unary_unary(self, method: str, request_serializer: Any = None,
                    response_deserializer: Any = None, _registered_method: bool = False) -> Any:
        self.stubs[method] = (request_serializer, response_deserializer)
        return self

    def with_call(self, *args: Any, **kwargs: Any) -> Any:
        raise _Recorded

    def unary_stream(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    stream_unary = stream_stream = unary_stream

    def subscribe(self, callback: Any, try_to_connect: bool = False) -> None:
        pass

    def unsubscribe(self, callback: Any) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


@cache
def _transport_stubs() -> dict[str, tuple[Any, Any]]:
    channel = _RecordingChannel()
    transport = IAMGrpcTransport(channel=channel, credentials=AnonymousCredentials())
    for info in _gapic_metadata().values():
        with pytest.raises(_Recorded):
            getattr(transport, info["methods"][0])(None)
    return channel.stubs


@cache
def _gapic_metadata() -> dict[str, Any]:
    meta = json.loads((Path(iam_admin_v1.__file__).parent / "gapic_metadata.json").read_text())
    return dict(meta["services"]["IAM"]["clients"]["grpc"]["rpcs"])


def _gapic_rpcs() -> frozenset[str]:
    return frozenset(_gapic_metadata())


@cache
def _discovery_ids() -> frozenset[str]:
    doc = json.loads((DOCUMENTS / "iam.v1.json").read_text())
    return frozenset(method["id"] for method in _methods(doc))


def _served() -> list[Rpc]:
    return IamService().rpcs()


def _discovery_id(rpc: str) -> str:
    verb = next(i for i in range(1, len(rpc)) if rpc[i].isupper())
    head, noun = rpc[:verb], rpc[verb:]
    if noun == "IamPolicy":
        return f"iam.{_COLLECTIONS[noun]}.{head.lower()}IamPolicy"
    return f"iam.{_COLLECTIONS.get(noun, noun)}.{_REST_VERB.get(rpc, head.lower())}"


def test_service_name_is_the_library_one() -> None:
    assert IamService.full_name == SERVICE
    assert all(path.startswith(f"/{SERVICE}/") for path in _transport_stubs())


@pytest.mark.parametrize("rpc", _served(), ids=lambda r: r.name)
def test_rpc_exists_in_the_client_library(rpc: Rpc) -> None:
    assert rpc.name in _gapic_rpcs()
    assert f"/{SERVICE}/{rpc.name}" in _transport_stubs()


@pytest.mark.parametrize("rpc", _served(), ids=lambda r: r.name)
def test_rpc_uses_the_library_messages(rpc: Rpc) -> None:
    serialize_request, deserialize_response = _transport_stubs()[f"/{SERVICE}/{rpc.name}"]
    request = rpc.deserialize(b"")          # an empty request of the type we parse
    serialize_request(request)              # TypeError if the client sends another type
    response = deserialize_response(b"")    # an empty response of the type the client reads
    rpc.serialize(response)                 # TypeError if we answer another type


@pytest.mark.parametrize("rpc", _served(), ids=lambda r: r.name)
def test_rpc_is_a_documented_rest_method(rpc: Rpc) -> None:
    assert _discovery_id(rpc.name) in _discovery_ids()


def test_the_checks_would_catch_a_wrong_rpc() -> None:
    assert "CreateBucket" not in _gapic_rpcs()
    assert _discovery_id("PurgeRole") not in _discovery_ids()
    serialize_request, _ = _transport_stubs()[f"/{SERVICE}/CreateRole"]
    wrong = iam_admin_v1.GetRoleRequest()
    with pytest.raises(TypeError):
        serialize_request(wrong)
