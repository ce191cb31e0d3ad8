"""``IamService``: the IAM admin API's RPC table, state and the member-existence check.

State (JSON, persisted like the HTTP services): ``accounts`` by email, ``roles`` by full
name, ``policies`` (service-account IAM policies) by email, and counters. Not state: the
owning emulator's ``Delays.service_account`` (IAM reads are eventually consistent,
google/iam/admin/v1/iam.proto: for that long a new account is invisible to get, list,
getIamPolicy, setIamPolicy, patch, enable/disable - NOT_FOUND - and "does not exist" for
bindings anywhere), ``propagation_delay`` (that delay when the service runs standalone) and
``clock`` (the time source; tests may replace it to jump days). The API is
``iam.googleapis.com``, off in a new project.
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
    api = "iam.googleapis.com"
    api_title = "Identity and Access Management (IAM) API"

    def __init__(self) -> None:
        super().__init__()
        self.propagation_delay = 0.0
        self.clock: Callable[[], float] = time.time
        self._accounts, self._roles, self._policies = Accounts(self), Roles(self), Policies(self)

    def initial_state(self) -> dict[str, Any]:
        return {"accounts": {}, "roles": {}, "policies": {}}

    @property
    def visibility_delay(self) -> float:
        """Seconds a new service account stays invisible (eventual consistency)."""
        if self.emulator is not None:
            return float(self.emulator.delays.service_account)
        return self.propagation_delay

    def visible(self, record: dict[str, Any]) -> bool:
        return self.clock() - record["create_time"] >= self.visibility_delay

    def member_exists(self, member: str) -> bool:
        """Whether an IAM binding may name ``member`` now (see ``members``)."""
        return self.member_error(member) is None

    def member_error(self, member: str) -> str | None:
        """Google's 400 message when bindings may not name ``member`` now, else ``None``."""
        if members.member_exists(self.state["accounts"], member, now=self.clock(),
                                 propagation_delay=self.visibility_delay):
            return None
        return f"Service account {member.partition(':')[2]} does not exist."

    def member_error_anywhere(self, member: str) -> str | None:
        """``member_error`` plus the emulator-wide checks (Workload Identity pools)."""
        if self.emulator is not None:
            return self.emulator.member_error(member)  # type: ignore[no-any-return]
        return self.member_error(member)

    def project_of_rpc(self, rpc: str, request: Any) -> str | None:
        """The project of the resource an RPC names (from the account's email for ``-``)."""
        name = (getattr(request, "name", "") or getattr(request, "parent", "")
                or getattr(request, "resource", ""))
        if not name and hasattr(request, "service_account"):
            name = request.service_account.name
        return members.project_of_name(str(name))

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
