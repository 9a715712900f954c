"""Camunda 7 expression language (JUEL / Java EL 2.2) translated once into sandboxed Python.

Camunda Modeler diagrams write conditions and values as ``${amount > 1000}`` or
``Order ${id} for ${customer.name}``; SpiffWorkflow evaluates every expression as Python.
``translate`` parses the EL text at deploy time (tokenizer, recursive-descent parser, small
AST) and generates a Python expression that the sandbox evaluates over task data.  Anything
outside the supported subset is refused at deploy time with ``ExpressionRefused`` and its
1-based position in the text, so a bad diagram never reaches a running instance.

The generated code only calls the helpers of ``EL_FUNCTIONS``
(``engine.el_runtime``, which also says how variables are found and where the run-time
semantics differ from JUEL on purpose).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.errors import ScriptRefused

from .el_runtime import EL_HELPERS
from .el_runtime import ExpressionFailed as ExpressionFailed  # re-exported for callers
from .feel_runtime import FEEL_HELPERS

# Every function translated expressions (EL, FEEL, XPath) call: the engine's script globals.
EL_FUNCTIONS = {**EL_HELPERS, **FEEL_HELPERS}


class ExpressionRefused(ScriptRefused):
    """An EL expression uses something outside the supported subset (deploy time)."""


# ---------------------------------------------------------------------------------------
# Tokens
# ---------------------------------------------------------------------------------------

KEYWORDS = frozenset(
    {"and", "or", "not", "eq", "ne", "lt", "gt", "le", "ge", "true", "false", "null", "empty",
     "div", "mod", "instanceof"}
)  # fmt: skip

# The lexer takes the longest match, so "<=" wins over "<".
OPERATORS = ("==", "!=", "<=", ">=", "&&", "||", "<", ">", "!", "+", "-", "*", "/", "%",
             "?", ":", ".", "[", "]", "(", ")", ",")  # fmt: skip

# Operators of EL 3.0 / SpEL that Camunda 7 either lacks or that would have side effects.
REFUSED_OPERATORS: Mapping[str, str] = {
    "+=": "string concatenation '+=' (EL 3.0) is not supported",
    "->": "lambda expressions are not supported",
    "=": "assignment '=' is not supported",
    ";": "several statements separated by ';' are not supported",
    "{": "set or map literals '{...}' are not supported",
    "&": "single '&' is not an EL operator (use '&&' or 'and')",
    "|": "single '|' is not an EL operator (use '||' or 'or')",
}


@dataclass(frozen=True)
class Token:
    kind: str  # "int", "float", "str", "ident", "kw", "op", "end"
    value: Any
    pos: int  # offset in the whole text


class Refusals:
    """Builds refusals that point into the original text."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __call__(self, message: str, pos: int) -> ExpressionRefused:
        column = pos + 1
        return ExpressionRefused(f"{message} (position {column} in {self.text!r})", None, column)


def _is_ident_start(char: str) -> bool:
    return char.isalpha() or char in "_$"


def _is_ident_part(char: str) -> bool:
    return char.isalnum() or char in "_$"


class Lexer:
    """Tokenizes one expression body, from just after ``${`` up to its closing ``}``."""

    def __init__(self, text: str, start: int, refuse: Refusals) -> None:
        self.text = text
        self.pos = start
        self.refuse = refuse

    def run(self) -> tuple[list[Token], int]:
        """Return the tokens (ending with an "end" token) and the offset after the ``}``."""
        tokens: list[Token] = []
        while True:
            self._skip_space()
            if self.pos >= len(self.text):
                raise self.refuse("unclosed expression: missing '}'", self.pos)
            if self.text[self.pos] == "}":
                tokens.append(Token("end", None, self.pos))
                return tokens, self.pos + 1
            tokens.append(self._next())

    def _skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def _next(self) -> Token:
        char = self.text[self.pos]
        following = self.text[self.pos + 1 : self.pos + 2]
        if char.isdigit() or (char == "." and following.isdigit()):
            return self._number()
        if char in "'\"":
            return self._string(char)
        if _is_ident_start(char):
            return self._word()
        # The longest match decides, so "+=" is refused while "==" and "&&" are operators.
        matches = [op for op in (*OPERATORS, *REFUSED_OPERATORS) if self.text.startswith(op, self.pos)]
        if not matches:
            raise self.refuse(f"unexpected character {char!r}", self.pos)
        op = max(matches, key=len)
        if op in REFUSED_OPERATORS:
            raise self.refuse(REFUSED_OPERATORS[op], self.pos)
        return self._take(Token("op", op, self.pos), len(op))

    def _take(self, token: Token, length: int) -> Token:
        self.pos += length
        return token

    def _digits(self, at: int) -> int:
        while at < len(self.text) and self.text[at].isdigit():
            at += 1
        return at

    def _number(self) -> Token:
        start = self.pos
        end = self._digits(start)
        is_float = False
        if self.text[end : end + 1] == ".":
            is_float = True
            end = self._digits(end + 1)
        if self.text[end : end + 1] in ("e", "E"):
            exponent = end + 1
            if self.text[exponent : exponent + 1] in ("+", "-"):
                exponent += 1
            if self.text[exponent : exponent + 1].isdigit():
                is_float = True
                end = self._digits(exponent)
        literal = self.text[start:end]
        if not is_float:
            return self._take(Token("int", int(literal), start), end - start)
        value = float(literal)
        if not math.isfinite(value):
            raise self.refuse(f"number {literal} is too large", start)
        return self._take(Token("float", value, start), end - start)

    def _string(self, quote: str) -> Token:
        start = self.pos
        at = start + 1
        chars: list[str] = []
        while at < len(self.text):
            char = self.text[at]
            if char == quote:
                return self._take(Token("str", "".join(chars), start), at + 1 - start)
            if char == "\\":
                escaped = self.text[at + 1 : at + 2]
                if escaped not in ("\\", quote):
                    # JUEL accepts only \\ and an escaped quote of the literal's own kind.
                    raise self.refuse(f"invalid escape sequence '\\{escaped}' in string literal", at)
                chars.append(escaped)
                at += 2
                continue
            chars.append(char)
            at += 1
        raise self.refuse("unclosed string literal", start)

    def _word(self) -> Token:
        start = self.pos
        end = start + 1
        while end < len(self.text) and _is_ident_part(self.text[end]):
            end += 1
        word = self.text[start:end]
        if word == "instanceof":
            raise self.refuse("'instanceof' is not supported", start)
        return self._take(Token("kw" if word in KEYWORDS else "ident", word, start), end - start)


# ---------------------------------------------------------------------------------------
# AST
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Literal:
    value: Any
    pos: int


@dataclass(frozen=True)
class Var:
    name: str
    pos: int


@dataclass(frozen=True)
class Unary:
    op: str  # "-", "not", "empty"
    operand: Node
    pos: int


@dataclass(frozen=True)
class Binary:
    op: str  # normalised to the symbolic form: "+", "==", "&&", ...
    left: Node
    right: Node
    pos: int


@dataclass(frozen=True)
class Ternary:
    condition: Node
    then: Node
    otherwise: Node
    pos: int


@dataclass(frozen=True)
class Prop:
    base: Node
    key: Node
    pos: int


@dataclass(frozen=True)
class Method:
    base: Node
    name: str
    args: tuple[Node, ...]
    pos: int


@dataclass(frozen=True)
class Func:
    name: str
    args: tuple[Node, ...]
    pos: int


Node = Literal | Var | Unary | Binary | Ternary | Prop | Method | Func

# Word operators mapped to their symbolic twins, so code generation sees one spelling.
WORD_OPERATORS = {
    "and": "&&", "or": "||", "not": "!", "eq": "==", "ne": "!=", "lt": "<", "gt": ">",
    "le": "<=", "ge": ">=", "div": "/", "mod": "%",
}  # fmt: skip

# Binary precedence levels of EL, loosest first.
LEVELS: tuple[frozenset[str], ...] = (
    frozenset({"||"}),
    frozenset({"&&"}),
    frozenset({"==", "!="}),
    frozenset({"<", ">", "<=", ">="}),
    frozenset({"+", "-"}),
    frozenset({"*", "/", "%"}),
)


# Real expressions are shallow; the limit keeps both this parser's recursion and the nesting
# of the generated Python (Python refuses more than 200 nested parentheses) bounded.
MAX_NESTING = 50


class Parser:
    """Recursive descent over the EL 2.2 grammar (precedence climbing for binary operators)."""

    def __init__(self, tokens: list[Token], refuse: Refusals) -> None:
        self.tokens = tokens
        self.index = 0
        self.depth = 0
        self.refuse = refuse

    def _enter(self, pos: int) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise self.refuse(f"expression is nested more than {MAX_NESTING} levels deep", pos)

    def parse(self) -> Node:
        if self._peek().kind == "end":
            raise self.refuse("empty expression", self._peek().pos)
        node = self._ternary()
        token = self._peek()
        if token.kind != "end":
            raise self.refuse(f"unexpected {self._describe(token)}", token.pos)
        return node

    # -- token helpers ------------------------------------------------------------------

    def _peek(self) -> Token:
        return self.tokens[self.index]

    def _advance(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def _operator(self) -> str | None:
        """The current token as a symbolic operator, if it is one."""
        token = self._peek()
        if token.kind == "op":
            return str(token.value)
        if token.kind == "kw":
            return WORD_OPERATORS.get(token.value)
        return None

    def _expect(self, op: str) -> Token:
        token = self._peek()
        if token.kind != "op" or token.value != op:
            raise self.refuse(f"expected '{op}' but found {self._describe(token)}", token.pos)
        return self._advance()

    @staticmethod
    def _describe(token: Token) -> str:
        if token.kind == "end":
            return "the end of the expression"
        if token.kind == "str":
            return f"string {token.value!r}"
        return f"'{token.value}'"

    # -- grammar ------------------------------------------------------------------------

    def _ternary(self) -> Node:
        self._enter(self._peek().pos)
        try:
            return self._conditional()
        finally:
            self.depth -= 1

    def _conditional(self) -> Node:
        condition = self._binary(0)
        if self._operator() != "?":
            return condition
        pos = self._advance().pos
        then = self._ternary()
        self._expect(":")
        otherwise = self._ternary()
        return Ternary(condition, then, otherwise, pos)

    def _binary(self, level: int) -> Node:
        if level == len(LEVELS):
            return self._unary()
        left = self._binary(level + 1)
        while (op := self._operator()) in LEVELS[level]:
            pos = self._advance().pos
            right = self._binary(level + 1)
            left = Binary(str(op), left, right, pos)
        return left

    def _unary(self) -> Node:
        token = self._peek()
        op = self._operator()
        if op == "-" or op == "!" or (token.kind == "kw" and token.value == "empty"):
            self._advance()
            self._enter(token.pos)
            try:
                operand = self._unary()
            finally:
                self.depth -= 1
            kind = "-" if op == "-" else ("not" if op == "!" else "empty")
            return Unary(kind, operand, token.pos)
        return self._postfix(self._primary())

    def _postfix(self, node: Node) -> Node:
        while True:
            op = self._operator()
            if op == ".":
                self._advance()
                name = self._advance()
                if name.kind not in ("ident", "kw"):
                    raise self.refuse(
                        f"expected a property name after '.' but found {self._describe(name)}", name.pos
                    )
                if self._operator() == "(":
                    node = Method(node, str(name.value), self._arguments(), name.pos)
                else:
                    node = Prop(node, Literal(name.value, name.pos), name.pos)
            elif op == "[":
                pos = self._advance().pos
                key = self._ternary()
                self._expect("]")
                node = Prop(node, key, pos)
            elif op == "(":
                raise self.refuse("only functions and methods can be called", self._peek().pos)
            else:
                return node

    def _arguments(self) -> tuple[Node, ...]:
        self._expect("(")
        args: list[Node] = []
        if self._operator() != ")":
            args.append(self._ternary())
            while self._operator() == ",":
                self._advance()
                args.append(self._ternary())
        self._expect(")")
        return tuple(args)

    def _primary(self) -> Node:
        token = self._advance()
        if token.kind in ("int", "float", "str"):
            return Literal(token.value, token.pos)
        if token.kind == "kw":
            return self._keyword(token)
        if token.kind == "ident":
            if self._operator() == "(":
                return Func(str(token.value), self._arguments(), token.pos)
            return Var(str(token.value), token.pos)
        if token.kind == "op" and token.value == "(":
            node = self._ternary()
            self._expect(")")
            return node
        raise self.refuse(f"unexpected {self._describe(token)}", token.pos)

    def _keyword(self, token: Token) -> Node:
        constants = {"true": True, "false": False, "null": None}
        if token.value in constants:
            return Literal(constants[token.value], token.pos)
        raise self.refuse(f"unexpected keyword '{token.value}'", token.pos)


# ---------------------------------------------------------------------------------------
# Code generation
# ---------------------------------------------------------------------------------------

# Method name -> accepted argument counts.  Which receiver types offer it is decided at run
# time (EL is dynamically typed); unknown names are refused here so that bean calls such as
# ${myBean.doSomething()} fail at deploy time.
METHOD_ARITY: Mapping[str, frozenset[int]] = {
    "length": frozenset({0}), "startsWith": frozenset({1}), "endsWith": frozenset({1}),
    "contains": frozenset({1}), "toUpperCase": frozenset({0}), "toLowerCase": frozenset({0}),
    "trim": frozenset({0}), "isEmpty": frozenset({0}), "equals": frozenset({1}),
    "equalsIgnoreCase": frozenset({1}), "substring": frozenset({1, 2}),
    "indexOf": frozenset({1, 2}), "replace": frozenset({2}), "matches": frozenset({1}),
    "size": frozenset({0}), "get": frozenset({1}), "containsKey": frozenset({1}),
    "toString": frozenset({0}), "toDate": frozenset({0}), "isBefore": frozenset({1}),
    "isAfter": frozenset({1}),
    # Camunda Spin's JSON nodes (engine.el_runtime.SPIN_METHODS)
    "prop": frozenset({1}), "hasProp": frozenset({1}), "stringValue": frozenset({0}),
    "numberValue": frozenset({0}), "boolValue": frozenset({0}), "value": frozenset({0}),
    "elements": frozenset({0}), "fieldNames": frozenset({0}), "isNull": frozenset({0}),
    "isString": frozenset({0}), "isNumber": frozenset({0}), "isBoolean": frozenset({0}),
    "isArray": frozenset({0}), "isObject": frozenset({0}),
    **{f"{sign}{unit}": frozenset({1}) for sign in ("plus", "minus")
       for unit in ("Seconds", "Minutes", "Hours", "Days", "Weeks", "Months", "Years")},
}  # fmt: skip

# Camunda's execution object: method -> (helper, argument count).  setVariable is left out on
# purpose: an expression must not change task data as a side effect of being evaluated.
EXECUTION_METHODS: Mapping[str, tuple[str, int]] = {
    "getVariable": ("el_get_var", 1),
    "getVariableLocal": ("el_get_var", 1),
    "hasVariable": ("el_has_var", 1),
    "hasVariableLocal": ("el_has_var", 1),
    "getVariables": ("el_variables", 0),
    "getVariablesLocal": ("el_variables", 0),
}

# Function -> (helper, accepted argument counts). S(...) and JSON(...) are Camunda Spin's.
FUNCTIONS: Mapping[str, tuple[str, frozenset[int]]] = {
    "now": ("el_now", frozenset({0})),
    "dateTime": ("el_now", frozenset({0})),
    "S": ("el_spin", frozenset({1, 2})),
    "JSON": ("el_spin", frozenset({1})),
}

# Camunda context objects that have no counterpart in this engine.
CONTEXT_OBJECTS = frozenset({"task", "externalTask", "caseExecution", "variableScope"})

BINARY_HELPERS: Mapping[str, str] = {
    "+": "el_add", "-": "el_sub", "*": "el_mul", "/": "el_div", "%": "el_mod",
    "==": "el_eq", "!=": "el_ne", "<": "el_lt", ">": "el_gt", "<=": "el_le", ">=": "el_ge",
}  # fmt: skip


class Generator:
    """Turns the AST of one ``${...}`` into Python source."""

    def __init__(self, source: str, refuse: Refusals) -> None:
        self.source = source  # the ${...} text, quoted in unknown-variable errors
        self.refuse = refuse
        self.depth = 0

    def emit(self, node: Node) -> str:
        # Chains such as a+b+c+... or a.b.c.d... nest in the generated code without nesting
        # in the parser, so the depth of the tree is bounded here as well.
        self.depth += 1
        try:
            if self.depth > MAX_NESTING:
                raise self.refuse(f"expression is nested more than {MAX_NESTING} levels deep", node.pos)
            return self._node(node)
        finally:
            self.depth -= 1

    def _node(self, node: Node) -> str:
        match node:
            case Literal(value=value):
                return repr(value)
            case Var(name=name, pos=pos):
                self._check_variable(name, pos)
                return f"el_var({name!r}, {self.source!r})"
            case Unary():
                return self._unary(node)
            case Binary():
                return self._binary(node)
            case Ternary(condition=condition, then=then, otherwise=otherwise):
                return f"({self.emit(then)} if {self._boolean(condition)} else {self.emit(otherwise)})"
            case Prop(base=base, key=key, pos=pos):
                self._check_base(base, pos)
                return f"el_prop({self.emit(base)}, {self.emit(key)})"
            case Method():
                return self._method(node)
            case Func():
                return self._function(node)
        raise AssertionError(f"unknown node {node!r}")  # the Node union is exhaustive

    def _unary(self, node: Unary) -> str:
        if node.op == "-":
            return f"el_neg({self.emit(node.operand)})"
        if node.op == "not":
            return f"(not {self._boolean(node.operand)})"
        return f"el_empty({self.emit(node.operand)})"

    def _binary(self, node: Binary) -> str:
        # Python's "and"/"or" keep EL's short-circuit; both sides are booleans already.
        if node.op == "&&":
            return f"({self._boolean(node.left)} and {self._boolean(node.right)})"
        if node.op == "||":
            return f"({self._boolean(node.left)} or {self._boolean(node.right)})"
        return f"{BINARY_HELPERS[node.op]}({self.emit(node.left)}, {self.emit(node.right)})"

    def _boolean(self, node: Node) -> str:
        """Code for ``node`` coerced to a boolean, skipping the coercion where it is one already."""
        code = self.emit(node)
        if isinstance(node, Unary) and node.op != "-":
            return code
        if isinstance(node, Binary) and node.op not in ("+", "-", "*", "/", "%"):
            return code
        return f"el_bool({code})"

    def _check_variable(self, name: str, pos: int) -> None:
        if name == "execution":
            raise self.refuse(
                "'execution' can only be used as execution.getVariable(...), "
                "execution.hasVariable(...) or execution.getVariables()",
                pos,
            )
        if name in CONTEXT_OBJECTS:
            raise self.refuse(
                f"the Camunda context object '{name}' is not available in "
                "expressions (rename the variable if it is process data)",
                pos,
            )

    def _check_base(self, base: Node, pos: int) -> None:
        if isinstance(base, Var) and base.name == "execution":
            raise self.refuse(
                "properties of 'execution' are not supported; use execution.getVariable('name')", pos
            )

    def _method(self, node: Method) -> str:
        if isinstance(node.base, Var) and node.base.name == "execution":
            return self._execution_method(node)
        base = self.emit(node.base)  # first, so the leftmost problem is the one reported
        arities = METHOD_ARITY.get(node.name)
        if arities is None:
            raise self.refuse(
                f"method '{node.name}()' is not supported (only common String, "
                "List, Map and date methods can be called)",
                node.pos,
            )
        if len(node.args) not in arities:
            expected = " or ".join(str(n) for n in sorted(arities))
            raise self.refuse(
                f"method '{node.name}()' takes {expected} argument(s), not {len(node.args)}", node.pos
            )
        args = "".join(f", {self.emit(arg)}" for arg in node.args)
        return f"el_call({base}, {node.name!r}{args})"

    def _execution_method(self, node: Method) -> str:
        if node.name == "setVariable" or node.name == "setVariableLocal":
            raise self.refuse(
                f"execution.{node.name}() is not supported: expressions must not "
                "change variables (use a script task)",
                node.pos,
            )
        known = EXECUTION_METHODS.get(node.name)
        if known is None:
            raise self.refuse(f"execution.{node.name}() is not supported", node.pos)
        helper, count = known
        if len(node.args) != count:
            raise self.refuse(
                f"execution.{node.name}() takes {count} argument(s), not {len(node.args)}", node.pos
            )
        return f"{helper}({', '.join(self.emit(arg) for arg in node.args)})"

    def _function(self, node: Func) -> str:
        if node.name == "T":
            raise self.refuse("Java class references T(...) are not supported", node.pos)
        known = FUNCTIONS.get(node.name)
        if known is None:
            raise self.refuse(
                f"function '{node.name}()' is not supported (available: {', '.join(FUNCTIONS)})", node.pos
            )
        helper, arities = known
        if len(node.args) not in arities:
            if arities == frozenset({0}):
                raise self.refuse(f"function '{node.name}()' takes no arguments", node.pos)
            expected = " or ".join(str(n) for n in sorted(arities))
            raise self.refuse(f"function '{node.name}()' takes {expected} argument(s)", node.pos)
        return f"{helper}({', '.join(self.emit(arg) for arg in node.args)})"


# ---------------------------------------------------------------------------------------
# Composite texts and the public entry points
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    text: str  # literal text, or the whole "${...}" for an expression
    node: Node | None  # None for literal text


def _expression_start(text: str, at: int) -> bool:
    return text.startswith(("${", "#{"), at)


def _segments(text: str) -> list[Segment]:
    """Split a text into literal runs and parsed ``${...}`` / ``#{...}`` expressions."""
    refuse = Refusals(text)
    segments: list[Segment] = []
    literal: list[str] = []
    at = 0
    while at < len(text):
        if text[at] == "\\" and _expression_start(text, at + 1):
            # "\${" is EL's escape for a literal "${".
            literal.append(text[at + 1 : at + 3])
            at += 3
        elif _expression_start(text, at):
            if literal:
                segments.append(Segment("".join(literal), None))
                literal = []
            tokens, end = Lexer(text, at + 2, refuse).run()
            segments.append(Segment(text[at:end], Parser(tokens, refuse).parse()))
            at = end
        else:
            literal.append(text[at])
            at += 1
    if literal:
        segments.append(Segment("".join(literal), None))
    return segments


def is_el(text: str) -> bool:
    """Whether ``text`` contains an (unescaped) ``${...}`` or ``#{...}`` expression."""
    at = 0
    while at < len(text):
        if text[at] == "\\" and _expression_start(text, at + 1):
            at += 3
        elif _expression_start(text, at):
            return True
        else:
            at += 1
    return False


def translate(text: str) -> str:
    """Translate an EL text into the source of one Python expression.

    A text that is exactly one expression keeps the expression's value and type; any other
    text (literal runs around expressions) becomes a string, as in EL composite
    expressions; a text without expressions becomes a string literal.
    """
    segments = _segments(text)
    refuse = Refusals(text)
    parts: list[str] = []
    for segment in segments:
        if segment.node is None:
            parts.append(repr(segment.text))
            continue
        code = Generator(segment.text, refuse).emit(segment.node)
        if len(segments) == 1:
            return code
        parts.append(f"el_str({code})")
    return " + ".join(parts) if parts else repr("")


def translate_condition(text: str) -> str:
    """Like ``translate`` but coerced to a boolean the way Camunda coerces conditions."""
    return f"el_bool({translate(text)})"
