"""The IAM policy of a service account (who may act as it): GetIamPolicy/SetIamPolicy.

The shared IAM policy semantics (``resourcemanager/policy.py``: etags, conditions kept
separate, ``options.requested_policy_version`` and ``_withcond_`` reads, version-3 writes,
lower-cased members) over gRPC: a set carrying a stale etag is ABORTED (HTTP 409); bindings
naming a service account that does not exist (or has not propagated yet) are INVALID_ARGUMENT
"Service account ... does not exist.", and a Workload Identity member whose pool does not
exist is INVALID_ARGUMENT "Identity Pool does not exist (P.svc.id.goog)..." (what the real API
answers: terraform-google-modules/terraform-google-kubernetes-engine#916). Both the account
and its policy are invisible while a new account propagates (NOT_FOUND).
Policies are stored in the shared format, keyed by the account's email.
"""

from __future__ import annotations

from typing import Any

from google.iam.v1 import iam_policy_pb2, policy_pb2
from google.protobuf import json_format

from mlops_infra.emulator.core import HttpError
from mlops_infra.emulator.grpc_core import from_http_error
from mlops_infra.emulator.iam import accounts
from mlops_infra.emulator.iam.common import aborted, etag_bytes
from mlops_infra.emulator.resourcemanager import policy as shared


class Policies:
    """Handlers of the service-account IAM policy RPCs."""

    def __init__(self, service: Any) -> None:
        self._svc = service

    def get(self, request: iam_policy_pb2.GetIamPolicyRequest) -> policy_pb2.Policy:
        record = accounts.find(self._svc.state, request.resource, self._svc.visible)
        version = request.options.requested_policy_version
        return self._render(record["email"], version)

    def set(self, request: iam_policy_pb2.SetIamPolicyRequest) -> policy_pb2.Policy:
        record = accounts.find(self._svc.state, request.resource, self._svc.visible)
        current = self._stored(record["email"])
        if request.policy.etag and request.policy.etag != etag_bytes(shared.etag_of(current["serial"])):
            raise aborted(f"There were concurrent changes to the policy of {request.resource}: "
                          "the etag does not match. Please retry the whole read-modify-write "
                          "with exponential backoff.")
        wanted = json_format.MessageToDict(request.policy)
        try:
            self._svc.state["policies"][record["email"]] = shared.replace(
                current, wanted, member_error=self._svc.member_error_anywhere)
        except HttpError as err:
            raise from_http_error(err) from None
        return self._render(record["email"], 3)

    def _stored(self, email: str) -> dict[str, Any]:
        stored = self._svc.state["policies"].get(email)
        return stored if stored and "serial" in stored else shared.empty()

    def _render(self, email: str, version: int) -> policy_pb2.Policy:
        try:
            rendered = shared.render(self._stored(email), requested_version=version)
        except HttpError as err:
            raise from_http_error(err) from None
        rendered.pop("auditConfigs", None)
        return json_format.ParseDict(rendered, policy_pb2.Policy())
