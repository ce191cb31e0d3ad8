"""Helpers for the emulator's own tests: real clients and raw HTTP against an Emulator."""

from __future__ import annotations

from typing import Any

import requests
from google.cloud import bigquery, storage

from mlops_infra.clients import Clients
from mlops_infra.emulator import Emulator
from mlops_infra.kinds._clients import BIGQUERY

PROJECT = "test-project"


def gcs(emu: Emulator, project: str = PROJECT) -> storage.Client:
    return Clients(project=project, endpoints=emu.endpoints).storage()


def bq(emu: Emulator, project: str = PROJECT) -> bigquery.Client:
    return Clients(project=project, endpoints=emu.endpoints).get(BIGQUERY)


def raw(emu: Emulator, service: str, method: str, path: str, **kwargs: Any) -> requests.Response:
    """One plain HTTP request to a service (no client library, no retries)."""
    return requests.request(method, emu.endpoints[service] + path, timeout=10, **kwargs)
