"""JSON schemas of what /api/v1 sends and accepts (the OpenAPI document's components).

Response schemas mirror the dicts that ``engine.queries``, ``engine.users`` and
``engine.deploy`` return; the fuzz test checks every response against them.
"""

from __future__ import annotations

from typing import Any

from ..openapi import NO_NUL

Schema = dict[str, Any]

STRING = {"type": "string"}
TIME = {"type": "string", "format": "date-time"}
INTEGER = {"type": "integer"}
BOOLEAN = {"type": "boolean"}
JSON_OBJECT = {"type": "object"}
NUMBER = {"type": "number"}
MONEY = {"type": "string", "pattern": "^-?[0-9]+\\.[0-9]{2}$", "description": "A decimal amount, e.g. 12.50"}


def nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(properties: dict[str, Schema], *, optional: tuple[str, ...] = (), extra: bool = False) -> Schema:
    """An object with these properties, all required but the ``optional`` ones."""
    return {
        "type": "object",
        "properties": properties,
        "required": [name for name in properties if name not in optional],
        "additionalProperties": extra,
    }


def page_of(item: str) -> Schema:
    return obj(
        {
            "items": {"type": "array", "items": ref(item)},
            "total": {"type": "integer", "minimum": 0},
            "offset": {"type": "integer", "minimum": 0},
            "limit": {"type": "integer", "minimum": 1},
            "sort": STRING,
        }
    )




def text(max_length: int = 255, min_length: int = 1) -> Schema:
    return {"type": "string", "minLength": min_length, "maxLength": max_length, "pattern": NO_NUL}


def secret(min_length: int = 0) -> Schema:
    return {"type": "string", "minLength": min_length, "maxLength": 1024, "pattern": NO_NUL}


NAME = text(64)
ROLE = {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,63}$"}
VARIABLES = {
    "type": "object",
    "description": "Process variables: names that do not start with '_', any JSON values",
    "propertyNames": {"pattern": "^[^_\\u0000][^\\u0000]*$"},
    "additionalProperties": ref("JsonValue"),
}

_TASK = {
    "id": STRING,
    "name": nullable(STRING),
    "element_id": STRING,
    "kind": {"type": "string", "enum": ["user", "external", "service"]},
    "state": {"type": "string", "enum": ["open", "completed", "cancelled"]},
    "instance_id": STRING,
    "definition_id": STRING,
    "process_key": STRING,
    "business_key": nullable(STRING),
    "role": nullable(STRING),
    "candidate_groups": {"type": "array", "items": STRING},
    "candidate_users": {"type": "array", "items": STRING},
    "assignee": nullable(STRING),
    "owner": nullable(STRING),
    "form_key": nullable(STRING),
    "priority": INTEGER,
    "created_at": TIME,
    "due_at": nullable(TIME),
    "ended_at": nullable(TIME),
    "ended_by": nullable(STRING),
    "topic": nullable(STRING),
    "documentation": nullable(STRING),
    "seconds_left": {"type": "integer", "description": "Seconds until the deadline (negative: overdue)"},
}
_INSTANCE = {
    "id": STRING,
    "definition_id": STRING,
    "process_key": STRING,
    "business_key": nullable(STRING),
    "status": {"type": "string", "enum": ["running", "completed", "cancelled"]},
    "suspended": BOOLEAN,
    "incidents": INTEGER,
    "started_at": TIME,
    "started_by": STRING,
    "ended_at": nullable(TIME),
    "version": INTEGER,
}
_PROBLEM_ITEM = obj(
    {
        "message": STRING,
        "file": nullable(STRING),
        "line": nullable(INTEGER),
        "element_id": nullable(STRING),
        "code": STRING,
    }
)
_TOKEN = {
    "id": STRING,
    "user": STRING,
    "label": STRING,
    "prefix": {"type": "string", "description": "The token's first characters, to tell tokens apart"},
    "created_at": TIME,
    "expires_at": nullable(TIME),
    "revoked_at": nullable(TIME),
    "revoked_by": nullable(STRING),
}
_CUSTOMER = {
    "id": STRING,
    "name": STRING,
    "tier": nullable({"type": "string", "enum": ["A", "B", "C"]}),
    "contact_name": nullable(STRING),
    "phone": nullable(STRING),
    "email": nullable(STRING),
    "address": STRING,
    "city": nullable(STRING),
    "latitude": nullable(NUMBER),
    "longitude": nullable(NUMBER),
    "account_owner": nullable(STRING),
    "created_at": TIME,
}
_FORM_FIELD = {"type": "object", "required": ["key", "type"], "properties": {"key": nullable(STRING)}}

COMPONENTS: dict[str, Schema] = {
    "JsonValue": {
        "description": "Any JSON value without NUL characters in its text",
        "anyOf": [
            {"type": ["number", "boolean", "null"]},
            {"type": "string", "pattern": NO_NUL},
            {"type": "array", "items": ref("JsonValue")},
            {
                "type": "object",
                "propertyNames": {"pattern": NO_NUL},
                "additionalProperties": ref("JsonValue"),
            },
        ],
    },
    "Problem": {
        "type": "object",
        "description": "RFC 9457 problem details; 'errors' lists field errors, 'problems' diagram problems",
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": STRING,
            "title": STRING,
            "status": INTEGER,
            "detail": STRING,
            "instance": STRING,
            "errors": {"type": "array", "items": obj({"field": STRING, "message": STRING})},
            "problems": {"type": "array", "items": _PROBLEM_ITEM},
            "retry_after": INTEGER,
            "element_id": STRING,
        },
    },
    "Definition": obj(
        {
            "id": STRING,
            "key": STRING,
            "version": INTEGER,
            "name": nullable(STRING),
            "resource": STRING,
            "deployment_id": STRING,
            "executable": BOOLEAN,
            "deployed_at": TIME,
        }
    ),
    "DeployReport": obj(
        {
            "deployment_id": nullable(STRING),
            "name": STRING,
            "deployed_at": TIME,
            "definitions": {
                "type": "array",
                "items": obj(
                    {
                        "id": STRING,
                        "key": STRING,
                        "version": INTEGER,
                        "name": nullable(STRING),
                        "resource": STRING,
                        "new": BOOLEAN,
                        "executable": BOOLEAN,
                    }
                ),
            },
            "warnings": {"type": "array", "items": _PROBLEM_ITEM},
        }
    ),
    "Task": obj(_TASK, optional=("seconds_left",)),
    "TaskDetail": obj(
        {
            **_TASK,
            "form": nullable(
                obj(
                    {
                        "id": nullable(STRING),
                        "title": nullable(STRING),
                        "fields": {"type": "array", "items": _FORM_FIELD},
                    },
                    extra=True,
                )
            ),
        },
        optional=("seconds_left", "form"),
    ),
    "Instance": obj(_INSTANCE),
    "InstanceDetail": obj(
        {
            **_INSTANCE,
            "variables": JSON_OBJECT,
            "tasks": {"type": "array", "items": ref("Task")},
            "open_incidents": {"type": "array", "items": ref("Incident")},
        }
    ),
    "Incident": obj(
        {
            "id": STRING,
            "instance_id": STRING,
            "task_id": STRING,
            "element_id": STRING,
            "handler": STRING,
            "message": STRING,
            "attempts": INTEGER,
            "state": {"type": "string", "enum": ["open", "resolved"]},
            "created_at": TIME,
            "resolved_at": nullable(TIME),
            "resolved_by": nullable(STRING),
        }
    ),
    "HistoryEvent": obj(
        {
            "id": INTEGER,
            "seq": INTEGER,
            "type": STRING,
            "actor": STRING,
            "at": TIME,
            "instance_id": nullable(STRING),
            "business_key": nullable(STRING),
            "definition_id": nullable(STRING),
            "definition_version": nullable(INTEGER),
            "task_id": nullable(STRING),
            "element_id": nullable(STRING),
            "data": JSON_OBJECT,
            "hash": STRING,
        }
    ),
    "ChainVerification": obj(
        {
            "checked": INTEGER,
            "ok": BOOLEAN,
            "breaks": {
                "type": "array",
                "items": obj({"chain": STRING, "seq": INTEGER, "event_id": INTEGER, "reason": STRING}),
            },
        }
    ),
    "User": obj(
        {
            "id": STRING,
            "name": STRING,
            "display_name": nullable(STRING),
            "email": nullable(STRING),
            "roles": {"type": "array", "items": STRING},
            "active": BOOLEAN,
            "created_at": TIME,
            "updated_at": TIME,
        }
    ),
    "Role": obj({"name": STRING, "description": STRING, "builtin": BOOLEAN, "members": INTEGER}),
    "Token": obj(_TOKEN),
    "IssuedToken": obj({"token": {"type": "string", "description": "The secret; shown only once"}, **_TOKEN}),
    "Session": obj(
        {
            "user": STRING,
            "display_name": nullable(STRING),
            "roles": {"type": "array", "items": STRING},
            "csrf_token": {"type": "string", "description": "Send it as X-CSRF-Token with unsafe requests"},
        }
    ),
    "Me": obj(
        {
            "name": STRING,
            "display_name": nullable(STRING),
            "email": nullable(STRING),
            "roles": {"type": "array", "items": STRING},
            "authenticated_by": {"type": "string", "enum": ["session", "bearer", "basic"]},
        }
    ),
    "Alarm": obj(
        {
            "id": INTEGER,
            "stage": {"type": "string", "enum": ["reminder", "warning", "breach", "escalation"]},
            "task_id": STRING,
            "task_name": nullable(STRING),
            "instance_id": STRING,
            "business_key": nullable(STRING),
            "process_key": STRING,
            "element_id": STRING,
            "role": nullable(STRING),
            "assignee": nullable(STRING),
            "escalated_to": nullable(STRING),
            "notified": {"type": "array", "items": STRING, "description": "user:<name> and role:<name>"},
            "due_at": TIME,
            "raised_at": TIME,
            "acknowledged_at": nullable(TIME),
            "acknowledged_by": nullable(STRING),
            "open": BOOLEAN,
        }
    ),
    "Deadline": {
        "type": "object",
        "description": "A task's deadline; the working-time members appear when an SLA policy applies",
        "required": ["task_id", "state", "deadline_at", "stages", "pauses"],
        "properties": {
            "task_id": STRING,
            "state": nullable({"type": "string"}),
            "deadline_at": nullable(TIME),
            "seconds_until_deadline": nullable(INTEGER),
            "stages": {
                "type": "array",
                "items": obj(
                    {"stage": STRING, "at": TIME, "alarm_id": nullable(INTEGER), "raised_at": nullable(TIME)}
                ),
            },
            "pauses": {
                "type": "array",
                "items": obj({"reason": STRING, "from": TIME, "to": nullable(TIME), "by": nullable(STRING)}),
            },
        },
    },
    "Customer": obj(_CUSTOMER),
    "CustomerDetail": obj(
        {
            **_CUSTOMER,
            "products": {
                "type": "array",
                "items": obj(
                    {
                        "serial_number": STRING,
                        "model_code": STRING,
                        "sold_on": nullable(STRING),
                        "warranty_end": nullable(STRING),
                    }
                ),
            },
        }
    ),
    "Technician": obj(
        {
            "id": STRING,
            "name": STRING,
            "user_name": nullable(STRING),
            "phone": nullable(STRING),
            "base_city": STRING,
            "latitude": NUMBER,
            "longitude": NUMBER,
            "warehouse_code": nullable(STRING),
            "on_duty": BOOLEAN,
            "absent_until": nullable(STRING),
            "capacity": INTEGER,
            "active": BOOLEAN,
            "skills": {"type": "array", "items": STRING},
        }
    ),
    "Part": obj(
        {
            "code": STRING,
            "name": STRING,
            "unit_cost": nullable(MONEY),
            "total": INTEGER,
            "stock": {
                "type": "array",
                "items": obj({"warehouse": STRING, "quantity": INTEGER, "reorder_level": INTEGER}),
            },
        }
    ),
    "Movement": obj(
        {
            "id": INTEGER,
            "kind": {"type": "string", "enum": ["receive", "issue", "return", "transfer"]},
            "part_code": STRING,
            "quantity": INTEGER,
            "from_warehouse": nullable(STRING),
            "to_warehouse": nullable(STRING),
            "order_no": nullable(STRING),
            "unit_cost": nullable(MONEY),
            "reference": nullable(STRING),
            "at": TIME,
            "actor": STRING,
        }
    ),
    "StockChange": obj({"movement": ref("Movement"), "part": ref("Part")}),
    "LowStock": obj(
        {
            "id": INTEGER,
            "warehouse_code": STRING,
            "part_code": STRING,
            "quantity": INTEGER,
            "reorder_level": INTEGER,
            "raised_at": TIME,
            "cleared_at": nullable(TIME),
        }
    ),
    "Warehouse": obj(
        {
            "code": STRING,
            "name": STRING,
            "city": STRING,
            "latitude": nullable(NUMBER),
            "longitude": nullable(NUMBER),
        }
    ),
    "CustomerPage": page_of("Customer"),
    "TechnicianPage": page_of("Technician"),
    "PartPage": page_of("Part"),
    "MovementPage": page_of("Movement"),
    "AlarmPage": page_of("Alarm"),
    "DefinitionPage": page_of("Definition"),
    "InstancePage": page_of("Instance"),
    "TaskPage": page_of("Task"),
    "HistoryPage": page_of("HistoryEvent"),
    "IncidentPage": page_of("Incident"),
    "UserPage": page_of("User"),
}
