"""A spec file's bytes -> text: UTF-8 only, size-limited, with a one-line error for anything else.

Accepted: UTF-8, with or without a byte order mark (editors on Windows write one).
Refused with ``FILE:LINE`` where there is a line: files over ``MAX_FILE_BYTES``, UTF-16 and
UTF-32 (with or without a byte order mark), binary files (NUL bytes) and invalid UTF-8.
"""

from __future__ import annotations

import codecs
from pathlib import Path

from mlops_infra.spec.errors import SourceLocation, SpecError
from mlops_infra.spec.limits import MAX_FILE_BYTES, size_text

_WIDE_BOMS = ((codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32"),
              (codecs.BOM_UTF16_LE, "UTF-16"), (codecs.BOM_UTF16_BE, "UTF-16"))
_SAVE_AS_UTF8 = "save the file as UTF-8"


def read_spec_file(path: str | Path) -> str:
    """The text of the spec file at ``path``; never reads more than ``MAX_FILE_BYTES + 1``."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise SpecError(f"cannot read spec: {exc.strerror or exc}",
                        location=SourceLocation(str(path))) from None
    if len(data) > MAX_FILE_BYTES:
        raise too_large(str(path), _size_of(path, len(data)))
    return decode_spec(data, filename=str(path))


def too_large(filename: str, n_bytes: int | None) -> SpecError:
    """The error for a spec over ``MAX_FILE_BYTES`` (``n_bytes`` when its size is known)."""
    size = f"{n_bytes:,} bytes; " if n_bytes else ""
    return SpecError(f"the file is too large for a spec ({size}the limit is "
                     f"{size_text(MAX_FILE_BYTES)})", location=SourceLocation(filename))


def _size_of(path: str | Path, at_least: int) -> int | None:
    try:
        size = Path(path).stat().st_size
    except OSError:
        return None
    return size if size >= at_least else None     # a pipe or device: size unknown


def decode_spec(data: bytes, *, filename: str) -> str:
    """``data`` decoded as UTF-8 (a leading byte order mark is dropped)."""
    for bom, encoding in _WIDE_BOMS:
        if data.startswith(bom):
            raise SpecError(f"the file is {encoding} encoded (it starts with a {encoding} byte "
                            f"order mark): {_SAVE_AS_UTF8}", location=SourceLocation(filename))
    data = data.removeprefix(codecs.BOM_UTF8)
    nul = data.find(b"\x00")
    if nul >= 0:
        raise _nul_error(data, nul, filename)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _utf8_error(data, exc.start, filename) from None


def _nul_error(data: bytes, offset: int, filename: str) -> SpecError:
    wide = _wide_encoding(data)
    if wide:
        return SpecError(f"the file looks {wide} encoded (NUL bytes between characters): "
                         f"{_SAVE_AS_UTF8}", location=SourceLocation(filename))
    line, column = line_and_column(data, offset)
    return SpecError(f"a NUL byte at column {column}: this looks like a binary file, "
                     "not a YAML spec", location=SourceLocation(filename, line))


def _wide_encoding(data: bytes) -> str | None:
    """``"UTF-16-LE"``/``"UTF-16-BE"`` when the NULs fall on every other byte, as in mostly
    ASCII text stored as UTF-16 without a byte order mark."""
    sample = data[:4096]
    half = len(sample) // 2
    if half < 2:
        return None
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    if odd >= 0.6 * half and even <= 0.05 * half:
        return "UTF-16-LE"
    if even >= 0.6 * half and odd <= 0.05 * half:
        return "UTF-16-BE"
    return None


def _utf8_error(data: bytes, offset: int, filename: str) -> SpecError:
    line, column = line_and_column(data, offset)
    return SpecError(f"not valid UTF-8: byte 0x{data[offset]:02x} at column {column} "
                     f"({_SAVE_AS_UTF8})", location=SourceLocation(filename, line))


def line_and_column(data: bytes | str, offset: int) -> tuple[int, int]:
    """1-based line and column (in characters) of ``offset`` (bytes or characters) in ``data``."""
    if isinstance(data, bytes):
        start = data.rfind(b"\n", 0, offset) + 1
        column = len(data[start:offset].decode("utf-8", "replace"))
        return data.count(b"\n", 0, offset) + 1, column + 1
    start = data.rfind("\n", 0, offset) + 1
    return data.count("\n", 0, offset) + 1, offset - start + 1
