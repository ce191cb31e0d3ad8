"""One comparable form of a Cloud Monitoring time-series filter, for both sides of the diff.

Monitoring stores a filter in its own form, not as written: spaces around operators,
``AND`` between juxtaposed terms, ``metric.labels`` for ``metric.label``, unquoted label keys,
no trailing newline, and the terms of a conjunction reordered (resource type, resource
labels, metric type, metric labels). Terraform compares the text and shows a change on
every plan (hashicorp/terraform-provider-google#20507, #11004, #7425). Here the user's filter
and the server's are both brought to ``canonical`` form, so they compare equal exactly when
they mean the same filter:

* tokens (string literals kept byte for byte) joined with single spaces, no space inside
  ``f(...)`` calls, ``, `` between arguments;
* ``metric.label.K`` / ``resource.label.K`` / ``metadata.user_label.K`` spelled ``labels``;
  ``metric.label."K"`` written ``metric.labels.K`` when K is a plain identifier;
* a top-level conjunction (terms joined by ``AND`` or juxtaposed, no ``OR``/``NOT``/parentheses
  at that level) in Google's order - ``resource.type``, ``resource.labels.*``, ``metric.type``,
  ``metric.labels.*``, the rest - and by text within each group.

What is sent on create and update is this form too, so the API gets a filter it reads the same.
"""

from __future__ import annotations

import re

_LEX = re.compile(r'"(?:[^"\\]|\\.)*"|!=~|=~|!=|<=|>=|[=<>:(),]|\$\{[^}]*\}|[^\s"=<>:(),!$]+|\S')
_OPERATORS = frozenset({"=", "!=", "=~", "!=~", "<", ">", "<=", ">=", ":"})
_BOOLEAN = frozenset({"AND", "OR", "NOT"})
_GROUPS = (("resource.type", False), ("resource.labels.", True), ("metric.type", False),
           ("metric.labels.", True))
_LABEL = re.compile(r"^(metric|resource|metadata\.(?:user|system))\.label\.")
_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def canonical(text: str) -> str:
    """The comparable (and sendable) form of a Monitoring filter; ``${...}`` references in it
    are opaque text."""
    tokens = _labels_spelled(_lex(text))
    terms = _conjunction(tokens)
    if terms is None:
        return _joined(tokens)
    return " AND ".join(sorted((_joined(t) for t in terms), key=_order))


def _lex(text: str) -> list[str]:
    """Tokens; a ``${...}`` reference is part of the word or string it stands in."""
    return _LEX.findall(text)


def _labels_spelled(tokens: list[str]) -> list[str]:
    out: list[str] = []
    for token in tokens:
        if token.startswith('"') and out and out[-1].endswith(".") \
                and _PLAIN_KEY.match(token[1:-1]):
            out[-1] = _LABEL.sub(r"\1.labels.", out[-1] + token[1:-1])
            continue
        out.append(_LABEL.sub(r"\1.labels.", token) if not token.startswith('"') else token)
    return out


def _conjunction(tokens: list[str]) -> list[list[str]] | None:
    terms: list[list[str]] = []
    i = 0
    while i < len(tokens):
        if tokens[i] == "AND":
            i += 1
            continue
        end = _term_end(tokens, i)
        if end is None:
            return None
        terms.append(tokens[i:end])
        i = end
    return terms or None


def _term_end(tokens: list[str], start: int) -> int | None:
    if start + 2 >= len(tokens) or tokens[start] in _BOOLEAN or tokens[start] in "()," \
            or tokens[start + 1] not in _OPERATORS:
        return None
    value = tokens[start + 2]
    if value in _BOOLEAN or value in "(),":
        return None
    end = start + 3
    if end < len(tokens) and tokens[end] == "(" and not value.startswith('"'):
        depth = 0
        for i in range(end, len(tokens)):
            depth += {"(": 1, ")": -1}.get(tokens[i], 0)
            if depth == 0:
                return i + 1
        return None
    return end


def _joined(tokens: list[str]) -> str:
    out = ""
    for i, token in enumerate(tokens):
        before = tokens[i - 1] if i else ""
        if not out:
            out = token
        elif token in (")", ",") or before == "(" or (token == "(" and _is_call(before)):
            out += token
        elif before == ",":
            out += " " + token
        elif _ends_value(before) and _begins_term(token) and token not in _OPERATORS:
            out += " AND " + token                      # juxtaposed terms: an implicit AND
        else:
            out += " " + token
    return out


def _is_call(token: str) -> bool:
    return bool(token) and token not in _BOOLEAN and token not in _OPERATORS \
        and not token.startswith('"') and token not in "(),"


def _ends_value(token: str) -> bool:
    return token.startswith('"') or token == ")" or (
        token not in _BOOLEAN and token not in _OPERATORS and token not in "(,")


def _begins_term(token: str) -> bool:
    return token == "(" or token == "NOT" or (token not in _BOOLEAN and not token.startswith('"')
                                              and token not in "),")


def _order(term: str) -> tuple[int, str]:
    for rank, (prefix, is_prefix) in enumerate(_GROUPS):
        if term.startswith(prefix if is_prefix else prefix + " "):
            return rank, term
    return len(_GROUPS), term
