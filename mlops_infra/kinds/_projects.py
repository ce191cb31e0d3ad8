"""Project facts the kinds ask Google for: a project's number (service agents are named by it).

``projects.get`` of Resource Manager v3 answers ``name: projects/NUMBER``
(https://cloud.google.com/resource-manager/reference/rest/v3/projects/get). Read once per
project and client set.
"""

from __future__ import annotations

from typing import Any

from mlops_infra.kinds._base import CALL, translate_errors
from mlops_infra.kinds._clients import RESOURCE_MANAGER


def project_number(clients: Any, project: str) -> str:
    """The number of ``project`` (a number is returned as it is)."""
    if project.isdigit():
        return project

    def read() -> str:
        with translate_errors(f"project {project}"):
            found = clients.get(RESOURCE_MANAGER).get_project(name=f"projects/{project}", **CALL)
        return str(found.name).rsplit("/", 1)[-1]
    return str(clients.read_once(("crm.project", project), read))
