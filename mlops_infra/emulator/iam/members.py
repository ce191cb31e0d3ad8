"""Which IAM members "exist": the check every emulated setIamPolicy applies to bindings.

Only user-managed service accounts (``NAME@PROJECT.iam.gserviceaccount.com``) are looked
up; they exist once created and older than the propagation delay (IAM is eventually
consistent: a binding right after creating the account can fail). Users, groups, domains,
Google-managed service agents (``@gcp-sa-*.iam.gserviceaccount.com`` and the older agent
domains such as ``gs-project-accounts`` or ``bigquery-encryption``) and other
``*.gserviceaccount.com`` accounts (``developer``, ``appspot``, ``cloudservices``) are taken
as existing.
"""

from __future__ import annotations

from typing import Any

SA_DOMAIN = ".iam.gserviceaccount.com"
SERVICE_AGENT_PREFIX = "gcp-sa-"
# Google-managed "projects" of service agents that predate the gcp-sa-* naming.
SERVICE_AGENT_DOMAINS = frozenset({
    "gs-project-accounts", "bigquery-encryption", "compute-system", "container-engine-robot",
    "cloud-ml", "dataflow-service-producer-prod", "cloud-filer", "cloudcomposer-accounts",
    "dataproc-accounts", "cloud-redis", "serverless-robot-prod", "cloudbuild", "gcf-admin-robot",
    "genomics-api", "containerregistry", "firebase-rules", "cloud-tpu", "sourcerepo-service-accounts",
})


def managed_account_email(member: str) -> str | None:
    """The email when ``member`` is a user-managed service account, else ``None``."""
    kind, _, email = member.partition(":")
    if kind != "serviceAccount":
        return None
    _, _, domain = email.partition("@")
    if not domain.endswith(SA_DOMAIN):
        return None
    project = domain[: -len(SA_DOMAIN)]
    if project.startswith(SERVICE_AGENT_PREFIX) or project in SERVICE_AGENT_DOMAINS:
        return None
    return email


def member_exists(accounts: dict[str, dict[str, Any]], member: str, *, now: float,
                  propagation_delay: float) -> bool:
    """Whether bindings may name ``member`` at time ``now``."""
    email = managed_account_email(member)
    if email is None:
        return True
    account = accounts.get(email)
    return account is not None and now - account["create_time"] >= propagation_delay


def project_of_name(name: str) -> str | None:
    """``projects/P/...`` -> P; ``projects/-/serviceAccounts/x@P.iam...`` -> P; else ``None``."""
    parts = name.split("/")
    if len(parts) < 2 or parts[0] != "projects":
        return None
    if parts[1] != "-":
        return parts[1]
    email = parts[3] if len(parts) > 3 else ""
    domain = email.partition("@")[2]
    return domain[: -len(SA_DOMAIN)] if domain.endswith(SA_DOMAIN) else None
