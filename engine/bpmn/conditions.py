"""Conditions in the languages modelers write, translated once, at deploy, into sandboxed Python.

* Camunda 7 EL (``${amount > 1000}``, ``#{approved}``): ``engine.expressions``.
* FEEL, as Camunda 8 writes it (``= approved``, ``=not(fraud)``,
  ``= some r in risks satisfies r = "red"``) or as a ``language`` attribute names it.
* XPath, the BPMN specification's default language, in the form tools export it:
  ``bpmn:getDataObject('approved')``, ``not(...)``, comparisons, ``and`` / ``or``.
* Python, SpiffWorkflow's own language, kept as written (the sandbox checks it).

FEEL and XPath are translated through one small grammar (``engine.bpmn.feel``); anything
outside the subsets is refused with ``ExpressionRefused`` naming the position, so a diagram
never fails half-way through a case.
"""

from __future__ import annotations

import ast

from ..expressions import ExpressionRefused, is_el, translate, translate_condition
from .feel import FEEL, XPATH, translate_subset

EL = "el"
PYTHON = "python"
__all__ = [
    "EL", "FEEL", "PYTHON", "XPATH", "condition_code", "expression_code", "language_of", "translate_subset",
]  # fmt: skip

_LANGUAGES = {
    "juel": EL, "el": EL, "http://java.sun.com/products/jsp": EL,
    "feel": FEEL, "https://www.omg.org/spec/dmn/20191111/feel": FEEL,
    "http://www.omg.org/spec/feel/20140401": FEEL, "https://www.omg.org/spec/feel/20140401": FEEL,
    "http://www.w3.org/1999/xpath": XPATH, "xpath": XPATH,
    "python": PYTHON, "py": PYTHON, "python3": PYTHON, "jython": PYTHON,
}  # fmt: skip


def language_of(declared: str | None, text: str) -> str:
    """Which language ``text`` is in, from its ``language`` attribute and its shape.

    The attribute wins when it names a language this engine knows; tools also write the
    BPMN default (XPath) on expressions that are plainly EL or FEEL, so the shape of the
    text decides over a declared XPath.
    """
    named = _LANGUAGES.get((declared or "").strip().lower().rstrip("/"))
    stripped = text.strip()
    if is_el(stripped):
        return EL
    if stripped.startswith("="):
        return FEEL
    if named is not None and named != XPATH:
        return named
    if declared and named is None:
        raise ExpressionRefused(f"expression language {declared!r} is not supported (use EL, FEEL or Python)")
    if named == XPATH or "getDataObject" in stripped:
        return XPATH
    return PYTHON


def condition_code(text: str, declared_language: str | None = None) -> str:
    """The Python source SpiffWorkflow evaluates for a condition written as ``text``."""
    language = language_of(declared_language, text)
    if language == EL:
        return translate_condition(text.strip())
    if language == FEEL:
        body = text.strip()
        return translate_subset(body[1:] if body.startswith("=") else body, FEEL)
    if language == XPATH:
        return translate_subset(text.strip(), XPATH)
    if declared_language is None and not _is_python(text.strip()):
        # Tools such as Trisotech write FEEL without saying so; if it is not Python it must be that.
        return translate_subset(text.strip(), FEEL)
    return text.strip()


def _is_python(text: str) -> bool:
    try:
        ast.parse(text, mode="eval")
    except SyntaxError:
        return False
    return True


def expression_code(text: str) -> str:
    """Like ``condition_code`` for a value (timers, collections): EL and FEEL translate, Python stays."""
    stripped = text.strip()
    if is_el(stripped):
        return translate(stripped)
    if stripped.startswith("="):
        return translate_subset(stripped[1:], FEEL, boolean=False)
    return stripped
