"""Parsing a ``multipart/related`` upload body: a JSON metadata part, then the media part."""

from __future__ import annotations

import json
from typing import Any

from mlops_infra.emulator.core import HttpError


def parse_related(body: bytes, content_type: str) -> tuple[dict[str, Any], bytes, str]:
    """Return (metadata, media bytes, media content type)."""
    boundary = _boundary(content_type)
    delimiter = b"--" + boundary
    pieces = body.split(delimiter)
    # pieces: preamble, part1, part2, "--" epilogue
    parts = [p for p in pieces[1:] if not p.startswith(b"--")]
    if len(parts) != 2:
        raise HttpError(400, "Multipart upload must have exactly two parts (metadata, media)")
    _, meta_bytes = _split_part(parts[0])
    media_headers, media = _split_part(parts[1])
    try:
        metadata = json.loads(meta_bytes) if meta_bytes.strip() else {}
    except ValueError:
        raise HttpError(400, "Multipart metadata part is not valid JSON", reason="parseError") from None
    return metadata, media, media_headers.get("content-type", "application/octet-stream")


def _boundary(content_type: str) -> bytes:
    for item in content_type.split(";")[1:]:
        key, _, value = item.strip().partition("=")
        if key.lower() == "boundary":
            return value.strip('"').encode()
    raise HttpError(400, "multipart/related upload without a boundary")


def _split_part(part: bytes) -> tuple[dict[str, str], bytes]:
    part = part[2:] if part.startswith(b"\r\n") else part
    head, sep, content = part.partition(b"\r\n\r\n")
    if not sep:
        raise HttpError(400, "Malformed multipart part")
    headers = {}
    for line in head.decode("latin-1").split("\r\n"):
        name, _, value = line.partition(":")
        if name:
            headers[name.strip().lower()] = value.strip()
    return headers, content[:-2] if content.endswith(b"\r\n") else content
