"""Wire-level emulator of the Compute Engine API v1: VPC networks, subnetworks, firewall rules
and the operations their mutations return (see ``service.py``)."""

from mlops_infra.emulator.compute.service import ComputeService

SERVICE = ComputeService   # what ``emulator.services`` builds for this package

__all__ = ["SERVICE", "ComputeService"]
