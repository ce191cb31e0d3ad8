"""Object versions: creation from an upload, metadata patch/update, rendering, media headers."""

from __future__ import annotations

import base64
import copy
import hashlib
import time
from typing import Any
from urllib.parse import quote

import google_crc32c

from mlops_infra.emulator.core import HttpError
from mlops_infra.emulator.util import merge_patch, rfc3339, varint

WRITABLE = frozenset({
    "cacheControl", "contentDisposition", "contentEncoding", "contentLanguage", "contentType",
    "customTime", "metadata", "temporaryHold", "eventBasedHold", "retention",
})


def checksums(data: bytes) -> dict[str, str]:
    """``md5Hash`` and ``crc32c`` as Cloud Storage reports them (base64, big-endian crc)."""
    crc = google_crc32c.value(data).to_bytes(4, "big")
    return {"md5Hash": base64.b64encode(hashlib.md5(data).digest()).decode(),
            "crc32c": base64.b64encode(crc).decode()}


def new_version(*, bucket: dict[str, Any], name: str, metadata: dict[str, Any], data: bytes,
                content_type: str | None, generation: int) -> dict[str, Any]:
    """The stored form of one freshly written object generation."""
    _check_name(name)
    sums = checksums(data)
    _verify_checksums(metadata, sums)
    now = rfc3339(time.time())
    version = {k: copy.deepcopy(v) for k, v in metadata.items() if k in WRITABLE and v is not None}
    version.update({
        "name": name, "bucket": bucket["name"], "generation": str(generation),
        "contentType": metadata.get("contentType") or content_type or "application/octet-stream",
        "storageClass": bucket["storageClass"], "size": str(len(data)), **sums,
        "timeCreated": now, "timeFinalized": now, "timeStorageClassUpdated": now,
        "media": base64.b64encode(data).decode(),
    })
    return _stamp(version, metageneration=1, now=now)


def patch_version(current: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    patch = {k: v for k, v in body.items() if k in WRITABLE}
    user = merge_patch({k: v for k, v in current.items() if k in WRITABLE}, patch)
    return _replace_user_part(current, user)


def update_version(current: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    user = {k: copy.deepcopy(v) for k, v in body.items() if k in WRITABLE and v is not None}
    return _replace_user_part(current, user)


def media(version: dict[str, Any]) -> bytes:
    return base64.b64decode(version["media"])


def render(version: dict[str, Any], *, base_url: str) -> dict[str, Any]:
    """The JSON a client receives (links point back at this emulator)."""
    path = f"b/{version['bucket']}/o/{quote(version['name'], safe='')}"
    out = {"kind": "storage#object",
           "id": f"{version['bucket']}/{version['name']}/{version['generation']}",
           "selfLink": f"{base_url}/storage/v1/{path}",
           "mediaLink": f"{base_url}/download/storage/v1/{path}"
                        f"?generation={version['generation']}&alt=media"}
    out.update({k: copy.deepcopy(v) for k, v in version.items() if k != "media"})
    return out


def media_headers(version: dict[str, Any]) -> dict[str, str]:
    """The response headers of a media download, as Cloud Storage sends them."""
    headers = {
        "Content-Type": version["contentType"],
        "ETag": f'"{version["etag"]}"',
        "x-goog-generation": version["generation"],
        "x-goog-metageneration": version["metageneration"],
        "x-goog-hash": f"crc32c={version['crc32c']},md5={version['md5Hash']}",
        "x-goog-stored-content-length": version["size"],
        "x-goog-stored-content-encoding": version.get("contentEncoding") or "identity",
        "x-goog-storage-class": version["storageClass"],
        "Last-Modified": version["updated"],
    }
    for key, header in (("cacheControl", "Cache-Control"), ("contentLanguage", "Content-Language"),
                        ("contentDisposition", "Content-Disposition")):
        if version.get(key):
            headers[header] = version[key]
    return headers


def _replace_user_part(current: dict[str, Any], user: dict[str, Any]) -> dict[str, Any]:
    version = {k: v for k, v in current.items() if k not in WRITABLE}
    version.update(user)
    version.setdefault("contentType", current["contentType"])
    if not version.get("metadata"):
        version.pop("metadata", None)
    return _stamp(version, metageneration=int(current["metageneration"]) + 1,
                  now=rfc3339(time.time()))


def _stamp(version: dict[str, Any], *, metageneration: int, now: str) -> dict[str, Any]:
    version["metageneration"] = str(metageneration)
    version["updated"] = now
    etag = b"\x08" + varint(int(version["generation"])) + b"\x10" + varint(metageneration)
    version["etag"] = base64.b64encode(etag).decode()
    return version


def _check_name(name: str) -> None:
    if not name or len(name.encode()) > 1024 or name in (".", "..") or "\n" in name or "\r" in name:
        raise HttpError(400, f"Invalid object name: '{name}'", reason="invalid")


def _verify_checksums(metadata: dict[str, Any], sums: dict[str, str]) -> None:
    for key, label in (("crc32c", "CRC32C"), ("md5Hash", "MD5")):
        given = metadata.get(key)
        if given is not None and given != sums[key]:
            raise HttpError(400, f"Provided {label} \"{given}\" doesn't match calculated "
                                 f"{label} \"{sums[key]}\".", reason="invalid")
