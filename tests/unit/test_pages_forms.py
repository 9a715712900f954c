"""The pages' form drawing and reading without a database: text blocks, typed values from posted
fields, office time, and how durations and redirects are shown and checked."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from flask import Flask
from werkzeug.datastructures import MultiDict

from api.pages.common import safe_next
from api.pages.display import duration, local_time, priority_name, time_left
from api.pages.form_text import render_text
from api.pages.form_view import FieldView, build, hidden_ids, option_text, read_submission, rows_to_add
from engine.forms import load_formjs

FORM = {
    "id": "unit",
    "type": "default",
    "components": [
        {"type": "text", "text": "# {{case.no}}"},
        {"type": "number", "key": "amount", "label": "Amount"},
        {"type": "text", "text": "only when big", "conditional": {"hide": "=amount < 100"}},
        {"type": "select", "key": "level", "label": "Level", "values": [{"label": "1", "value": 1}]},
        {"type": "checkbox", "key": "agree", "label": "Agree"},
        {"type": "textarea", "key": "why", "label": "Why", "conditional": {"hide": "=not(agree)"}},
        {"type": "datetime", "key": "at", "subtype": "datetime", "dateLabel": "At"},
        {"type": "textfield", "key": "kept", "label": "Kept", "readonly": True},
        {
            "type": "dynamiclist",
            "path": "rows",
            "components": [{"type": "textfield", "key": "a", "label": "A"}],
        },
    ],
}


@pytest.fixture(autouse=True)
def office() -> Iterator[None]:
    app = Flask(__name__)
    app.config["TIMEZONE"] = "Asia/Shanghai"
    with app.app_context():
        yield


def test_text_blocks_keep_their_place_among_the_fields() -> None:
    form = load_formjs(json.dumps(FORM), "unit.form")
    assert [(t.position, t.text) for t in form.texts] == [(0, "# {{case.no}}"), (1, "only when big")]
    view = build(form, {"case": {"no": "C-1"}, "amount": 5})
    kinds = [e.field.key if isinstance(e, FieldView) else None for e in view.entries]
    assert kinds == [None, "amount", None, "level", "agree", "why", "at", "kept", "rows"]
    assert hidden_ids(view) == ["text-1", "f-why"]  # amount < 100, and an unchecked box hides "why"


def test_markdown_is_rendered_and_values_escaped_after_it() -> None:
    html = render_text(
        "**{{name}}** <b>x</b> {{ order.no }} {{ if x then 1 else 2 }}",
        {
            "name": "*not bold* <i>",
            "order": {"no": 7},
        },
    )
    assert "<strong>*not bold* &lt;i&gt;</strong>" in html
    assert "&lt;b&gt;x&lt;/b&gt;" in html and " 7 " in html and "if x" not in html


def test_posted_fields_become_typed_values() -> None:
    form = load_formjs(json.dumps(FORM), "unit.form")
    posted = MultiDict(
        [
            ("amount", "12.5"),
            ("level", "1"),
            ("agree", "true"),
            ("why", "a\r\nb"),
            ("at", "2026-03-02T08:00"),
            ("kept", "changed"),
            ("rows[0].a", "x"),
            ("rows[3].a", ""),
            ("rows[1].a", "y"),
            ("unknown", "z"),
        ]
    )
    data = read_submission(form, posted, {"kept": "stored"})
    assert data == {
        "amount": "12.5",  # the engine's number check reads text, as Camunda's generated forms send it
        "level": 1,
        "agree": True,
        "why": "a\nb",
        "at": "2026-03-02T08:00+08:00",
        "rows": [{"a": "x"}, {"a": "y"}],
    }
    unchecked = read_submission(form, MultiDict([("why", "hidden now")]), {})
    assert unchecked["agree"] is False and "why" not in unchecked and unchecked["rows"] == []
    assert rows_to_add(form, MultiDict([("_add_row", "rows")])) == {"rows": 1}
    assert rows_to_add(form, MultiDict([("_add_row", "amount")])) == {}


def test_stored_values_are_shown_in_office_time_and_options_by_value() -> None:
    form = load_formjs(json.dumps(FORM), "unit.form")
    view = build(form, {}, {"at": "2026-03-02T00:00:00+00:00", "level": 1, "rows": [{"a": "x"}]})
    fields = {f.name: f for f in view.fields()}
    assert fields["at"].value == "2026-03-02T08:00"
    assert [(o.value, o.chosen) for o in fields["level"].options or []] == [("1", True)]
    assert [[c.value for c in row] for row in fields["rows"].rows] == [["x"]]
    assert option_text(True) == "true" and option_text("1") == "1"


def test_durations_and_times_read_as_people_count() -> None:
    assert (
        duration(9000) == "2 h 30 min" and duration(90061) == "1 d 1 h" and duration(20) == "under a minute"
    )
    assert time_left(-5400) == "overdue by 1 h 30 min" and time_left(600) == "10 min left"
    assert local_time("2026-01-05T01:00:00+00:00") == "2026-01-05 09:00"
    assert [priority_name(p) for p in (95, 70, 50, 10, None)] == [
        "Critical",
        "High",
        "Normal",
        "Low",
        "Normal",
    ]


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/cases?x=1", "/cases?x=1"),
        ("https://evil.example/", "/home"),
        ("//evil.example", "/home"),
        ("/\\evil.example", "/home"),
        ("cases", "/home"),
        ("", "/home"),
        (None, "/home"),
    ],
)
def test_redirects_stay_on_the_site(target: str | None, expected: str) -> None:
    assert safe_next(target, "/home") == expected
