"""Emulated IAM admin API (``google.iam.admin.v1.IAM``), served over insecure gRPC."""

from mlops_infra.emulator.iam.service import IamService

SERVICE = IamService   # what ``emulator.services`` builds for this package

__all__ = ["SERVICE", "IamService"]
