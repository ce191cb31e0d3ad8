"""The ``${...}`` reference syntax: parsing, finding and substituting references.

Forms: ``${vars.NAME[.KEY...]}``, ``${project}``, ``${region}``, ``${stack}``, ``${env}``,
``${each.key}`` and ``${each.value[.KEY...]}`` (inside a resource with ``forEach``, see
``foreach.py``) (resolved when the spec is loaded), ``${ADDRESS.OUTPUT}`` (another resource's
output, resolved by the engine at plan time with ``resolve_refs``) and ``${secrets.NAME}`` (a
secret of the ``secrets:`` section: ``resolve_refs`` leaves it as written; the engine
substitutes it only where a plan or an apply needs the value). ``$${`` is a literal ``${``;
it stays escaped in a loaded ``Spec`` until ``resolve_refs`` runs, so every string in a loaded
spec is a template and ``resolve_refs`` gives final values (secrets still as references).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from mlops_infra.spec.errors import SpecError
from mlops_infra.spec.hints import clip

CONTEXT_NAMES = ("project", "region", "stack", "env")
VARS = "vars"
SECRETS = "secrets"
EACH = "each"
_TOKEN = re.compile(r"\$\$\{|\$\{([^{}]*)\}|\$\{")
_EXPR = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*$")


class TemplateError(ValueError):
    """A template that cannot be rendered; callers turn it into a located ``SpecError``."""


class RefSyntaxError(TemplateError):
    """A malformed ``${...}``."""


class TemplateTooLong(TemplateError):
    """Interpolation would build a string longer than the caller allows."""


@dataclass(frozen=True)
class Ref:
    """One parsed reference, e.g. ``parts == ("features", "name")``."""

    parts: tuple[str, ...]

    @property
    def text(self) -> str:
        return "${" + ".".join(self.parts) + "}"

    @property
    def is_var(self) -> bool:
        return self.parts[0] == VARS

    @property
    def is_context(self) -> bool:
        return len(self.parts) == 1 and self.parts[0] in CONTEXT_NAMES

    @property
    def is_secret(self) -> bool:
        return self.parts[0] == SECRETS

    @property
    def is_each(self) -> bool:
        return self.parts[0] == EACH

    @property
    def is_resource(self) -> bool:
        return not self.is_var and not self.is_context and not self.is_secret \
            and not self.is_each


class Escape:
    """A ``$${`` in the text: a literal ``${``."""


ESCAPE = Escape()
Token = str | Ref | Escape


def tokenize(text: str) -> tuple[Token, ...]:
    """Split a string into literal text, ``Ref`` and ``ESCAPE`` tokens.

    A plan tokenizes the same short templates (``${ring.id}``) thousands of times over, so
    short ones are remembered; long ones (bounded by the spec's limits) are not kept."""
    if len(text) <= _REMEMBERED_LENGTH:
        return _remembered_tokens(text)
    return _tokens(text)


_REMEMBERED_LENGTH = 512


@lru_cache(maxsize=16_384)
def _remembered_tokens(text: str) -> tuple[Token, ...]:
    return _tokens(text)


def _tokens(text: str) -> tuple[Token, ...]:
    tokens: list[Token] = []
    pos = 0
    for match in _TOKEN.finditer(text):
        if match.start() > pos:
            tokens.append(text[pos:match.start()])
        tokens.append(_token(match))
        pos = match.end()
    if pos < len(text):
        tokens.append(text[pos:])
    return tuple(tokens)


def _token(match: re.Match[str]) -> Token:
    whole = match.group(0)
    if whole == "$${":
        return ESCAPE
    if whole == "${":
        raise RefSyntaxError("unterminated reference '${' (write '$${' for a literal '${')")
    expr = match.group(1).strip()
    if not _EXPR.match(expr):
        raise RefSyntaxError(f"malformed reference '{clip(whole)}'")
    ref = Ref(tuple(expr.split(".")))
    _check_shape(ref)
    return ref


def _check_shape(ref: Ref) -> None:
    if ref.is_var and len(ref.parts) < 2:
        raise RefSyntaxError("'${vars}' needs a variable name, e.g. '${vars.prefix}'")
    if ref.is_secret and len(ref.parts) != 2:
        raise RefSyntaxError(f"'{clip(ref.text)}' is not a secret reference: use "
                             "${secrets.NAME}")
    if ref.is_each and not (ref.parts[1:2] == ("value",) or ref.parts[1:] == ("key",)):
        raise RefSyntaxError(f"'{clip(ref.text)}': write ${{each.key}} or ${{each.value}} "
                             "(${each.value.KEY} into a mapping)")
    if ref.is_resource and len(ref.parts) != 2:
        raise RefSyntaxError(f"'{clip(ref.text)}' is not a known reference: use ${{vars.NAME}}, "
                             "${project}, ${region}, ${stack}, ${env}, ${secrets.NAME} or "
                             "${ADDRESS.OUTPUT}")


def has_template(text: str) -> bool:
    return "${" in text


def render(text: str, resolve: Callable[[Ref], Any], *, keep_escapes: bool) -> Any:
    """Substitute every reference via ``resolve``; a lone reference keeps the value's type."""
    if not has_template(text):
        return text
    tokens = tokenize(text)
    lone = lone_ref(tokens)
    if lone is not None:
        return resolve(lone)
    return interpolate(tokens, resolve, keep_escapes=keep_escapes)


def lone_ref(tokens: Sequence[Token]) -> Ref | None:
    """The reference when ``tokens`` are exactly one (the value then keeps its type)."""
    return tokens[0] if len(tokens) == 1 and isinstance(tokens[0], Ref) else None


def interpolate(tokens: Sequence[Token], resolve: Callable[[Ref], Any], *, keep_escapes: bool,
                max_length: int | None = None) -> str:
    """The tokens as one string; ``TemplateTooLong`` as soon as it would pass ``max_length``."""
    out = []
    length = 0
    for token in tokens:
        if isinstance(token, Ref):
            piece = as_text(resolve(token), token)
        elif isinstance(token, Escape):
            piece = "$${" if keep_escapes else "${"
        else:
            piece = token
        length += len(piece)
        if max_length is not None and length > max_length:
            raise TemplateTooLong(f"the value would be longer than {max_length} characters "
                                  "once its references are substituted")
        out.append(piece)
    return "".join(out)


def as_text(value: Any, ref: Ref) -> str:
    """How a value reads inside a longer string (YAML spellings for booleans and null)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        raise RefSyntaxError(f"'{clip(ref.text)}' holds a mapping or list, which cannot be "
                             "interpolated into text (use it as the whole value)")
    return str(value)


def walk_strings(value: Any, fn: Callable[[str, str], Any], path: str = "", *,
                 keys: bool = False) -> Any:
    """Copy of ``value`` with every string ``s`` at dotted ``path`` replaced by ``fn(s, path)``;
    with ``keys``, mapping keys that hold a template too (a kind may turn values into keys,
    e.g. members of bindings)."""
    if isinstance(value, str):
        return fn(value, path)
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            sub = f"{path}.{k}" if path else str(k)
            key = str(fn(k, sub)) if keys and isinstance(k, str) and has_template(k) else k
            out[key] = walk_strings(v, fn, sub, keys=keys)
        return out
    if isinstance(value, list):
        return [walk_strings(v, fn, f"{path}.{i}" if path else str(i), keys=keys)
                for i, v in enumerate(value)]
    return value


def refs_in(value: Any, *, secrets: bool = False, keys: bool = False) -> list[tuple[str, Ref]]:
    """``(dotted path, Ref)`` for every resource reference inside ``value`` (every secret
    reference instead when ``secrets``; in mapping keys too when ``keys``)."""
    return [(path, token) for path, text in _templates(value, "", keys)
            for token in tokenize(text) if isinstance(token, Ref)
            and (token.is_secret if secrets else token.is_resource)]


def later_refs(value: Any) -> list[tuple[str, Ref]]:
    """``(dotted path, Ref)`` for every reference resolved after loading inside ``value``
    (other resources' outputs and secrets), in values and mapping keys: one walk."""
    return [(path, token) for path, text in _templates(value, "", True)
            for token in tokenize(text) if isinstance(token, Ref)
            and (token.is_secret or token.is_resource)]


def _templates(value: Any, path: str, keys: bool = False) -> Iterator[tuple[str, str]]:
    """``(dotted path, string)`` for every string inside ``value`` that holds a ``${`` (with
    ``keys``, mapping keys too, at the path of their value)."""
    if isinstance(value, str):
        if has_template(value):
            yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            sub = f"{path}.{key}" if path else str(key)
            if keys and isinstance(key, str) and has_template(key):
                yield sub, key
            yield from _templates(item, sub, keys)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _templates(item, f"{path}.{index}" if path else str(index), keys)


def located_refs(value: Any, path: str, lines: Any) -> list[tuple[str, Ref]]:
    """``refs_in`` with syntax errors raised as ``lines.error`` at ``path`` (a ``LineMap``)."""
    try:
        return refs_in(value)
    except TemplateError as exc:
        raise lines.error(path, str(exc)) from None


def located_secret_refs(value: Any, path: str, lines: Any) -> list[tuple[str, Ref]]:
    """``(dotted path, Ref)`` of every ``${secrets.NAME}`` inside ``value``; syntax errors are
    ``lines.error`` at ``path``."""
    try:
        return refs_in(value, secrets=True)
    except TemplateError as exc:
        raise lines.error(path, str(exc)) from None


def find_refs(value: Any) -> set[tuple[str, str]]:
    """Every ``(address, output)`` referenced by strings (values and keys) inside ``value``."""
    try:
        return {(ref.parts[0], ref.parts[1]) for _, ref in refs_in(value, keys=True)}
    except TemplateError as exc:
        raise SpecError(str(exc)) from None


def resolve_refs(value: Any, lookup: Callable[[str, str], Any]) -> Any:
    """``value`` with every ``${ADDRESS.OUTPUT}`` replaced by ``lookup(address, output)``
    and every ``$${`` turned into a literal ``${``. A lone reference keeps the output's type.
    ``${secrets.NAME}`` stays as written: secrets are substituted by the engine, only where
    a value is needed (``engine.sensitive``)."""

    def resolve(ref: Ref) -> Any:
        if ref.is_secret:
            return ref.text
        if not ref.is_resource:
            raise RefSyntaxError(f"'{ref.text}' should have been resolved when the spec was loaded")
        return lookup(ref.parts[0], ref.parts[1])

    try:
        return walk_strings(value, lambda text, _: render(text, resolve, keep_escapes=False),
                            keys=True)
    except TemplateError as exc:
        raise SpecError(str(exc)) from None
