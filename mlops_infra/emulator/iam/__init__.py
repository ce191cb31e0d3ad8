"""Emulated IAM admin API (``google.iam.admin.v1.IAM``), served over insecure gRPC."""

from mlops_infra.emulator.iam.service import IamService

__all__ = ["IamService"]
