"""The IAM policy of a service account (who may act as it): GetIamPolicy/SetIamPolicy.

Etags change on every set; a set carrying a stale etag is ABORTED (HTTP 409). Bindings
naming a service account that does not exist (or is not propagated yet) are
INVALID_ARGUMENT "Service account ... does not exist.", as the real API answers.
Policies are stored as their JSON form (``json_format``), keyed by the account's email.
"""

from __future__ import annotations

import re
from typing import Any

from google.iam.v1 import iam_policy_pb2, policy_pb2
from google.protobuf import json_format

from mlops_infra.emulator.iam import accounts
from mlops_infra.emulator.iam.common import check_etag, invalid, new_etag

EMPTY_POLICY_ETAG = "ACAB"   # what IAM answers for a policy that was never set
_ROLE = re.compile(r"^(roles/[a-zA-Z0-9_.]+|(projects|organizations)/[^/]+/roles/[a-zA-Z0-9_.]+)$")
_MEMBER = re.compile(r"^(allUsers|allAuthenticatedUsers|(user|group|serviceAccount|domain|"
                     r"principal|principalSet|deleted:user|deleted:group|"
                     r"deleted:serviceAccount):.+)$")


class Policies:
    """Handlers of the service-account IAM policy RPCs."""

    def __init__(self, service: Any) -> None:
        self._svc = service

    def get(self, request: iam_policy_pb2.GetIamPolicyRequest) -> policy_pb2.Policy:
        record = accounts.find(self._svc.state, request.resource)
        return self._policy_of(record["email"])

    def set(self, request: iam_policy_pb2.SetIamPolicyRequest) -> policy_pb2.Policy:
        record = accounts.find(self._svc.state, request.resource)
        current = self._svc.state["policies"].get(record["email"], {"etag": EMPTY_POLICY_ETAG})
        check_etag(request.policy.etag, current["etag"], f"the policy of {request.resource}")
        stored = self._validated(request.policy)
        stored["etag"] = new_etag(self._svc.state)
        self._svc.state["policies"][record["email"]] = stored
        return self._policy_of(record["email"])

    def _policy_of(self, email: str) -> policy_pb2.Policy:
        stored = self._svc.state["policies"].get(email, {"version": 1, "etag": EMPTY_POLICY_ETAG})
        return json_format.ParseDict(stored, policy_pb2.Policy())

    def _validated(self, policy: policy_pb2.Policy) -> dict[str, Any]:
        """The policy's JSON form, empty bindings dropped, after checking roles and members."""
        kept = policy_pb2.Policy(version=policy.version or 1)
        for binding in policy.bindings:
            self._check_binding(binding, policy.version)
            if binding.members:
                kept.bindings.append(binding)
        return json_format.MessageToDict(kept)

    def _check_binding(self, binding: policy_pb2.Binding, version: int) -> None:
        if not _ROLE.match(binding.role):
            raise invalid(f"Role {binding.role} is not a valid role name.")
        if binding.HasField("condition") and version < 3:
            raise invalid("Conditional role bindings require policy version 3.")
        for member in binding.members:
            if not _MEMBER.match(member):
                raise invalid(f"Invalid member {member!r} in binding of {binding.role}.")
            if not self._svc.member_exists(member):
                raise invalid(f"Service account {member.partition(':')[2]} does not exist.")
