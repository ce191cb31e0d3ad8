"""Vertex AI Workbench kinds (google-cloud-notebooks ``notebooks_v2`` over REST):
``workbench.Instance`` (``instance.py``); importing this package registers it."""

from mlops_infra.kinds.workbench import instance  # noqa: F401  (registers the kind)
