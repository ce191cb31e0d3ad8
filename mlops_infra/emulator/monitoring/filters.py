"""How Cloud Monitoring rewrites a time-series filter it stores (alert policy conditions).

The API keeps a filter in its own canonical form, not as written, which is what makes
alert policies "change on every plan" in Terraform:

| rewrite | example | source |
|---|---|---|
| spaces around comparison operators, one space between terms | ``metric.type="x"`` -> ``metric.type = "x"`` | hashicorp/terraform-provider-google#20507 (the state holds ``resource.type = \\"cloud_run_revision\\" AND ...``) |
| terms of a conjunction ordered resource type, resource labels, metric type, metric labels, then the rest | ``metric.type = "m" AND resource.type = "r"`` -> ``resource.type = "r" AND metric.type = "m"`` | #20507 (the user's ``metric.type`` first, the server's ``resource.type`` first) |
| juxtaposition is AND, written ``AND`` | ``a = "1" b = "2"`` -> ``a = "1" AND b = "2"`` | Monitoring filter syntax ("A sequence of selectors ... is an implicit AND", https://cloud.google.com/monitoring/api/v3/filters) |
| ``label.`` is ``labels.``, quoted label keys unquoted | ``metric.label."check_id"`` -> ``metric.labels.check_id`` | the filter syntax page writes ``metric.labels.KEY`` (``label`` is its legacy synonym); alphagov/govuk-infrastructure PR #4000 |
| leading, trailing and repeated whitespace (line breaks of a heredoc) dropped | ``"...\\n"`` -> ``"..."`` | hashicorp/terraform-provider-google#11004 (heredoc filter with a trailing newline), #7425 (line breaks) |

A filter that is not a conjunction of simple restrictions (it has ``OR``, ``NOT`` or
parentheses at the top level) keeps its term order; only its spacing and label spelling are
rewritten. String literals are kept byte for byte.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TOKEN = re.compile(r'''
    (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<op>!=~|=~|!=|<=|>=|=|<|>|:)
  | (?P<paren>[()])
  | (?P<comma>,)
  | (?P<word>[A-Za-z0-9_./\-*+]+)
  | (?P<space>\s+)
''', re.VERBOSE)
_KEYWORDS = ("AND", "OR", "NOT")
_ORDER = ("resource.type", "resource.labels.", "metric.type", "metric.labels.")


class FilterSyntaxError(ValueError):
    """Text that is not a Monitoring filter."""


@dataclass(frozen=True)
class _Tok:
    kind: str
    text: str


def canonical(text: str) -> str:
    """``text`` as Cloud Monitoring stores it (see the module table)."""
    tokens = _join_label_keys(_tokens(text))
    terms = _split_conjunction(tokens)
    if terms is None:
        return _render(tokens)
    rendered = [_render(term) for term in terms]
    return " AND ".join(sorted(rendered, key=_rank))


def restricts(text: str, selector: str) -> bool:
    """Whether the filter restricts ``selector`` (e.g. ``metric.type``) anywhere."""
    tokens = _join_label_keys(_tokens(text))
    return any(t.kind == "word" and t.text == selector and i + 1 < len(tokens)
               and tokens[i + 1].kind == "op" for i, t in enumerate(tokens))


def _tokens(text: str) -> list[_Tok]:
    out: list[_Tok] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise FilterSyntaxError(f"unexpected character {text[pos]!r} at {pos}")
        kind = match.lastgroup or ""
        if kind != "space":
            out.append(_Tok(kind, match.group()))
        pos = match.end()
    return out


def _join_label_keys(tokens: list[_Tok]) -> list[_Tok]:
    """``metric.label."k"`` (word, string) becomes the one word ``metric.labels.k``."""
    out: list[_Tok] = []
    for tok in tokens:
        if tok.kind == "string" and out and out[-1].kind == "word" and out[-1].text.endswith("."):
            key = tok.text[1:-1]
            if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
                out[-1] = _Tok("word", _plural(out[-1].text + key))
                continue
        if tok.kind == "word":
            tok = _Tok("word", _plural(tok.text))
        out.append(tok)
    return out


def _plural(word: str) -> str:
    return re.sub(r"^(metric|resource|metadata\.(?:user|system))\.label\.", r"\1.labels.", word)


def _split_conjunction(tokens: list[_Tok]) -> list[list[_Tok]] | None:
    """The terms of a top-level conjunction of ``selector OP value`` restrictions, or
    ``None`` when the filter is anything else."""
    terms: list[list[_Tok]] = []
    i = 0
    while i < len(tokens):
        if tokens[i].kind == "word" and tokens[i].text == "AND":
            i += 1
            continue
        end = _restriction_end(tokens, i)
        if end is None:
            return None
        terms.append(tokens[i:end])
        i = end
    return terms or None


def _restriction_end(tokens: list[_Tok], start: int) -> int | None:
    """Where ``selector OP value`` starting at ``start`` ends (value: a literal, a word or a
    function call), or ``None``."""
    if start + 2 >= len(tokens):
        return None
    selector, op, value = tokens[start], tokens[start + 1], tokens[start + 2]
    if selector.kind != "word" or selector.text in _KEYWORDS or op.kind != "op" \
            or value.kind not in ("string", "word") or value.text in _KEYWORDS:
        return None
    i = start + 3
    if value.kind == "word" and i < len(tokens) and tokens[i].text == "(":
        depth = 0
        while i < len(tokens):
            if tokens[i].kind == "paren":
                depth += 1 if tokens[i].text == "(" else -1
            i += 1
            if depth == 0:
                break
        if depth != 0:
            raise FilterSyntaxError("unbalanced parentheses")
    return i


def _render(tokens: list[_Tok]) -> str:
    out = ""
    for i, tok in enumerate(tokens):
        prev = tokens[i - 1] if i else None
        if prev is None:
            out = tok.text
        elif tok.kind == "op" or prev.kind == "op":
            out += " " + tok.text
        elif tok.kind == "comma":
            out += ","
        elif prev.kind == "comma":
            out += " " + tok.text
        elif tok.text == ")" or prev.text == "(":
            out += tok.text
        elif tok.text == "(" and prev.kind == "word" and prev.text not in _KEYWORDS:
            out += tok.text                                 # a function call: f(
        elif _is_value_end(prev) and _starts_term(tok):
            out += " AND " + tok.text                       # juxtaposition is AND
        else:
            out += " " + tok.text
    return out


def _is_value_end(tok: _Tok) -> bool:
    return tok.kind == "string" or tok.text == ")" or (
        tok.kind == "word" and tok.text not in _KEYWORDS)


def _starts_term(tok: _Tok) -> bool:
    return (tok.kind == "word" and tok.text not in ("AND", "OR")) or tok.text == "("


def _rank(term: str) -> int:
    """Position of a restriction in Google's order (``_ORDER``); the rest come last."""
    for position, prefix in enumerate(_ORDER):
        if term.startswith(prefix if prefix.endswith(".") else prefix + " "):
            return position
    return len(_ORDER)
