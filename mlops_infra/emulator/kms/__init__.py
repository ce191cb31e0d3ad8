"""Cloud KMS API v1 (key rings, crypto keys, versions, key IAM), as google-cloud-kms calls it over REST."""

from mlops_infra.emulator.kms.service import KmsService

SERVICE = KmsService   # what ``emulator.services`` builds for this package

__all__ = ["SERVICE", "KmsService"]
