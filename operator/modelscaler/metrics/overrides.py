"""Custom PromQL overrides from `spec.metrics`, confined to the deployment's own namespace.

An override is a PromQL expression template. It may use the placeholders `$window`
(the signal's window as a PromQL duration, e.g. `60s`) and `$quantile` (for latency
signals). The operator tokenizes it and adds `namespace="<the deployment's namespace>"`
to every vector selector it contains (named or bare), so whatever the expression does
afterwards — `label_replace`, `or vector(1)`, a `namespace=~".*"` matcher of its own
(matchers are ANDed) — it only ever reads series of its own namespace. Anything the
tokenizer cannot place with certainty is refused: comments (`#` would swallow the rest
of a wrapped query), unterminated strings, unbalanced brackets, anything but durations
inside `[...]`, anything but label matchers inside `{...}`, unknown characters and
unknown placeholders.

The result must carry the `namespace` and `modeldeployment` labels (use
`sum by (namespace, modeldeployment)`); a result of exactly one series without a
`modeldeployment` label is attributed to the one deployment that asked, when only one did.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from modelscaler.metrics.promql import format_duration, quote

MAX_TEMPLATE_LENGTH = 4000

AGGREGATIONS = frozenset(
    {
        "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
        "bottomk", "topk", "quantile", "limitk", "limit_ratio",
    }
)  # fmt: skip
LABEL_LIST_KEYWORDS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right"})
OPERATOR_KEYWORDS = frozenset({"and", "or", "unless", "bool", "offset", "atan2"})
NUMBER_WORDS = frozenset({"inf", "nan"})
PLACEHOLDERS = frozenset({"window", "quantile"})

_TOKEN = re.compile(
    r"""
    (?P<ws>[ \t\r\n]+)
  | (?P<comment>\#)
  | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|`[^`]*`)
  | (?P<duration>(?:[0-9]+(?:ms|[smhdwy]))+(?![a-zA-Z0-9_:]))
  | (?P<number>0[xX][0-9a-fA-F]+|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?(?![a-zA-Z_:]))
  | (?P<ident>[a-zA-Z_:][a-zA-Z0-9_:]*)
  | (?P<placeholder>\$[a-z_]+)
  | (?P<op>==|!=|>=|<=|=~|!~|[-+*/%^=<>,@:])
  | (?P<open>[({\[])
  | (?P<close>[)}\]])
    """,
    re.VERBOSE,
)
# The tokenizer reads `:5s` of a subquery `[1m:5s]` as a name (names may hold colons).
_SUBQUERY_STEP = re.compile(r":(?:[0-9]+(?:ms|[smhdwy]))*")


class OverrideError(ValueError):
    """The override template was refused; the message says where and why."""


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str
    text: str
    pos: int


def _tokenize(template: str) -> list[_Token]:
    if len(template) > MAX_TEMPLATE_LENGTH:
        raise OverrideError(f"override longer than {MAX_TEMPLATE_LENGTH} characters")
    tokens: list[_Token] = []
    pos = 0
    while pos < len(template):
        match = _TOKEN.match(template, pos)
        if match is None:
            raise OverrideError(f"unexpected character {template[pos]!r} at offset {pos}")
        kind = match.lastgroup or ""
        if kind == "comment":
            raise OverrideError(f"comments ('#') are not allowed in overrides (offset {pos})")
        tokens.append(_Token(kind, match.group(), pos))
        pos = match.end()
    return tokens


def _significant(tokens: list[_Token], start: int) -> int:
    """Index of the first non-whitespace token at or after `start` (len(tokens) if none)."""
    i = start
    while i < len(tokens) and tokens[i].kind == "ws":
        i += 1
    return i


class _Rewriter:
    """One pass over the tokens, copying them and adding the namespace matcher to selectors."""

    def __init__(self, tokens: list[_Token], matcher: str, values: dict[str, str]) -> None:
        self.tokens = tokens
        self.matcher = matcher
        self.values = values
        self.out: list[str] = []
        self.depth = 0

    def run(self) -> str:
        i = self._expression(0, closer=None)
        if i != len(self.tokens):
            raise OverrideError(f"unbalanced {self.tokens[i].text!r} at offset {self.tokens[i].pos}")
        if not any(t.kind != "ws" for t in self.tokens):
            raise OverrideError("override is empty")
        return "".join(self.out)

    def _expression(self, i: int, closer: str | None) -> int:
        """Copies an expression until `closer` (not consumed) or the end; returns the index."""
        while i < len(self.tokens):
            tok = self.tokens[i]
            if tok.kind == "close":
                if tok.text != closer:
                    raise OverrideError(f"unbalanced {tok.text!r} at offset {tok.pos}")
                return i
            if tok.kind == "open":
                i = self._open(i)
            elif tok.kind == "ident":
                i = self._identifier(i)
            elif tok.kind == "placeholder":
                self.out.append(self._placeholder(tok))
                i += 1
            else:
                self.out.append(tok.text)
                i += 1
        if closer is not None:
            raise OverrideError(f"missing {closer!r} at the end of the override")
        return i

    def _open(self, i: int) -> int:
        tok = self.tokens[i]
        if tok.text == "{":  # a selector without a metric name
            return self._matchers(i)
        if tok.text == "[":
            return self._range(i)
        self.out.append("(")
        i = self._expression(i + 1, closer=")")
        self.out.append(")")
        return i + 1

    def _identifier(self, i: int) -> int:
        tok = self.tokens[i]
        word = tok.text
        nxt = _significant(self.tokens, i + 1)
        next_text = self.tokens[nxt].text if nxt < len(self.tokens) else ""
        lowered = word.lower()
        if word in LABEL_LIST_KEYWORDS:
            self.out.append(word)
            if next_text == "(":
                self.out.extend(t.text for t in self.tokens[i + 1 : nxt])
                return self._label_list(nxt)
            return i + 1
        if word in OPERATOR_KEYWORDS or lowered in NUMBER_WORDS:
            self.out.append(word)
            return i + 1
        if next_text == "(" or (word in AGGREGATIONS and next_text in ("by", "without")):
            self.out.append(word)  # a function call or an aggregation
            return i + 1
        # A metric name: a vector selector.
        self.out.append(word)
        if next_text == "{":
            self.out.extend(t.text for t in self.tokens[i + 1 : nxt])
            return self._matchers(nxt)
        self.out.append("{" + self.matcher + "}")
        return i + 1

    def _matchers(self, i: int) -> int:
        """Copies `{...}` (label matchers only) with the namespace matcher first."""
        j = i + 1
        body: list[str] = []
        while j < len(self.tokens):
            tok = self.tokens[j]
            if tok.kind == "close" and tok.text == "}":
                break
            if tok.kind not in ("ws", "ident", "string", "op") or (
                tok.kind == "op" and tok.text not in ("=", "!=", "=~", "!~", ",")
            ):
                raise OverrideError(f"unexpected {tok.text!r} inside label matchers at offset {tok.pos}")
            body.append(tok.text)
            j += 1
        else:
            raise OverrideError("missing '}' at the end of the override")
        rest = "".join(body).strip()
        self.out.append("{" + self.matcher + ("," + rest if rest else "") + "}")
        return j + 1

    def _range(self, i: int) -> int:
        """Copies `[...]`: durations, numbers, placeholders, ':' and arithmetic only."""
        j = i + 1
        self.out.append("[")
        while j < len(self.tokens):
            tok = self.tokens[j]
            if tok.kind == "close" and tok.text == "]":
                self.out.append("]")
                return j + 1
            if tok.kind == "placeholder":
                self.out.append(self._placeholder(tok))
            elif (
                tok.kind in ("ws", "duration", "number")
                or (tok.kind == "op" and tok.text in ":+-*/%")
                or (tok.kind == "ident" and _SUBQUERY_STEP.fullmatch(tok.text))
            ):
                self.out.append(tok.text)
            else:
                raise OverrideError(f"unexpected {tok.text!r} inside a range at offset {tok.pos}")
            j += 1
        raise OverrideError("missing ']' at the end of the override")

    def _label_list(self, i: int) -> int:
        """Copies the `( label, ... )` after by/without/on/ignoring/group_left/group_right."""
        j = i + 1
        self.out.append("(")
        while j < len(self.tokens):
            tok = self.tokens[j]
            if tok.kind == "close" and tok.text == ")":
                self.out.append(")")
                return j + 1
            if tok.kind in ("ws", "ident", "string") or (tok.kind == "op" and tok.text == ","):
                self.out.append(tok.text)
            else:
                raise OverrideError(f"unexpected {tok.text!r} inside a label list at offset {tok.pos}")
            j += 1
        raise OverrideError("missing ')' at the end of the override")

    def _placeholder(self, tok: _Token) -> str:
        name = tok.text[1:]
        if name not in PLACEHOLDERS:
            raise OverrideError(f"unknown placeholder {tok.text!r} at offset {tok.pos}")
        if name not in self.values:
            raise OverrideError(f"placeholder {tok.text!r} has no value for this signal")
        return self.values[name]


def render_override(
    template: str,
    namespace: str,
    *,
    namespace_label: str = "namespace",
    window: float | None = None,
    quantile: float | None = None,
) -> str:
    """The override confined to `namespace`: every selector gets `namespace="<namespace>"`.

    Raises OverrideError for anything that cannot be confined with certainty.
    """
    values: dict[str, str] = {}
    if window is not None:
        values["window"] = format_duration(window)
    if quantile is not None:
        values["quantile"] = f"{quantile:g}"
    matcher = f"{namespace_label}={quote(namespace)}"
    return "(" + _Rewriter(_tokenize(template), matcher, values).run() + ")"
