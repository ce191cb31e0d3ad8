"""Helpers for the emulator's own tests: real clients and raw HTTP against an Emulator."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import requests
from google.cloud import bigquery, storage

from mlops_infra.clients import Clients
from mlops_infra.emulator import Emulator
from mlops_infra.kinds._clients import BIGQUERY

PROJECT = "test-project"
T = TypeVar("T")


def gcs(emu: Emulator, project: str = PROJECT) -> storage.Client:
    return Clients(project=project, endpoints=emu.endpoints).storage()


def bq(emu: Emulator, project: str = PROJECT) -> bigquery.Client:
    return Clients(project=project, endpoints=emu.endpoints).get(BIGQUERY)


def raw(emu: Emulator, service: str, method: str, path: str, **kwargs: Any) -> requests.Response:
    """One plain HTTP request to a service (no client library, no retries)."""
    return requests.request(method, emu.endpoints[service] + path, timeout=10, **kwargs)


def eventually(fn: Callable[[], T], *, errors: tuple[type[BaseException], ...] = (),
               within: float = 10.0) -> T:
    """``fn()`` once it stops raising ``errors`` (Google's eventual consistency), polling for
    at most ``within`` seconds - a cap against hanging, not an assertion about timing."""
    from google.api_core import exceptions as gexc

    expected = errors or (gexc.NotFound,)
    end = time.monotonic() + within
    while True:
        try:
            return fn()
        except expected:
            if time.monotonic() >= end:
                raise
            time.sleep(0.02)
