"""The opt-in live acceptance suite: the end-to-end scenarios against a real Google Cloud
project. It runs only when ``MLOPS_INFRA_LIVE_PROJECT`` names a project and Application
Default Credentials are present; everywhere else (CI here included) it is skipped.

    MLOPS_INFRA_LIVE_PROJECT=my-sandbox gcloud auth application-default login
    MLOPS_INFRA_LIVE_PROJECT=my-sandbox python -m pytest tests/live -v -s

Optional: ``MLOPS_INFRA_LIVE_REGION`` (default ``us-central1``), ``MLOPS_INFRA_LIVE_LOCATION``
(data location, default ``US``). Everything is created under a unique stack name; key rings
and keys cannot be deleted in KMS, so each run leaves one ring with one key (named by the
stack) behind, which the report lists.
"""

from __future__ import annotations

import os
import uuid

import pytest

PROJECT_ENV = "MLOPS_INFRA_LIVE_PROJECT"


def credentials_problem() -> str | None:
    """Why the live suite cannot run here (``None``: it can)."""
    if not os.environ.get(PROJECT_ENV):
        return f"set {PROJECT_ENV} to a project (and ADC) to run the live acceptance suite"
    if os.environ.get("MLOPS_INFRA_ENDPOINTS"):
        return "MLOPS_INFRA_ENDPOINTS is set: the live suite talks to Google, not an emulator"
    import google.auth
    from google.auth.exceptions import DefaultCredentialsError

    try:
        google.auth.default()
    except DefaultCredentialsError:
        return "no Application Default Credentials: run `gcloud auth application-default login`"
    return None


@pytest.fixture(scope="session")
def live_project() -> str:
    problem = credentials_problem()
    if problem:
        pytest.skip(problem)
    return os.environ[PROJECT_ENV]


@pytest.fixture(scope="session")
def stack_id() -> str:
    """A unique, valid stack/name prefix for this run (lowercase letters and digits)."""
    return "live" + uuid.uuid4().hex[:8]
