import json
import time
from datetime import date, timedelta
from typing import Any

import pytest
from lxml import etree

from engine.errors import DefinitionError, ValidationError
from engine.forms import form_summary, load_camunda_form_data, load_formjs, validate_submission

COMPLAINT_FORM = {
    "type": "default",
    "id": "complaint-intake",
    "schemaVersion": 16,
    "exporter": {"name": "Camunda Modeler", "version": "5.25.0"},
    "executionPlatform": "Camunda Cloud",
    "components": [
        {"type": "text", "id": "Field_intro", "text": "# Complaint intake"},
        {
            "type": "select",
            "id": "Field_customer",
            "key": "customer",
            "label": "Customer",
            "valuesKey": "customers",
            "validate": {"required": True},
        },
        {
            "type": "radio",
            "id": "Field_channel",
            "key": "channel",
            "label": "Channel",
            "values": [
                {"label": "Phone", "value": "phone"},
                {"label": "Web", "value": "web"},
                {"label": "Email", "value": "email"},
                {"label": "Walk-in", "value": "walk_in"},
            ],
            "validate": {"required": True},
        },
        {
            "type": "select",
            "id": "Field_category",
            "key": "category",
            "label": "Category",
            "values": [
                {"label": "Billing", "value": "billing"},
                {"label": "Delivery", "value": "delivery"},
                {"label": "Product quality", "value": "quality"},
            ],
            "validate": {"required": True},
        },
        {
            "type": "textarea",
            "id": "Field_description",
            "key": "description",
            "label": "Description",
            "validate": {"required": True, "minLength": 10, "maxLength": 2000},
        },
        {
            "type": "number",
            "id": "Field_severity",
            "key": "severity",
            "label": "Severity",
            "decimalDigits": 0,
            "validate": {"min": 1, "max": 5, "required": True},
        },
        {
            "type": "number",
            "id": "Field_amount",
            "key": "amount",
            "label": "Amount",
            "decimalDigits": 2,
            "increment": "0.01",
            "validate": {"min": 0, "max": 10000},
        },
        {
            "type": "checkbox",
            "id": "Field_callback",
            "key": "callbackRequested",
            "label": "Customer wants a call back",
        },
        {
            "type": "datetime",
            "id": "Field_occurred",
            "key": "occurredAt",
            "subtype": "datetime",
            "dateLabel": "Occurred on",
            "timeSerializingFormat": "utc_offset",
        },
        {
            "type": "group",
            "id": "Field_contact",
            "label": "Contact",
            "path": "contact",
            "components": [
                {
                    "type": "textfield",
                    "id": "Field_email",
                    "key": "email",
                    "label": "Email",
                    "validate": {"validationType": "email"},
                },
                {
                    "type": "textfield",
                    "id": "Field_phone",
                    "key": "phone",
                    "label": "Phone",
                    "validate": {"validationType": "phone", "required": True},
                    "conditional": {"hide": '=channel != "phone"'},
                },
            ],
        },
        {
            "type": "textfield",
            "id": "Field_ref",
            "key": "orderRef",
            "label": "Order reference",
            "validate": {"pattern": "ORD-[0-9]{6}"},
        },
        {
            "type": "checklist",
            "id": "Field_tags",
            "key": "tags",
            "label": "Tags",
            "values": [{"label": "VIP", "value": "vip"}, {"label": "Repeat", "value": "repeat"}],
        },
        {
            "type": "textfield",
            "id": "Field_case",
            "key": "caseNumber",
            "label": "Case number",
            "readonly": True,
        },
        {"type": "button", "id": "Field_submit", "action": "submit", "label": "Submit"},
    ],
}

CONTEXT = {
    "customers": [{"label": "ACME Ltd", "value": "C-1"}, {"label": "Globex", "value": "C-2"}],
    "caseNumber": "CS-2024-0042",
}

GOOD: dict[str, Any] = {
    "customer": "C-1",
    "channel": "phone",
    "category": "billing",
    "description": "Charged twice for the same invoice.",
    "severity": "3",
    "amount": 129.5,
    "callbackRequested": True,
    "occurredAt": "2024-05-02T14:30+02:00",
    "contact": {"email": "ann@example.com", "phone": "+4930664040900"},
    "orderRef": "ORD-123456",
    "tags": ["vip"],
}


def complaint_form():
    return load_formjs(json.dumps(COMPLAINT_FORM, indent=2), "forms/complaint.form")


def refusal(form, data, context=CONTEXT):
    with pytest.raises(ValidationError) as caught:
        validate_submission(form, data, context)
    return {e.field: e.message for e in caught.value.errors}


def test_loads_value_fields_with_group_paths_and_skips_display_components():
    form = complaint_form()
    assert form.id == "complaint-intake"
    assert [f.key for f in form.fields] == [
        "customer", "channel", "category", "description", "severity", "amount",
        "callbackRequested", "occurredAt", "contact.email", "contact.phone", "orderRef", "tags",
        "caseNumber",
    ]  # fmt: skip
    phone = form.get_field("contact.phone")
    assert phone is not None and phone.hide_conditions == ('=channel != "phone"',)
    customer = form.get_field("customer")
    assert customer is not None and customer.options is None and customer.options_from == "customers"
    occurred = form.get_field("occurredAt")
    assert occurred is not None and occurred.subtype == "datetime" and occurred.label == "Occurred on"
    tags = form.get_field("tags")
    assert tags is not None and tags.multiple


def test_accepts_a_good_submission_and_returns_cleaned_values():
    cleaned = validate_submission(complaint_form(), {**GOOD, "caseNumber": "CS-2024-0042"}, CONTEXT)
    assert cleaned == {
        "customer": "C-1",
        "channel": "phone",
        "category": "billing",
        "description": "Charged twice for the same invoice.",
        "severity": 3,
        "amount": 129.5,
        "callbackRequested": True,
        "occurredAt": "2024-05-02T14:30+02:00",
        "contact": {"email": "ann@example.com", "phone": "+4930664040900"},
        "orderRef": "ORD-123456",
        "tags": ["vip"],
    }


def test_reports_every_bad_field_at_once():
    bad = {
        "customer": "C-9",
        "channel": "fax",
        "description": "   short  ",
        "severity": 7,
        "amount": "20000",
        "callbackRequested": "maybe",
        "occurredAt": "yesterday",
        "contact": {"email": "not-an-email", "phone": "12"},
        "orderRef": "xORD-123456",
        "tags": ["vip", "gold"],
    }
    errors = refusal(complaint_form(), bad)
    assert errors == {
        "customer": "Customer: 'C-9' is not one of the options",
        "channel": "Channel: 'fax' is not one of the options",
        "category": "Category is required",
        "description": "Description must be at least 10 characters long",
        "severity": "Severity must be at most 5",
        "amount": "Amount must be at most 10000",
        "callbackRequested": "Customer wants a call back must be true or false",
        "occurredAt": "Occurred on must be a date and time",
        "contact.email": "Email must be a valid email address",
        "orderRef": "Order reference must match the pattern ORD-[0-9]{6}",
        "tags": "Tags: 'gold' is not among the options",
    }


def test_error_carries_a_readable_message_and_problem_details():
    with pytest.raises(ValidationError) as caught:
        validate_submission(complaint_form(), {**GOOD, "severity": 0}, CONTEXT)
    assert caught.value.details() == {
        "errors": [{"field": "severity", "message": "Severity must be at least 1"}]
    }
    assert "severity" in caught.value.message


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("three", "Severity must be a number"),
        (True, "Severity must be a number"),
        (2.5, "Severity must have a whole number"),
        ([3], "Severity must be a number"),
    ],
)
def test_number_type_checks(value, message):
    assert refusal(complaint_form(), {**GOOD, "severity": value}) == {"severity": message}


def test_number_increment_and_decimal_digits():
    with pytest.raises(ValidationError) as caught:
        validate_submission(complaint_form(), {**GOOD, "amount": "10.005"}, CONTEXT)
    assert [(e.field, e.message) for e in caught.value.errors] == [
        ("amount", "Amount must have at most 2 decimals"),
        ("amount", "Amount must be a multiple of 0.01 (the nearest valid values are 10 and 10.01)"),
    ]
    assert validate_submission(complaint_form(), {**GOOD, "amount": "10.50"}, CONTEXT)["amount"] == 10.5


@pytest.mark.parametrize("value", ["1e5000", "-1e5000", "1e1000000", 1e300, "10000000000000000000"])
def test_a_number_too_large_for_a_form_is_refused_at_once(value):
    definition = {"type": "default", "id": "n", "components": [{"type": "number", "key": "n", "label": "N"}]}
    form = load_formjs(json.dumps(definition), "n.form")
    started = time.monotonic()
    assert refusal(form, {"n": value}, {}) == {
        "n": "N is too large a number (at most 19 digits before the decimal point)"
    }
    assert time.monotonic() - started < 1
    # The largest Camunda long still fits, and stays exact.
    assert validate_submission(form, {"n": "9223372036854775807"}) == {"n": 9223372036854775807}


def test_a_large_number_is_checked_against_the_increment_without_crashing():
    definition = {
        "type": "default",
        "id": "n",
        "components": [
            {"type": "number", "key": "n", "label": "N", "increment": "0.01"},
            {"type": "number", "key": "m", "label": "M", "increment": "1e-20"},
            {"type": "number", "key": "k", "label": "K", "increment": "0.5"},
        ],
    }
    form = load_formjs(json.dumps(definition), "n.form")
    assert validate_submission(form, {"n": "1e18", "m": "123456789012345678.00000000000000000001"}) == {
        "n": 10**18,
        "m": 123456789012345678.00000000000000000001,
    }
    assert refusal(form, {"n": "1e18", "m": "1e-21"}, {}) == {
        "m": "M must be a multiple of 0.00000000000000000001 (the nearest valid values are 0 and "
        "0.00000000000000000001)"
    }
    # A negative number lies between the multiples below and above it.
    assert refusal(form, {"k": "-1.2"}, {}) == {
        "k": "K must be a multiple of 0.5 (the nearest valid values are -1.5 and -1)"
    }
    assert refusal(form, {"n": "1e30"}, {}) == {
        "n": "N is too large a number (at most 19 digits before the decimal point)"
    }


def test_text_must_be_text():
    assert refusal(complaint_form(), {**GOOD, "description": 1234567890123}) == {
        "description": "Description must be text"
    }


def test_unknown_keys_are_refused_but_context_keys_are_ignored():
    errors = refusal(complaint_form(), {**GOOD, "discount": 50, "contact": {**GOOD["contact"], "fax": "1"}})
    assert errors == {
        "discount": "discount is not a field of this form",
        "contact.fax": "contact.fax is not a field of this form",
    }
    cleaned = validate_submission(complaint_form(), {**GOOD, "customers": ["whatever"]}, CONTEXT)
    assert "customers" not in cleaned


def test_readonly_field_keeps_the_case_value():
    errors = refusal(complaint_form(), {**GOOD, "caseNumber": "CS-HACKED"})
    assert errors == {"caseNumber": "Case number is read-only and cannot be changed"}
    assert "caseNumber" not in validate_submission(complaint_form(), GOOD, CONTEXT)


def test_hidden_field_is_neither_required_nor_stored():
    data = {**GOOD, "channel": "web", "contact": {"email": "ann@example.com", "phone": "garbage"}}
    cleaned = validate_submission(complaint_form(), data, CONTEXT)
    assert cleaned["contact"] == {"email": "ann@example.com"}
    data["channel"] = "phone"
    data["contact"] = {"email": "ann@example.com"}
    assert refusal(complaint_form(), data) == {"contact.phone": "Phone is required"}
    data["contact"] = {"phone": "12"}
    assert refusal(complaint_form(), data) == {
        "contact.phone": "Phone must be a valid international phone number (e.g. +4930664040900)"
    }


def test_hide_condition_that_cannot_be_evaluated_makes_the_field_optional():
    definition = {
        "type": "default",
        "id": "f",
        "components": [
            {
                "type": "textfield",
                "key": "note",
                "label": "Note",
                "validate": {"required": True, "minLength": 3},
                "conditional": {"hide": "=count(items) > 2"},
            }
        ],
    }
    form = load_formjs(json.dumps(definition), "f.form")
    assert validate_submission(form, {}) == {}
    assert refusal(form, {"note": "ab"}, None) == {"note": "Note must be at least 3 characters long"}


def test_valueskey_options_come_from_case_data_not_the_submission():
    form = complaint_form()
    assert refusal(form, {**GOOD, "customer": "C-1"}, {}) == {
        "customer": "Customer: 'C-1' is not one of the options"
    }
    summary = form_summary(form, CONTEXT)
    customer = next(f for f in summary["fields"] if f["key"] == "customer")
    assert customer["options"] == [{"value": "C-1", "label": "ACME Ltd"}, {"value": "C-2", "label": "Globex"}]


def test_required_checkbox_must_be_checked_and_empty_optional_values_are_normalised():
    definition = {
        "type": "default",
        "id": "consent",
        "components": [
            {"type": "checkbox", "key": "agree", "label": "I agree", "validate": {"required": True}},
            {"type": "number", "key": "score", "label": "Score"},
            {"type": "taglist", "key": "labels", "label": "Labels", "values": [{"label": "A", "value": "a"}]},
        ],
    }
    form = load_formjs(json.dumps(definition), "consent.form")
    assert refusal(form, {"agree": False}) == {"agree": "I agree must be checked"}
    assert validate_submission(form, {"agree": "true", "score": "", "labels": []}) == {
        "agree": True,
        "score": None,
        "labels": [],
    }


def test_a_visible_checkbox_not_sent_is_stored_as_false_or_its_default_unless_the_case_holds_it():
    definition = {
        "type": "default",
        "id": "resolve",
        "components": [
            {"type": "checkbox", "key": "compensation_due", "label": "Compensation due"},
            {"type": "checkbox", "key": "urgent", "label": "Urgent", "defaultValue": True},
            {"type": "checkbox", "key": "notify", "label": "Notify", "conditional": {"hide": "=silent"}},
            {"type": "textfield", "key": "note", "label": "Note"},
        ],
    }
    form = load_formjs(json.dumps(definition), "resolve.form")
    # Browsers and REST clients send nothing for an unticked box: gateways must still find a value.
    assert validate_submission(form, {"note": "ok"}, {"silent": False}) == {
        "compensation_due": False,
        "urgent": True,
        "notify": False,
        "note": "ok",
    }
    # Hidden boxes are not stored; a box the case already holds keeps its value.
    assert validate_submission(form, {}, {"silent": True, "compensation_due": True, "urgent": False}) == {}


def test_datetime_subtypes():
    definition = {
        "type": "default",
        "id": "visit",
        "components": [
            {
                "type": "datetime",
                "key": "day",
                "subtype": "date",
                "dateLabel": "Day",
                "disallowPassedDates": True,
            },
            {"type": "datetime", "key": "at", "subtype": "time", "timeLabel": "At"},
        ],
    }
    form = load_formjs(json.dumps(definition), "visit.form")
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    assert validate_submission(form, {"day": tomorrow, "at": "09:15"}) == {"day": tomorrow, "at": "09:15"}
    assert refusal(form, {"day": "2001-02-30", "at": "9am"}) == {
        "day": "Day must be a date (YYYY-MM-DD)",
        "at": "At must be a time (HH:MM)",
    }
    assert refusal(form, {"day": "2001-02-03"}) == {"day": "Day cannot be in the past"}


def test_dynamic_list_items_are_validated_one_by_one():
    definition = {
        "type": "default",
        "id": "contacts",
        "components": [
            {
                "type": "dynamiclist",
                "path": "people",
                "label": "People",
                "components": [
                    {"type": "textfield", "key": "name", "label": "Name", "validate": {"required": True}},
                    {"type": "number", "key": "age", "label": "Age", "validate": {"min": 0}},
                ],
            }
        ],
    }
    form = load_formjs(json.dumps(definition), "contacts.form")
    assert validate_submission(form, {"people": [{"name": "Ann", "age": 40}]}) == {
        "people": [{"name": "Ann", "age": 40}]
    }
    assert refusal(form, {"people": [{"name": "Ann"}, {"age": -1, "x": 1}]}) == {
        "people[1].name": "Name is required",
        "people[1].age": "Age must be at least 0",
        "people[1].x": "people[1].x is not a field of this form",
    }


def test_broken_json_reports_the_line():
    text = '{\n  "type": "default",\n  "id": "x",\n  "components": [\n    {"type": "textfield",,}\n  ]\n}'
    with pytest.raises(DefinitionError) as caught:
        load_formjs(text, "forms/x.form")
    problem = caught.value.problems[0]
    assert (problem.file, problem.line) == ("forms/x.form", 5)
    assert "Not valid JSON" in problem.message


@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_a_form_nested_past_any_real_form_is_a_problem_not_a_crash(depth: int) -> None:
    nested = "[" * depth + "]" * depth
    head = '{"type": "default", "id": "x", "components": [{"type": "textfield", "key": "a", "x": '
    text = head + nested + "}]}"
    with pytest.raises(DefinitionError) as caught:
        load_formjs(text, "forms/x.form")
    [problem] = caught.value.problems
    assert problem.file == "forms/x.form" and "nested too deeply" in problem.message


def test_duplicate_keys_are_refused_with_the_line_of_the_second_one():
    definition = {
        "type": "default",
        "id": "dup",
        "components": [
            {"type": "textfield", "key": "name", "label": "Name"},
            {"type": "group", "components": [{"type": "textarea", "key": "name", "label": "Name again"}]},
        ],
    }
    with pytest.raises(DefinitionError) as caught:
        load_formjs(json.dumps(definition, indent=2), "dup.form")
    [problem] = caught.value.problems
    assert problem.element_id == "name"
    assert "more than one" in problem.message
    assert problem.line == 13


def test_unknown_component_type_is_refused():
    definition = {
        "type": "default",
        "id": "u",
        "components": [{"type": "signature", "key": "sig", "id": "F1"}],
    }
    with pytest.raises(DefinitionError) as caught:
        load_formjs(json.dumps(definition, indent=2), "u.form")
    [problem] = caught.value.problems
    assert problem.element_id == "sig" and problem.line == 5
    assert "Unknown form component type 'signature'" in problem.message


def test_every_definition_problem_is_reported():
    definition = {
        "type": "default",
        "components": [
            {"type": "textfield", "label": "No key"},
            {"type": "number", "key": "n", "validate": {"min": "lots"}},
            {"type": "textfield", "key": "p", "validate": {"pattern": "(unclosed"}},
            {"type": "datetime", "key": "d", "subtype": "week"},
            {"type": "expression", "key": "e", "expression": "=1+1"},
        ],
    }
    with pytest.raises(DefinitionError) as caught:
        load_formjs(json.dumps(definition), "many.form")
    assert len(caught.value.problems) == 6


def test_form_summary_is_json_able():
    summary = form_summary(complaint_form())
    json.dumps(summary)
    severity = next(f for f in summary["fields"] if f["key"] == "severity")
    assert severity["min"] == 1 and severity["max"] == 5 and severity["required"] is True
    channel = next(f for f in summary["fields"] if f["key"] == "channel")
    assert [o["value"] for o in channel["options"]] == ["phone", "web", "email", "walk_in"]


CAMUNDA_TASK = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d">
  <bpmn:process id="refund" isExecutable="true">
    <bpmn:userTask id="approveRefund" name="Approve refund">
      <bpmn:extensionElements>
        <camunda:formData>
          <camunda:formField id="reason" label="Reason" type="string">
            <camunda:validation>
              <camunda:constraint name="required" />
              <camunda:constraint name="minlength" config="5" />
              <camunda:constraint name="maxlength" config="200" />
            </camunda:validation>
          </camunda:formField>
          <camunda:formField id="amount" label="Amount" type="long" defaultValue="0">
            <camunda:validation>
              <camunda:constraint name="min" config="1" />
              <camunda:constraint name="max" config="10000" />
            </camunda:validation>
          </camunda:formField>
          <camunda:formField id="approved" label="Approved" type="boolean" defaultValue="false" />
          <camunda:formField id="payDate" label="Pay on" type="date" />
          <camunda:formField id="method" label="Method" type="enum">
            <camunda:value id="card" name="Card" />
            <camunda:value id="transfer" name="Bank transfer" />
          </camunda:formField>
          <camunda:formField id="ticket" label="Ticket" type="string">
            <camunda:validation><camunda:constraint name="readonly" /></camunda:validation>
          </camunda:formField>
        </camunda:formData>
      </bpmn:extensionElements>
    </bpmn:userTask>
  </bpmn:process>
</bpmn:definitions>
"""


def user_task(xml=CAMUNDA_TASK):
    root = etree.fromstring(xml)
    return root.find(".//{http://www.omg.org/spec/BPMN/20100524/MODEL}userTask")


def test_camunda_form_data_is_loaded():
    form = load_camunda_form_data(user_task(), "processes/refund.bpmn")
    assert (form.id, form.title) == ("approveRefund", "Approve refund")
    assert [(f.key, f.type) for f in form.fields] == [
        ("reason", "textfield"),
        ("amount", "number"),
        ("approved", "checkbox"),
        ("payDate", "datetime"),
        ("method", "select"),
        ("ticket", "textfield"),
    ]
    reason, amount, approved, _, method, ticket = form.fields
    assert reason.required and (reason.min_length, reason.max_length) == (5, 200)
    assert amount.default == 0 and amount.decimal_digits == 0
    assert approved.default is False
    assert method.options is not None and [(o.value, o.label) for o in method.options] == [
        ("card", "Card"),
        ("transfer", "Bank transfer"),
    ]
    assert ticket.readonly and reason.line == 8


def test_camunda_form_data_validation():
    form = load_camunda_form_data(user_task(), "processes/refund.bpmn")
    cleaned = validate_submission(
        form,
        {
            "reason": "Damaged parcel",
            "amount": "250",
            "approved": "true",
            "payDate": "31/12/2024",
            "method": "card",
        },
        {"ticket": "T-1"},
    )
    assert cleaned == {
        "reason": "Damaged parcel",
        "amount": 250,
        "approved": True,
        "payDate": "2024-12-31",
        "method": "card",
    }
    errors = refusal(
        form,
        {"reason": "bad", "amount": 10001, "payDate": "2024-13-01", "method": "cash", "ticket": "T-2"},
        {"ticket": "T-1"},
    )
    assert errors == {
        "reason": "Reason must be at least 5 characters long",
        "amount": "Amount must be at most 10000",
        "payDate": "Pay on must be a date (YYYY-MM-DD)",
        "method": "Method: 'cash' is not one of the options",
        "ticket": "Ticket is read-only and cannot be changed",
    }
    assert refusal(form, {"amount": 1.5}, {}) == {
        "reason": "Reason is required",
        "amount": "Amount must have a whole number",
    }


def test_camunda_form_data_problems_point_at_the_line():
    xml = CAMUNDA_TASK.replace(b'type="long"', b'type="money"').replace(b'name="max"', b'name="validator"')
    with pytest.raises(DefinitionError) as caught:
        load_camunda_form_data(user_task(xml), "processes/refund.bpmn")
    assert [(p.element_id, p.line) for p in caught.value.problems] == [("amount", 15)]
    assert "'money' is not supported" in caught.value.problems[0].message


@pytest.mark.parametrize(
    ("expression", "scope", "expected"),
    [
        ('=channel = "phone"', {"channel": "phone"}, True),
        ("=not(callback)", {"callback": True}, False),
        ("=severity >= 4 and vip", {"severity": 4, "vip": True}, True),
        ("=severity > 4 or missing", {"severity": 2}, None),
        ("=contact.email = null", {"contact": {}}, True),
        ("=count(items) > 1", {}, None),
        ("no leading equals", {}, None),
        (True, {}, True),
    ],
)
def test_simple_feel_conditions(expression, scope, expected):
    from engine.forms.conditions import evaluate_condition

    assert evaluate_condition(expression, scope) is expected


def _readonly_once_closed():
    """A resolution field that is read-only once the case's status is closed."""
    definition = {
        "type": "default",
        "id": "resolution",
        "components": [
            {"type": "textarea", "key": "resolution", "label": "Resolution", "readonly": '=status = "closed"'}
        ],
    }
    return load_formjs(json.dumps(definition), "resolution.form")


def test_readonly_expression_is_decided_per_submission():
    form = _readonly_once_closed()
    assert validate_submission(form, {"resolution": "Refunded"}, {"status": "open"}) == {
        "resolution": "Refunded"
    }
    assert refusal(form, {"resolution": "Changed"}, {"status": "closed", "resolution": "Refunded"}) == {
        "resolution": "Resolution is read-only and cannot be changed"
    }


def test_case_data_sent_back_cannot_unlock_a_readonly_field():
    """A client may echo the case data, but only the form's own fields may change what conditions see."""
    form = _readonly_once_closed()
    context = {"status": "closed", "resolution": "Refunded"}
    assert refusal(form, {"resolution": "Changed", "status": "open"}, context) == {
        "resolution": "Resolution is read-only and cannot be changed"
    }


def test_case_data_sent_back_cannot_hide_a_required_field_or_show_a_hidden_one():
    definition = {
        "type": "default",
        "id": "tier",
        "components": [
            {
                "type": "textfield",
                "key": "reason",
                "label": "Reason",
                "validate": {"required": True},
                "conditional": {"hide": '=tier = "gold"'},
            },
            {
                "type": "dynamiclist",
                "path": "items",
                "label": "Items",
                "components": [
                    {
                        "type": "textfield",
                        "key": "note",
                        "label": "Note",
                        "conditional": {"hide": '=tier != "gold"'},
                    }
                ],
            },
        ],
    }
    form = load_formjs(json.dumps(definition), "tier.form")
    assert refusal(form, {"tier": "gold"}, {"tier": "silver"}) == {"reason": "Reason is required"}
    # The hidden item field stays hidden (its value is not stored) whatever the submission says.
    data = {"reason": "x", "tier": "gold", "items": [{"note": "n"}]}
    cleaned = validate_submission(form, data, {"tier": "silver"})
    assert cleaned == {"reason": "x", "items": [{}]}
    # The form's own fields still decide conditions as the user answers them.
    assert validate_submission(form, {"tier": "gold"}, {"tier": "gold"}) == {}
