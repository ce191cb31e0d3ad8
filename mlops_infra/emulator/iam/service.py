"""``IamService``: the IAM admin API's RPC table, state and the member-existence check.

State (JSON, persisted like the HTTP services): ``accounts`` by email, ``roles`` by full
name, ``policies`` (service-account IAM policies) by email, and counters. Two knobs are
not state: ``propagation_delay`` (seconds during which a new service account "does not
exist" for bindings) and ``clock`` (the time source; tests may replace it to jump days).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from google.cloud.iam_admin_v1.types import iam
from google.iam.v1 import iam_policy_pb2, policy_pb2
from google.protobuf import empty_pb2

from mlops_infra.emulator.grpc_core import GrpcService, Rpc
from mlops_infra.emulator.iam import members
from mlops_infra.emulator.iam.accounts import Accounts
from mlops_infra.emulator.iam.policy import Policies
from mlops_infra.emulator.iam.roles import Roles


class IamService(GrpcService):
    """``google.iam.admin.v1.IAM``: service accounts, custom roles, service-account policies."""

    name = "iam"
    full_name = "google.iam.admin.v1.IAM"

    def __init__(self) -> None:
        super().__init__()
        self.propagation_delay = 0.0
        self.clock: Callable[[], float] = time.time
        self._accounts, self._roles, self._policies = Accounts(self), Roles(self), Policies(self)

    def initial_state(self) -> dict[str, Any]:
        return {"accounts": {}, "roles": {}, "policies": {}}

    def member_exists(self, member: str) -> bool:
        """Whether an IAM binding may name ``member`` now (see ``members``)."""
        return members.member_exists(self.state["accounts"], member, now=self.clock(),
                                     propagation_delay=self.propagation_delay)

    def rpcs(self) -> list[Rpc]:
        a, r, p = self._accounts, self._roles, self._policies
        return [
            _proto("CreateServiceAccount", iam.CreateServiceAccountRequest, iam.ServiceAccount, a.create),
            _proto("GetServiceAccount", iam.GetServiceAccountRequest, iam.ServiceAccount, a.get),
            _proto("ListServiceAccounts", iam.ListServiceAccountsRequest,
                   iam.ListServiceAccountsResponse, a.list),
            _proto("PatchServiceAccount", iam.PatchServiceAccountRequest, iam.ServiceAccount, a.patch),
            _empty("DeleteServiceAccount", iam.DeleteServiceAccountRequest, a.delete),
            _empty("EnableServiceAccount", iam.EnableServiceAccountRequest, a.enable),
            _empty("DisableServiceAccount", iam.DisableServiceAccountRequest, a.disable),
            _proto("CreateRole", iam.CreateRoleRequest, iam.Role, r.create),
            _proto("GetRole", iam.GetRoleRequest, iam.Role, r.get),
            _proto("ListRoles", iam.ListRolesRequest, iam.ListRolesResponse, r.list),
            _proto("UpdateRole", iam.UpdateRoleRequest, iam.Role, r.update),
            _proto("DeleteRole", iam.DeleteRoleRequest, iam.Role, r.delete),
            _proto("UndeleteRole", iam.UndeleteRoleRequest, iam.Role, r.undelete),
            Rpc("GetIamPolicy", iam_policy_pb2.GetIamPolicyRequest.FromString,
                policy_pb2.Policy.SerializeToString, p.get),
            Rpc("SetIamPolicy", iam_policy_pb2.SetIamPolicyRequest.FromString,
                policy_pb2.Policy.SerializeToString, p.set),
        ]


def _proto(name: str, request: Any, response: Any, handler: Callable[[Any], Any]) -> Rpc:
    """An RPC whose request and response are proto-plus messages."""
    return Rpc(name, request.deserialize, response.serialize, handler)


def _empty(name: str, request: Any, handler: Callable[[Any], Any]) -> Rpc:
    return Rpc(name, request.deserialize, empty_pb2.Empty.SerializeToString, handler)
