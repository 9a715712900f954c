"""The text blocks of a form-js form, as HTML: Markdown with ``{{variable}}`` filled from the case.

form-js renders text components as Markdown with raw HTML switched off and fills templates
from the form's data; so does this. Only plain (dotted) names are filled in: anything else in
``{{ }}`` is FEEL this server does not evaluate, and shows nothing rather than something wrong.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from markdown_it import MarkdownIt
from markupsafe import Markup, escape

from engine.forms.conditions import evaluate_condition
from engine.forms.model import FormText
from engine.forms.validation import MISSING, value_at

from .display import show_value

_MARKDOWN = MarkdownIt("commonmark", {"html": False})
_TEMPLATE = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_NAME = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*")


def _fill(match: re.Match[str], scope: Mapping[str, Any]) -> str:
    expression = match.group(1).strip()
    if not _NAME.fullmatch(expression):
        return ""
    value = value_at(scope, expression)
    return "" if value is None or value is MISSING else str(escape(show_value(value)))


def render_text(text: str, scope: Mapping[str, Any]) -> Markup:
    """The Markdown as safe HTML, templates filled in with escaped values.

    The Markdown is rendered first, so a value can never be read as Markdown or HTML.
    """
    html = _MARKDOWN.render(text)
    return Markup(_TEMPLATE.sub(lambda m: _fill(m, scope), html))


def text_hidden(block: FormText, scope: Mapping[str, Any]) -> bool:
    """Hidden when one of its conditions holds; a condition this server cannot read shows it."""
    return any(evaluate_condition(condition, scope) is True for condition in block.hide_conditions)
