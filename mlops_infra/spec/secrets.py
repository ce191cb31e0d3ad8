"""The ``secrets:`` section: where each secret's value comes from, never the value itself.

::

    secrets:
      slack_token: {env: SLACK_TOKEN}
      pagerduty_key: {secretManager: projects/${project}/secrets/pagerduty-key/versions/latest}

A secret is used as ``${secrets.NAME}`` inside a resource's fields. The loader checks the
section's shape and that every reference names a declared secret; the reference itself stays
a template in the loaded spec (like ``${ADDRESS.OUTPUT}``), and the engine resolves it only
when a plan or an apply needs the value (``engine.sensitive``). Secrets may not appear where
the loader needs a value (``name``, ``project``, ``region``, ``ledger``, ``policy``,
``assume``, ``outputs``): identities and outputs are shown and stored in clear.

Rules, with their sources:

| what | rule | source |
|---|---|---|
| secret name | ``[A-Za-z_][A-Za-z0-9_-]*`` (the reference grammar of ``spec.refs``) | this project |
| ``env`` | a POSIX environment variable name ``[A-Za-z_][A-Za-z0-9_]*`` | POSIX.1-2017 8.1 |
| ``secretManager`` | ``projects/P/secrets/S/versions/V``; S is 1-255 of letters, digits, ``-``, ``_``; V is a version number or ``latest`` | Secret Manager ``secrets.create`` (``secretId``) and ``versions.access`` (``latest`` alias) in the secretmanager v1 discovery document |

In an environment overlay an entry **replaces** the base's entry of that name (a source is one
thing: ``{env: X}`` over ``{secretManager: ...}`` must not merge into two), and ``null``
removes it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from mlops_infra.spec.envelope import type_name
from mlops_infra.spec.hints import clip, clipped_repr, did_you_mean
from mlops_infra.spec.refs import located_secret_refs
from mlops_infra.spec.source import LineMap, join_path

SECTION = "secrets"
NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
ENV_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
SECRET_VERSION_RE = re.compile(
    r"^projects/[a-z0-9-]{1,63}/secrets/[A-Za-z0-9_-]{1,255}/versions/(?:latest|[1-9][0-9]*)$")
SOURCES = ("env", "secretManager")
SourceKind = Literal["env", "secretManager"]


@dataclass(frozen=True)
class SecretSource:
    """Where secret ``name`` comes from: an environment variable or a Secret Manager version."""

    name: str
    kind: SourceKind
    ref: str                # the variable name, or projects/P/secrets/S/versions/V
    where: str = field(default="", compare=False)     # file:line of the source in the spec

    def describe(self) -> str:
        """``env SLACK_TOKEN`` / ``secretManager projects/...`` (for messages; no value)."""
        return f"{self.kind} {self.ref}"

    def title(self) -> str:
        """``spec.yaml:12: secret 'tok' (env TOK)``: how messages name it (never its value)."""
        named = f"secret '{self.name}' ({self.describe()})"
        return f"{self.where}: {named}" if self.where else named


def parse_secrets(section: Any, lines: LineMap) -> dict[str, SecretSource]:
    """The checked ``secrets:`` section (variables already resolved)."""
    if section is None:
        return {}
    if not isinstance(section, dict):
        raise lines.error(SECTION, f"must be a mapping of secret name to source (got "
                                   f"{type_name(section)})")
    return {str(name): _source(name, entry, lines) for name, entry in section.items()}


def _source(name: Any, entry: Any, lines: LineMap) -> SecretSource:
    path = join_path(SECTION, name)
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise lines.error(path, f"invalid secret name {clipped_repr(name)}: use letters, digits, "
                                "'_' and '-', starting with a letter or '_'")
    if not isinstance(entry, dict) or len(entry) != 1 or next(iter(entry)) not in SOURCES:
        raise lines.error(path, "a secret names where its value comes from, never the value: "
                                "write {env: VARIABLE} or {secretManager: "
                                "projects/P/secrets/S/versions/V}" + _key_hint(entry))
    kind, ref = next(iter(entry.items()))
    if not isinstance(ref, str):
        raise lines.error(f"{path}.{kind}", f"must be a string (got {type_name(ref)})")
    pattern, expected = ((ENV_RE, "an environment variable name ([A-Za-z_][A-Za-z0-9_]*)")
                         if kind == "env" else
                         (SECRET_VERSION_RE, "projects/PROJECT/secrets/SECRET/versions/"
                                             "(NUMBER|latest)"))
    if not pattern.match(ref):
        raise lines.error(f"{path}.{kind}", f"expected {expected} (got {clipped_repr(ref)})")
    return SecretSource(name=name, kind=kind, ref=ref,
                        where=str(lines.location(f"{path}.{kind}")))


def _key_hint(entry: Any) -> str:
    if isinstance(entry, dict) and len(entry) == 1:
        key = str(next(iter(entry)))
        return f" (unknown source '{clip(key)}'{did_you_mean(key, SOURCES)})"
    if isinstance(entry, dict) and len(entry) > 1:
        return " (one source only)"
    return ""


def check_secret_refs(value: Any, path: str, secrets: dict[str, SecretSource],
                      lines: LineMap) -> None:
    """Every ``${secrets.NAME}`` inside ``value`` (at ``path``) names a declared secret."""
    for sub, ref in located_secret_refs(value, path, lines):
        name = ref.parts[1]
        if name not in secrets:
            hint = did_you_mean(name, secrets, quote="'${{secrets.{}}}'")
            known = clip(", ".join(sorted(secrets)), 200) or "none are declared"
            raise lines.error(join_path(path, sub),
                              f"unknown secret '{clip(ref.text)}'{hint} (secrets: {known})")


def refuse_secret_refs(value: Any, path: str, lines: LineMap) -> None:
    """Secrets are resolved only inside resource fields: refuse them where a value is needed."""
    found = located_secret_refs(value, path, lines)
    if found:
        sub, ref = found[0]
        raise lines.error(join_path(path, sub),
                          f"'{clip(ref.text)}' is a secret, which is not allowed here (secrets go "
                          "only in resource fields: names, projects and outputs are shown and "
                          "stored in clear)")
