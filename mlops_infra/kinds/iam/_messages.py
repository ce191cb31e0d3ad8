"""Proto-plus messages of ``iam_admin_v1`` as the REST-shaped dicts kinds compare, and the
IAM-specific error mapping (a stale etag is ABORTED over gRPC; the engine re-reads on 412)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from mlops_infra.engine import errors
from mlops_infra.kinds._base import translate_errors

IAM_API = "iam.googleapis.com"


def as_rest(message: Any) -> dict[str, Any]:
    """camelCase JSON names, enums as names, bytes as base64 (what the REST API shows)."""
    return dict(type(message).to_dict(message, use_integers_for_enums=False,
                                      preserving_proto_field_name=False))


@contextmanager
def iam_errors(what: str, *, just_created: str | None = None) -> Iterator[None]:
    """``translate_errors``, with ABORTED (a concurrent change) raised as ``PreconditionFailed``."""
    from google.api_core.exceptions import Aborted

    with translate_errors(what, just_created=just_created):
        try:
            yield
        except Aborted as exc:
            raise errors.PreconditionFailed(f"409 Aborted: {what}: {exc.message}",
                                            status=409) from exc
