"""Service agents named by project **number**, shared by the kinds whose service uses them.

Some agents' emails carry the project number, not its id: the Vertex AI service agent
``service-NUMBER@gcp-sa-aiplatform.iam.gserviceaccount.com`` (it encrypts Vertex AI resources
with their CMEK key: hashicorp/terraform-provider-google#11819 names it in the 400 Vertex AI
answers when it cannot use the key) and the Compute Engine service agent
``service-NUMBER@compute-system.iam.gserviceaccount.com`` (it encrypts Compute Engine disks,
a Workbench instance's boot and data disks included: the Workbench CMEK guide;
https://cloud.google.com/compute/docs/disks/customer-managed-encryption#before_you_begin), and
the GKE service agent ``service-NUMBER@container-engine-robot.iam.gserviceaccount.com`` (it
encrypts a cluster's secrets at the application layer:
https://cloud.google.com/kubernetes-engine/docs/how-to/encrypting-secrets). The number
comes from Resource Manager ``projects.get`` (``name: projects/NUMBER``), read once per
project and client set. A kind declares the agent as its ``service_agent``; several kinds may
declare the same agent (the same object, so a grant names it once).
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

from mlops_infra.engine.kind import ServiceAgent
from mlops_infra.kinds._base import CALL, translate_errors
from mlops_infra.kinds._clients import RESOURCE_MANAGER

_NUMBERS: weakref.WeakKeyDictionary[Any, dict[str, str]] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def project_number(clients: Any, project: str) -> str:
    """The number of ``project`` (Resource Manager ``projects.get``), read once per ``clients``."""
    if project.isdigit():
        return project
    with _LOCK:
        known = _NUMBERS.setdefault(clients, {})
        if project in known:
            return known[project]
    with translate_errors(f"project {project}"):
        found = clients.get(RESOURCE_MANAGER).get_project(name=f"projects/{project}", **CALL)
    number = str(found.name).split("/")[-1]
    with _LOCK:
        _NUMBERS[clients][project] = number
    return number


def _vertex_email(clients: Any, project: str) -> str:
    return f"service-{project_number(clients, project)}@gcp-sa-aiplatform.iam.gserviceaccount.com"


def _compute_email(clients: Any, project: str) -> str:
    return f"service-{project_number(clients, project)}@compute-system.iam.gserviceaccount.com"


VERTEX_AI_AGENT = ServiceAgent(name="aiplatform", email=_vertex_email, uses=(RESOURCE_MANAGER,))
"""The Vertex AI service agent: it must be granted the CMEK key of a Vertex AI resource."""

COMPUTE_AGENT = ServiceAgent(name="compute", email=_compute_email, uses=(RESOURCE_MANAGER,))
"""The Compute Engine service agent: it must be granted the CMEK key of a disk."""

def _gke_email(clients: Any, project: str) -> str:
    return f"service-{project_number(clients, project)}@container-engine-robot.iam.gserviceaccount.com"


GKE_AGENT = ServiceAgent(name="container", email=_gke_email, uses=(RESOURCE_MANAGER,))
"""GKE's service agent: it must be granted the key of application-layer secrets encryption."""
