"""FEEL, and the XPath tools export, translated once, at deploy, into sandboxed Python.

One small grammar serves both, as both are read the same way up to their operators:

* FEEL (Camunda 8, Trisotech, DMN tools): literals, names (also with spaces, such as
  ``Current Vacation Status``), paths ``a.b``, list indexes ``a[1]``, list ``[…]`` and context
  ``{key: value}`` literals, comparisons, ``and`` / ``or`` / ``not(…)``, arithmetic,
  ``if … then … else``, ``some`` / ``every … in … satisfies``, and the common built-in
  functions of ``engine.feel_runtime.FEEL_BUILTINS``. Values follow FEEL: a missing
  variable is null, operations that do not apply give null (``engine.feel_runtime``).
* XPath as tools export it: ``bpmn:getDataObject('name')``, ``not(…)``, ``true()``,
  comparisons with ``=``, ``and`` / ``or``, arithmetic; EL's helpers give its values.

Anything outside the subset (FEEL ranges, filters, ``for`` loops, function definitions,
XPath paths) is refused with ``ExpressionRefused`` naming its position, so a diagram never
fails half-way through a case.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from ..expressions import ExpressionRefused
from ..feel_runtime import FEEL_BUILTINS

FEEL = "feel"
XPATH = "xpath"

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<number>\d+(?:\.\d+)?)
      | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
      | (?P<op><=|>=|!=|==|=|<|>|\(|\)|\+|-|\*|/|,|\[|\]|\{|\}|:(?![A-Za-z_])|\.)
      | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?::[A-Za-z_][A-Za-z0-9_]*)?(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
    )""",
    re.VERBOSE,
)
# Comparison and arithmetic helpers, by dialect: FEEL's are null-tolerant, XPath reads as EL.
_COMPARE = {
    FEEL: {"=": "feel_eq", "==": "feel_eq", "!=": "feel_ne", "<": "feel_lt", ">": "feel_gt",
           "<=": "feel_le", ">=": "feel_ge"},
    XPATH: {"=": "el_eq", "!=": "el_ne", "<": "el_lt", ">": "el_gt", "<=": "el_le", ">=": "el_ge"},
}  # fmt: skip
_ARITHMETIC = {
    FEEL: {"+": "feel_add", "-": "feel_sub", "*": "feel_mul", "/": "feel_div"},
    XPATH: {"+": "el_add", "-": "el_sub", "*": "el_mul", "/": "el_div"},
}
_NEGATE = {FEEL: "feel_neg", XPATH: "el_neg"}
_LITERAL_WORDS = {"true": "True", "false": "False", "null": "None"}
# Words that end a FEEL name with spaces (``Service Level and x``).
_RESERVED = frozenset(
    {"and", "or", "in", "satisfies", "then", "else", "return", "between", "instance", "of",
     "for", "if", "some", "every", "true", "false", "null", "function"}
)  # fmt: skip
_UNSUPPORTED = {"for": "FEEL 'for' loops", "function": "FEEL function definitions", "between": "FEEL ranges"}


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    pos: int


class _Code(NamedTuple):
    text: str
    boolean: bool  # a comparison or a logical operation (already true, false or null)


def _tokens(text: str) -> list[_Token]:
    found: list[_Token] = []
    pos = 0
    body = text.rstrip()
    while pos < len(body):
        match = _TOKEN.match(body, pos)
        if not match or match.end() == pos:
            raise _refuse(text, f"unexpected character {body[pos:].strip()[:1]!r}", pos)
        kind = match.lastgroup or ""
        found.append(_Token(kind, match.group(kind), match.start(kind)))
        pos = match.end()
    found.append(_Token("end", "", len(body)))
    return found


def _refuse(text: str, message: str, pos: int) -> ExpressionRefused:
    return ExpressionRefused(f"{message} (position {pos + 1} in {text!r})", None, pos + 1)


def _string(token: _Token) -> str:
    return repr(bytes(token.text[1:-1], "utf-8").decode("unicode_escape"))


class _Translator:
    def __init__(self, text: str, dialect: str) -> None:
        self.text = text
        self.dialect = dialect
        self.tokens = _tokens(text)
        self.at = 0
        self.bound: list[str] = []  # quantifier variables in scope

    # -- helpers ---------------------------------------------------------------------------

    def peek(self, offset: int = 0) -> _Token:
        return self.tokens[min(self.at + offset, len(self.tokens) - 1)]

    def take(self) -> _Token:
        token = self.peek()
        self.at += 1
        return token

    def expect(self, text: str) -> _Token:
        token = self.take()
        if token.text != text or token.kind == "string":
            found = "the end" if token.kind == "end" else repr(token.text)
            raise self.refuse(f"expected {text!r} but found {found}", token)
        return token

    def refuse(self, message: str, token: _Token) -> ExpressionRefused:
        return _refuse(self.text, message, token.pos)

    def word(self, text: str) -> bool:
        token = self.peek()
        return token.kind == "name" and token.text == text

    def op(self, *texts: str) -> bool:
        token = self.peek()
        return token.kind == "op" and token.text in texts

    @property
    def feel(self) -> bool:
        return self.dialect == FEEL

    def truth(self, code: _Code) -> str:
        """Code for ``code`` as an operand of and / or / not."""
        if code.boolean:
            return code.text
        return code.text if self.feel else f"el_bool({code.text})"

    # -- grammar ---------------------------------------------------------------------------

    def parse(self, boolean: bool) -> str:
        if self.peek().kind == "end":
            raise self.refuse("empty expression", self.peek())
        code = self.expression()
        token = self.peek()
        if token.kind != "end":
            raise self.refuse(f"unexpected {token.text!r}", token)
        if not boolean:
            return code.text
        return f"feel_true({code.text})" if self.feel else self.truth(code)

    def expression(self) -> _Code:
        if self.feel and self.word("if"):
            return self.conditional()
        if self.feel and (self.word("some") or self.word("every")) and self.peek(1).kind == "name":
            return self.quantifier()
        return self.disjunction()

    def conditional(self) -> _Code:
        self.take()
        condition = self.expression()
        self.expect("then")
        then = self.expression()
        self.expect("else")
        otherwise = self.expression()
        return _Code(f"({then.text} if feel_true({condition.text}) else {otherwise.text})", False)

    def quantifier(self) -> _Code:
        kind = self.take()
        bound = self.take()
        if (
            "." in bound.text
            or ":" in bound.text
            or keyword.iskeyword(bound.text)
            or bound.text.startswith(("_", "el_", "feel_"))
        ):
            raise self.refuse(f"{bound.text!r} cannot be used as a variable name here", bound)
        if not self.word("in"):
            raise self.refuse(f"expected 'in' after '{kind.text} {bound.text}'", self.peek())
        self.take()
        collection = self.disjunction()
        if not self.word("satisfies"):
            raise self.refuse("expected 'satisfies'", self.peek())
        self.take()
        self.bound.append(bound.text)
        try:
            condition = self.expression()
        finally:
            self.bound.pop()
        helper = "feel_some" if kind.text == "some" else "feel_every"
        return _Code(f"{helper}({collection.text}, lambda {bound.text}: {condition.text})", True)

    def disjunction(self) -> _Code:
        return self.logical("or", self.conjunction)

    def conjunction(self) -> _Code:
        return self.logical("and", self.comparison)

    def logical(self, word: str, operand: Callable[[], _Code]) -> _Code:
        parts = [operand()]
        while self.word(word):
            self.take()
            parts.append(operand())
        if len(parts) == 1:
            return parts[0]
        if self.feel:
            return _Code(f"feel_{word}({', '.join(p.text for p in parts)})", True)
        return _Code("(" + f" {word} ".join(self.truth(p) for p in parts) + ")", True)

    def comparison(self) -> _Code:
        left = self.sum()
        token = self.peek()
        if token.kind == "op" and token.text in ("=", "==", "!=", "<", ">", "<=", ">="):
            helper = _COMPARE[self.dialect].get(token.text)
            if helper is None:
                raise self.refuse(f"{token.text!r} is not an XPath operator; use '='", token)
            self.take()
            right = self.sum()
            return _Code(f"{helper}({left.text}, {right.text})", True)
        if self.feel and token.kind == "name" and token.text in _UNSUPPORTED:
            raise self.refuse(f"{_UNSUPPORTED[token.text]} are not supported", token)
        return left

    def sum(self) -> _Code:
        code = self.product()
        while self.op("+", "-"):
            op = self.take().text
            code = _Code(f"{_ARITHMETIC[self.dialect][op]}({code.text}, {self.product().text})", False)
        return code

    def product(self) -> _Code:
        code = self.unary()
        while self.op("*", "/"):
            op = self.take().text
            code = _Code(f"{_ARITHMETIC[self.dialect][op]}({code.text}, {self.unary().text})", False)
        return code

    def unary(self) -> _Code:
        if self.op("-"):
            self.take()
            return _Code(f"{_NEGATE[self.dialect]}({self.unary().text})", False)
        return self.postfix(self.primary())

    def postfix(self, code: _Code) -> _Code:
        while self.feel:
            if self.op("."):
                self.take()
                name = self.take()
                if name.kind != "name" or ":" in name.text:
                    raise self.refuse("expected a name after '.'", name)
                code = self.path(code.text, name.text.split("."))
            elif self.op("["):
                opening = self.take()
                index = self.expression()
                self.expect("]")
                if index.boolean:
                    raise self.refuse("FEEL filters such as list[item > 1] are not supported", opening)
                code = _Code(f"feel_index({code.text}, {index.text})", False)
            else:
                break
        return code

    def primary(self) -> _Code:
        token = self.take()
        if token.kind == "number":
            return _Code(token.text, False)
        if token.kind == "string":
            return _Code(_string(token), False)
        if token.kind == "op" and token.text == "(":
            code = self.expression()
            self.expect(")")
            return code
        if token.kind == "op" and token.text == "[" and self.feel:
            return _Code("[" + ", ".join(self.items("]")) + "]", False)
        if token.kind == "op" and token.text == "{" and self.feel:
            return self.context()
        if token.kind == "name":
            return self.name(token)
        found = "the end of the expression" if token.kind == "end" else repr(token.text)
        raise self.refuse(f"unexpected {found}", token)

    def items(self, closing: str) -> list[str]:
        found: list[str] = []
        if not self.op(closing):
            found.append(self.expression().text)
            while self.op(","):
                self.take()
                found.append(self.expression().text)
        self.expect(closing)
        return found

    def context(self) -> _Code:
        entries: list[str] = []
        while not self.op("}"):
            if entries:
                self.expect(",")
            key = self.take()
            if key.kind == "string":
                name = _string(key)
            elif key.kind == "name" and "." not in key.text:
                name = repr(self.joined(key.text))
            else:
                raise self.refuse("expected a context key (a name or a string)", key)
            self.expect(":")
            entries.append(f"{name}: {self.expression().text}")
        self.take()
        return _Code("{" + ", ".join(entries) + "}", False)

    def joined(self, first: str) -> str:
        """A FEEL name that may go on over several words (``Vacation Approval Status``)."""
        words = [first]
        while (
            self.feel
            and "." not in words[-1]
            and self.peek().kind == "name"
            and self.peek().text.split(".")[0] not in _RESERVED
            and ":" not in self.peek().text
        ):
            words.append(self.take().text)
        return " ".join(words)

    def name(self, token: _Token) -> _Code:
        text = token.text
        if self.feel and text in _UNSUPPORTED:
            raise self.refuse(f"{_UNSUPPORTED[text]} are not supported", token)
        if self.feel and text == "if":
            raise self.refuse("expected an expression before 'if'", token)
        if text in _LITERAL_WORDS and (self.feel or text != "null") and not self.op("("):
            return _Code(_LITERAL_WORDS[text], text != "null")
        whole = self.joined(text)
        if self.op("("):
            return self.call(token, whole)
        if ":" in whole:
            raise self.refuse(f"{whole!r} is not supported", token)
        if not self.feel:
            raise self.refuse(
                f"XPath paths such as {whole!r} are not supported; use bpmn:getDataObject('name')", token
            )
        first, *rest = whole.split(".")
        if first in self.bound:
            return self.path(first, rest)
        if first.startswith("_"):
            raise self.refuse(f"names starting with an underscore are not allowed: {first!r}", token)
        return self.path(f"el_get_var({first!r})", rest)

    @staticmethod
    def path(base: str, parts: list[str]) -> _Code:
        for part in parts:
            base = f"feel_prop({base}, {part!r})"
        return _Code(base, False)

    def call(self, token: _Token, name: str) -> _Code:
        self.expect("(")
        if name == "not":
            inner = self.expression()
            self.expect(")")
            return _Code(f"feel_not({inner.text})" if self.feel else f"(not {self.truth(inner)})", True)
        if not self.feel:
            return self.xpath_call(token, name)
        known = FEEL_BUILTINS.get(name)
        if known is None:
            raise self.refuse(f"function {name}() is not supported", token)
        helper, arities = known
        args = self.items(")")
        if len(args) not in arities:
            expected = " or ".join(map(str, sorted(arities))) if len(arities) < 5 else "1 or more"
            raise self.refuse(f"function {name}() takes {expected} argument(s)", token)
        return _Code(f"{helper}({', '.join(args)})", False)

    def xpath_call(self, token: _Token, name: str) -> _Code:
        if name in ("bpmn:getDataObject", "getDataObject"):
            arg = self.take()
            if arg.kind != "string":
                raise self.refuse("bpmn:getDataObject() takes the data object's name as a string", arg)
            self.expect(")")
            return _Code(f"el_var({arg.text[1:-1]!r}, {self.text!r})", False)
        if name in ("true", "false"):
            self.expect(")")
            return _Code(_LITERAL_WORDS[name], True)
        raise self.refuse(f"function {name}() is not supported", token)


def translate_subset(text: str, dialect: str, *, boolean: bool = True) -> str:
    """Translate a FEEL or XPath condition (or, with ``boolean=False``, a value)."""
    return _Translator(text, dialect).parse(boolean)
