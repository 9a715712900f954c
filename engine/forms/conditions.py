"""Evaluate the simple FEEL conditions form-js writes for `conditional.hide` and `readonly`.

Only what the form editor's users typically write is understood: literals, (dotted) names,
comparisons, `and`/`or`, `not(...)` and parentheses. Anything else is reported as
`None` ("cannot tell") so callers can pick the safe reading instead of guessing. Names
follow FEEL null semantics: an unknown name is null and ordering against null is null.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<number>\d+(?:\.\d+)?)
      | (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<op><=|>=|!=|=|<|>|\(|\))
      | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
    )""",
    re.VERBOSE,
)
_COMPARISONS = frozenset({"=", "!=", "<", "<=", ">", ">="})


class _Unsupported(Exception):
    """The expression uses FEEL this evaluator does not understand."""


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise _Unsupported(text[pos:])
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        pos = match.end()
    return tokens


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]], scope: Mapping[str, Any]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.scope = scope

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise _Unsupported("unexpected end")
        self.pos += 1
        return token

    def expect(self, text: str) -> None:
        if self.take()[1] != text:
            raise _Unsupported(f"expected {text}")

    def parse(self) -> Any:
        value = self.disjunction()
        if self.peek() is not None:
            raise _Unsupported("trailing input")
        return value

    def disjunction(self) -> Any:
        values = [self.conjunction()]
        while self.peek() == ("name", "or"):
            self.take()
            values.append(self.conjunction())
        return values[0] if len(values) == 1 else _or(values)

    def conjunction(self) -> Any:
        values = [self.comparison()]
        while self.peek() == ("name", "and"):
            self.take()
            values.append(self.comparison())
        return values[0] if len(values) == 1 else _and(values)

    def comparison(self) -> Any:
        left = self.operand()
        token = self.peek()
        if token and token[0] == "op" and token[1] in _COMPARISONS:
            self.take()
            return _compare(token[1], left, self.operand())
        return left

    def operand(self) -> Any:
        kind, text = self.take()
        if kind == "number":
            return Decimal(text)
        if kind == "string":
            return re.sub(r"\\(.)", r"\1", text[1:-1])
        if text == "(":
            value = self.disjunction()
            self.expect(")")
            return value
        if kind != "name":
            raise _Unsupported(text)
        if text in ("true", "false"):
            return text == "true"
        if text == "null":
            return None
        if text == "not":
            self.expect("(")
            value = self.disjunction()
            self.expect(")")
            return (not value) if isinstance(value, bool) else None
        if self.peek() == ("op", "("):
            raise _Unsupported(f"function {text}")
        return _lookup(self.scope, text)


def _lookup(scope: Mapping[str, Any], path: str) -> Any:
    value: Any = scope
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return Decimal(str(value))
        except InvalidOperation:
            return None
    return value


def _or(values: list[Any]) -> bool | None:
    if any(v is True for v in values):
        return True
    return False if all(v is False for v in values) else None


def _and(values: list[Any]) -> bool | None:
    if any(v is False for v in values):
        return False
    return True if all(v is True for v in values) else None


def _compare(op: str, left: Any, right: Any) -> bool | None:
    if op in ("=", "!="):
        if left is not None and right is not None and type(left) is not type(right):
            return None
        return (left == right) == (op == "=")
    if left is None or right is None or type(left) is not type(right) or isinstance(left, bool):
        return None
    if op == "<":
        return bool(left < right)
    if op == "<=":
        return bool(left <= right)
    if op == ">":
        return bool(left > right)
    return bool(left >= right)


def evaluate_condition(expression: str | bool, scope: Mapping[str, Any]) -> bool | None:
    """True/False when the condition is understood and decided, None when it is not."""
    if isinstance(expression, bool):
        return expression
    text = expression.strip()
    if not text.startswith("="):
        return None
    try:
        value = _Parser(_tokenize(text[1:]), scope).parse()
    except (_Unsupported, InvalidOperation):
        return None
    return value if isinstance(value, bool) else None
