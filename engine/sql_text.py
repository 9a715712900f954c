"""SQL: does a text column contain a piece of text, with case counting on every database.

``column.contains(...)`` is a LIKE, which SQLite compares without regard to case: a search for
the user "carol" would find "Carol" there and not on PostgreSQL. User names and roles are
case-sensitive, so the lists that hold them (candidate users and groups, the people an alarm
was told to) are searched with the databases' own substring functions.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement


class holds_text(FunctionElement[bool]):
    """``holds_text(column, text)``: ``text`` occurs in ``column``."""

    type = Boolean()
    inherit_cache = True
    name = "holds_text"


def _parts(element: holds_text, compiler: SQLCompiler, **kw: Any) -> tuple[str, str]:
    haystack, needle = list(element.clauses)
    return compiler.process(haystack, **kw), compiler.process(needle, **kw)


@compiles(holds_text)
def _strpos(element: holds_text, compiler: SQLCompiler, **kw: Any) -> str:
    haystack, needle = _parts(element, compiler, **kw)
    return f"(strpos({haystack}, {needle}) > 0)"


@compiles(holds_text, "sqlite")
def _instr(element: holds_text, compiler: SQLCompiler, **kw: Any) -> str:
    haystack, needle = _parts(element, compiler, **kw)
    return f"(instr({haystack}, {needle}) > 0)"
