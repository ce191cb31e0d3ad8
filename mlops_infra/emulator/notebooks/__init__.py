"""Notebooks API v2 (Vertex AI Workbench instances), as google-cloud-notebooks' ``notebooks_v2``
client calls it over REST."""

from mlops_infra.emulator.notebooks.service import NotebooksService

SERVICE = NotebooksService   # what ``emulator.services`` builds for this package

__all__ = ["SERVICE", "NotebooksService"]
