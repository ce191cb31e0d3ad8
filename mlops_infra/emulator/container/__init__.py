"""Wire-level emulator of the Kubernetes Engine API v1 (container.googleapis.com): clusters,
node pools and the operations their mutations return (see ``service.py``)."""

from mlops_infra.emulator.container.service import ContainerService

SERVICE = ContainerService   # what ``emulator.services`` builds for this package

__all__ = ["SERVICE", "ContainerService"]
