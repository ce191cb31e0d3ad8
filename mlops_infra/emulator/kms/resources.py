"""Cloud KMS resource shapes: validation and the server-set fields of key rings, keys, versions.

Pure functions over JSON dicts; the service (``service.py``) stores and routes them.
"""

from __future__ import annotations

import copy
import re
import time
from typing import Any

from mlops_infra.emulator.core import HttpError
from mlops_infra.emulator.util import rfc3339

_ID = re.compile(r"^[a-zA-Z0-9_-]{1,63}$")
_DURATION = re.compile(r"^(\d+)(?:\.\d+)?s$")
PURPOSES = ("ENCRYPT_DECRYPT", "ASYMMETRIC_SIGN", "ASYMMETRIC_DECRYPT", "RAW_ENCRYPT_DECRYPT",
            "MAC", "KEY_ENCAPSULATION")
PROTECTION_LEVELS = ("SOFTWARE", "HSM", "EXTERNAL", "EXTERNAL_VPC")
DEFAULT_ALGORITHM = {"ENCRYPT_DECRYPT": "GOOGLE_SYMMETRIC_ENCRYPTION",
                     "ASYMMETRIC_SIGN": "RSA_SIGN_PSS_2048_SHA256",
                     "ASYMMETRIC_DECRYPT": "RSA_DECRYPT_OAEP_2048_SHA256",
                     "RAW_ENCRYPT_DECRYPT": "AES_256_GCM", "MAC": "HMAC_SHA256",
                     "KEY_ENCAPSULATION": "ML_KEM_768"}
# cloudkms v1 discovery, CryptoKey.rotationPeriod: "Must be at least 24 hours and at most
# 876,000 hours. If rotation_period is set, next_rotation_time must also be set."
MIN_ROTATION = 86400
MAX_ROTATION = 876_000 * 3600
DESTROY_SCHEDULED = "2592000s"            # "If not specified at creation time, ... 30 days"
# Fields a PATCH may name in its updateMask (googleapis google/cloud/kms/v1/resources.proto:
# destroy_scheduled_duration, purpose, import_only, crypto_key_backend are IMMUTABLE; name,
# create_time, primary are OUTPUT_ONLY).
UPDATABLE = frozenset({"labels", "rotationPeriod", "nextRotationTime", "versionTemplate.algorithm"})
IMMUTABLE = frozenset({"purpose", "versionTemplate.protectionLevel", "importOnly", "name",
                       "createTime", "primary", "destroyScheduledDuration", "cryptoKeyBackend"})


def check_id(value: str | None, what: str) -> str:
    if not value or not _ID.match(value):
        raise HttpError(400, f"Invalid {what} {value!r}: must match [a-zA-Z0-9_-]{{1,63}}")
    return value


def now() -> str:
    return rfc3339(time.time())


def seconds(duration: Any, field: str) -> int:
    """``"7776000s"`` -> 7776000; anything else is a 400."""
    match = _DURATION.match(duration) if isinstance(duration, str) else None
    if not match:
        raise HttpError(400, f"Invalid value for {field}: {duration!r} (expected e.g. '86400s')")
    return int(match.group(1))


def new_key_ring(name: str) -> dict[str, Any]:
    return {"name": name, "createTime": now()}


def enum_names(body: dict[str, Any]) -> dict[str, Any]:
    """``body`` with enums as names: clients send ``$alt=json;enum-encoding=int``."""
    from google.cloud.kms_v1 import types

    out = copy.deepcopy(body)
    _name_at(out, "purpose", types.CryptoKey.CryptoKeyPurpose)
    template = out.get("versionTemplate")
    if isinstance(template, dict):
        _name_at(template, "protectionLevel", types.ProtectionLevel)
        _name_at(template, "algorithm", types.CryptoKeyVersion.CryptoKeyVersionAlgorithm)
    return out


def _name_at(node: dict[str, Any], key: str, enum: Any) -> None:
    value = node.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            node[key] = enum(value).name
        except ValueError:
            raise HttpError(400, f"Invalid value for {key}: {value}") from None


def new_crypto_key(name: str, body: dict[str, Any]) -> dict[str, Any]:
    """A key as created from ``body``: purpose checked, template and rotation completed."""
    body = enum_names(body)
    purpose = body.get("purpose")
    if purpose not in PURPOSES:
        raise HttpError(400, f"CryptoKey.purpose must be one of {', '.join(PURPOSES)}")
    key = {k: copy.deepcopy(v) for k, v in body.items() if k in _WRITABLE}
    key.update(name=name, purpose=purpose, createTime=now(),
               destroyScheduledDuration=body.get("destroyScheduledDuration", DESTROY_SCHEDULED))
    template = dict(body.get("versionTemplate") or {})
    template.setdefault("protectionLevel", "SOFTWARE")
    template.setdefault("algorithm", DEFAULT_ALGORITHM[purpose])
    if template["protectionLevel"] not in PROTECTION_LEVELS:
        raise HttpError(400, f"Invalid protectionLevel {template['protectionLevel']!r}")
    key["versionTemplate"] = template
    check_rotation(key)
    return key


_WRITABLE = frozenset({"purpose", "rotationPeriod", "nextRotationTime", "versionTemplate",
                       "labels", "importOnly", "destroyScheduledDuration"})


def check_rotation(key: dict[str, Any]) -> None:
    """Rotation only for symmetric keys, 24 h to 876,000 h, always with a next rotation time."""
    if "rotationPeriod" not in key:
        return
    if key["purpose"] != "ENCRYPT_DECRYPT":
        raise HttpError(400, "Automatic rotation is only supported for ENCRYPT_DECRYPT keys")
    period = seconds(key["rotationPeriod"], "rotationPeriod")
    if not MIN_ROTATION <= period <= MAX_ROTATION:
        raise HttpError(400, f"rotationPeriod must be between {MIN_ROTATION}s (24 hours) and "
                             f"{MAX_ROTATION}s (876,000 hours)")
    if not key.get("nextRotationTime"):
        raise HttpError(400, "CryptoKey.next_rotation_time must be set when "
                             "CryptoKey.rotation_period is set.")
    key["rotationPeriod"] = f"{period}s"


def new_version(key: dict[str, Any], number: int) -> dict[str, Any]:
    template = key["versionTemplate"]
    stamp = now()
    return {"name": f"{key['name']}/cryptoKeyVersions/{number}", "state": "ENABLED",
            "protectionLevel": template["protectionLevel"], "algorithm": template["algorithm"],
            "createTime": stamp, "generateTime": stamp}


def apply_mask(key: dict[str, Any], body: dict[str, Any], mask: str) -> dict[str, Any]:
    """``key`` with the masked fields of ``body``; immutable or unknown paths are a 400."""
    paths = [p.strip() for p in mask.split(",") if p.strip()]
    if not paths:
        raise HttpError(400, "updateMask is required")
    out = copy.deepcopy(key)
    body = enum_names(body)
    for path in paths:
        if path in IMMUTABLE or path == "versionTemplate":
            raise HttpError(400, f"The field {path!r} cannot be updated")
        if path not in UPDATABLE:
            raise HttpError(400, f"Invalid updateMask path {path!r}")
        _copy_path(out, body, path)
    check_rotation(out)
    return out


def _copy_path(target: dict[str, Any], source: dict[str, Any], path: str) -> None:
    head, _, leaf = path.rpartition(".")
    src: Any = source.get(head, {}) if head else source
    dst = target.setdefault(head, {}) if head else target
    if isinstance(src, dict) and src.get(leaf) not in (None, {}, ""):
        dst[leaf] = copy.deepcopy(src[leaf])
    else:
        dst.pop(leaf, None)
