"""The sandbox in which BPMN script tasks, gateway conditions and other expressions run.

Diagrams are uploaded by users, so their scripts are untrusted code. Two layers keep them
from taking over the server:

1. ``check_source`` parses the script and refuses, before anything runs, every construct
   that leads out of plain data handling: imports, dunder/underscore names and attributes
   (the classic ``().__class__.__mro__[1].__subclasses__()`` walk), introspection builtins,
   ``str.format`` attribute walks, frame/generator internals, class definitions, async code
   and ``with``.  It runs at deploy time, so a bad diagram is rejected with a line number.
2. At run time the code executes with a ``__builtins__`` mapping that holds only
   ``SAFE_BUILTINS``; without it CPython would silently insert the real builtins module.
   So even if the static check were bypassed, ``__import__``, ``open``, ``eval`` and friends
   simply do not exist.

Not enforced here: CPU time and memory.  ``while True: pass`` or ``"x" * 10**9`` pass the
check; only huge literal exponents/shifts are refused because that is cheap to spot.  The
engine must bound run time (and ideally memory) around script execution itself.
"""

from __future__ import annotations

import ast
import copy
import functools
import textwrap
import types
from collections.abc import Iterator, Mapping
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Literal

from SpiffWorkflow.bpmn.script_engine.python_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

from engine.errors import ScriptRefused

Mode = Literal["exec", "eval"]

# Scripts reach these as bare names.  They live in the builtins layer rather than in the
# environment globals so that task data may shadow them (a CRM field called "date" is
# common) instead of making every script of that instance fail the overwrite check.
SAFE_BUILTINS: Mapping[str, Any] = types.MappingProxyType(
    {
        "abs": abs,
        "all": all,
        "any": any,
        "bool": bool,
        "chr": chr,
        "dict": dict,
        "divmod": divmod,
        "enumerate": enumerate,
        "filter": filter,
        "float": float,
        "frozenset": frozenset,
        "int": int,
        "isinstance": isinstance,
        "len": len,
        "list": list,
        "map": map,
        "max": max,
        "min": min,
        "next": next,
        "ord": ord,
        "pow": pow,
        "range": range,
        "repr": repr,
        "reversed": reversed,
        "round": round,
        "set": set,
        "slice": slice,
        "sorted": sorted,
        "str": str,
        "sum": sum,
        "tuple": tuple,
        "zip": zip,
        "True": True,
        "False": False,
        "None": None,
        "Exception": Exception,
        "ArithmeticError": ArithmeticError,
        "IndexError": IndexError,
        "KeyError": KeyError,
        "LookupError": LookupError,
        "TypeError": TypeError,
        "ValueError": ValueError,
        "ZeroDivisionError": ZeroDivisionError,
        "datetime": datetime,
        "date": date,
        "timedelta": timedelta,
        "timezone": timezone,
        "Decimal": Decimal,
    }
)

# Defence in depth: none of these is in SAFE_BUILTINS, but refusing them statically gives a
# clear deploy-time message instead of a NameError in the middle of a running instance.
REFUSED_NAMES: frozenset[str] = frozenset(
    {
        "eval", "exec", "compile", "open", "getattr", "setattr", "delattr", "hasattr",
        "globals", "locals", "vars", "dir", "input", "breakpoint", "help", "memoryview",
        "type", "object", "super", "classmethod", "staticmethod", "property", "exit", "quit",
        "__build_class__", "__import__", "__builtins__", "__loader__", "__spec__",
    }
)  # fmt: skip

# str.format/format_map resolve "{0.__class__}" inside the string, where no AST check can
# see it; mro() reaches every class; the rest expose frames and with them real globals.
REFUSED_ATTRIBUTES: frozenset[str] = frozenset({"format", "format_map", "mro"})
REFUSED_ATTRIBUTE_PREFIXES: tuple[str, ...] = ("gi_", "cr_", "ag_", "f_", "tb_", "co_", "func_", "im_")

REFUSED_NODES: Mapping[type[ast.AST], str] = {
    ast.Import: "import statements",
    ast.ImportFrom: "import statements",
    ast.Global: "'global' statements",
    ast.Nonlocal: "'nonlocal' statements",
    ast.ClassDef: "class definitions",
    ast.AsyncFunctionDef: "async functions",
    ast.AsyncFor: "async for loops",
    ast.AsyncWith: "async with statements",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield from",
    ast.With: "with statements",
}

# Larger literal exponents/shifts only serve to hang the worker or exhaust its memory.
MAX_LITERAL_EXPONENT = 10_000

COMPILE_CACHE_SIZE = 1024


def check_source(source: str, *, mode: Mode) -> None:
    """Refuse ``source`` unless it only uses constructs the sandbox allows.

    Never executes anything.  The refusal reported is the first one in the text, with the
    1-based line and column as the author sees them in the script.
    """
    _parse_checked(source, mode)


def _normalise(source: str) -> tuple[str, int]:
    """Remove a common indentation (scripts and conditions are often indented in the XML).

    Returns the text to compile and how many columns were removed from every line, so
    reported columns still match the original text.  Line numbers are never changed.
    """
    first = next((line for line in source.splitlines() if line.strip()), "")
    if not first[:1].isspace():
        return source, 0
    dedented = textwrap.dedent(source)
    first_dedented = next(line for line in dedented.splitlines() if line.strip())
    return dedented, len(first) - len(first_dedented)


def _parse_checked(source: str, mode: Mode) -> ast.Module | ast.Expression:
    text, indent = _normalise(source)
    try:
        tree = ast.parse(text, filename="<string>", mode=mode)
    except SyntaxError as err:
        line = err.lineno
        column = err.offset + indent if err.offset is not None else None
        where = f" at line {line}" if line is not None else ""
        raise ScriptRefused(f"Syntax error{where}: {err.msg}", line, column) from None
    except (RecursionError, MemoryError, ValueError) as err:
        raise ScriptRefused(f"Script cannot be parsed: {err.__class__.__name__}") from None
    assert isinstance(tree, ast.Module | ast.Expression)  # what ast.parse gives in these modes
    found = [problem for node in ast.walk(tree) for problem in _problems(node)]
    if found:
        line, column, message = min(found, key=lambda p: (p[0], p[1]))
        raise ScriptRefused(
            f"{message} (line {line}, column {column + indent + 1})", line, column + indent + 1
        )
    return tree


Found = tuple[int, int, str]


def _problems(node: ast.AST) -> Iterator[Found]:
    line = getattr(node, "lineno", 1)
    column = getattr(node, "col_offset", 0)
    what = REFUSED_NODES.get(type(node))
    if what is not None:
        yield line, column, f"{what} are not allowed in scripts"
    if isinstance(node, ast.Attribute):
        problem = _attribute_problem(node.attr)
        if problem:
            # Point at the attribute name itself, not at the start of the whole expression.
            end_line, end_column = node.end_lineno, node.end_col_offset
            if end_line is not None and end_column is not None:
                yield end_line, end_column - len(node.attr), problem
            else:
                yield line, column, problem
    for name in _identifiers(node):
        problem = _name_problem(name)
        if problem:
            yield line, column, problem
    problem = _resource_problem(node)
    if problem:
        yield line, column, problem


def _identifiers(node: ast.AST) -> list[str]:
    """Every identifier the node binds or reads, other than attribute names."""
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return [node.name]
    if isinstance(node, ast.arg):
        return [node.arg]
    if isinstance(node, ast.keyword):
        return [node.arg] if node.arg else []
    if isinstance(node, ast.ExceptHandler | ast.MatchAs | ast.MatchStar):
        return [node.name] if node.name else []
    if isinstance(node, ast.MatchMapping):
        return [node.rest] if node.rest else []
    if isinstance(node, ast.MatchClass):
        # Keyword patterns are attribute lookups: case int(__class__=c) does getattr.
        return list(node.kwd_attrs)
    return []


def _name_problem(name: str) -> str | None:
    if name in REFUSED_NAMES:
        return f"the name '{name}' is not available in scripts"
    # A lone "_" is the usual throw-away loop variable and reaches nothing.
    if name.startswith("_") and name != "_":
        return f"names starting with an underscore are not allowed in scripts: '{name}'"
    return None


def _attribute_problem(attr: str) -> str | None:
    if attr.startswith("_"):
        return f"attributes starting with an underscore are not allowed in scripts: '.{attr}'"
    if attr in REFUSED_ATTRIBUTES:
        return f"the attribute '.{attr}' is not allowed in scripts (use an f-string instead)"
    if attr.startswith(REFUSED_ATTRIBUTE_PREFIXES):
        return f"frame, generator and code internals are not allowed in scripts: '.{attr}'"
    return None


def _resource_problem(node: ast.AST) -> str | None:
    exponent: ast.expr | None = None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow | ast.LShift):
        exponent = node.right
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "pow":
        exponent = node.args[1] if len(node.args) >= 2 else None
    if exponent is None:
        return None
    if isinstance(exponent, ast.BinOp) and isinstance(exponent.op, ast.Pow):
        return "power towers (a ** b ** c) are not allowed in scripts"
    value = exponent.value if isinstance(exponent, ast.Constant) else None
    if isinstance(value, int | float) and abs(value) > MAX_LITERAL_EXPONENT:
        return f"exponents or shifts above {MAX_LITERAL_EXPONENT} are not allowed in scripts"
    return None


@functools.lru_cache(maxsize=COMPILE_CACHE_SIZE)
def _compiled(source: str, mode: Mode) -> types.CodeType:
    """Check and compile once; diagrams run the same scripts over and over."""
    tree = _parse_checked(source, mode)
    # "<string>" is the file name SpiffWorkflow looks for to report the failing line.
    return compile(tree, "<string>", mode)


def _sandbox_builtins() -> dict[str, Any]:
    # A fresh dict per run, so a script can never alter what the next one sees.
    return dict(SAFE_BUILTINS)


def _is_plain_data(value: Any) -> bool:
    """False for values that must not stay in task data after a script ran."""
    return not (callable(value) or isinstance(value, types.ModuleType | Iterator))


class SandboxEnvironment(BasePythonScriptEngineEnvironment):
    """TaskDataEnvironment semantics (scripts read and assign task data), sandboxed."""

    def __init__(self, extra_globals: Mapping[str, Any] | None = None) -> None:
        extras = dict(extra_globals or {})
        bad = sorted(name for name in extras if _name_problem(name) or not name.isidentifier())
        if bad:
            raise ValueError(f"Extra script globals with refused names: {bad}")
        super().__init__(extras)

    def evaluate(
        self,
        expression: str,
        context: dict[str, Any],
        external_context: Mapping[str, Any] | None = None,
    ) -> Any:
        code = _compiled(expression, "eval")
        # Only engine functions are checked: like TaskDataEnvironment, data objects passed as
        # external context may legitimately share a name with task data when evaluating.
        self.check_for_overwrite(context, {})
        scope = copy.copy(self.globals)  # a copy, else one evaluation pollutes the next
        scope.update(external_context or {})
        scope.update(context)
        scope["__builtins__"] = _sandbox_builtins()
        return eval(code, scope)

    def execute(
        self,
        script: str,
        context: dict[str, Any],
        external_context: Mapping[str, Any] | None = None,
    ) -> bool:
        code = _compiled(script, "exec")
        self.check_for_overwrite(context, external_context or {})
        # SpiffWorkflow gives a task its parent's data by a shallow merge, so a nested list or
        # dict is shared with tasks that ended, and were stored, commands ago. A script changing
        # one in place (order["lines"].append(x)) would change those too and leave no difference
        # for the store to write. The script works on the task's own copy.
        own = copy.deepcopy(context)
        context.clear()
        context.update(own)
        context.update(self.globals)
        context.update(external_context or {})
        context["__builtins__"] = _sandbox_builtins()
        try:
            exec(code, context)
        finally:
            self._remove_globals_and_functions_from_context(context, external_context)
        return True

    def _remove_globals_and_functions_from_context(
        self, context: dict[str, Any], external_context: Mapping[str, Any] | None = None
    ) -> None:
        """Leave only data behind: task data is serialised and shown to users."""
        for key in list(context):
            if (
                key == "__builtins__"
                or key in self.globals
                or (external_context and key in external_context)
                or not _is_plain_data(context[key])
            ):
                context.pop(key)

    def check_for_overwrite(self, context: Mapping[str, Any], external_context: Mapping[str, Any]) -> None:
        """Fail with a clear message when task data would hide an engine function."""
        clashes = set(self.globals).intersection(context)
        clashes.update(set(external_context).intersection(context))
        if clashes:
            raise ValueError(
                "Task data overwrites predefined script function(s); rename these variables "
                f"or fields: {sorted(clashes)}"
            )


def make_script_engine(extra_globals: Mapping[str, Any] | None = None) -> PythonScriptEngine:
    """The script engine every workflow of this engine runs with."""
    return PythonScriptEngine(environment=SandboxEnvironment(extra_globals))
