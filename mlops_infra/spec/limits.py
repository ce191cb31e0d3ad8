"""The resource budget of loading one spec: every input, however hostile, stays within these.

A spec is read by people and CI alike, so a mistaken or malicious file (a YAML alias bomb,
variables that double a string forty times, a binary file, megabytes on one line) must fail
fast with one line, never exhaust memory. Each limit is far above what a real spec needs
(the shipped platform spec has a few hundred nodes and no string over 200 characters).
"""

from __future__ import annotations

MAX_FILE_BYTES = 10 * 1024 * 1024
"""A spec file larger than this is refused before it is parsed."""

MAX_YAML_NODES = 200_000
"""Mappings, lists and scalars written in the document (before aliases are expanded)."""

MAX_ALIAS_NODES = 100_000
"""Nodes produced by expanding ``*alias`` and ``<<`` merge keys, in total."""

MAX_DEPTH = 100
"""Nesting of mappings and lists, in the document and in values built from variables."""

MAX_STRING = 1024 * 1024
"""Characters of one string built by ``${...}`` interpolation."""

MAX_INTERPOLATED = 16 * MAX_STRING
"""Characters built by ``${...}`` interpolation in one load, in total."""

MAX_VAR_NODES = 100_000
"""Nodes inserted where ``${vars.X}`` stands for a mapping or list, in total."""

MAX_VAR_CHAIN = 32
"""Variables defined through variables defined through variables..., at most this deep."""

INT64 = (-(2 ** 63), 2 ** 63 - 1)
"""The integers a spec may hold: Google's APIs take integers as (u)int64 at most (protobuf
``int64``; discovery ``format: int64``), and none a spec writes is a ``uint64``."""

MAX_SHOWN = 80
"""Characters of a user's value (or a field name) quoted in an error message."""


def size_text(n_bytes: int) -> str:
    """``10 MB``-style size for messages."""
    return f"{n_bytes / (1024 * 1024):g} MB"
