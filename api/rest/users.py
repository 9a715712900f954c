"""People: users and their roles (admins change, auditors read), and the caller's own account."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from engine.errors import Unauthenticated
from engine.users import USER_SORT

from ..auth import authentication_method, current_account, current_actor, users
from ..openapi import Param, Reply, operation
from .common import created, no_content
from .params import json_body, page_request, paging, query_args
from .schemas import BOOLEAN, ROLE, nullable, obj, ref, secret, text

bp = Blueprint("users", __name__)
TAG = "Users"
SORT_KEYS = list(USER_SORT)
PASSWORD = secret(8)
ROLES = {"type": "array", "items": ROLE, "maxItems": 64}


@bp.get("/users")
@operation(
    "List users (auditors and admins)",
    tag=TAG,
    query=(
        Param("role", ROLE, "Only holders of this role"),
        Param("active", BOOLEAN, "Only active (true) or disabled (false) users"),
        *paging(SORT_KEYS, "name"),
    ),
    responses={200: Reply("A page of users", ref("UserPage"))},
    errors=(403,),
)
def list_users() -> ResponseReturnValue:
    args = query_args()
    page = users().users(
        current_actor(), page_request(args, SORT_KEYS), role=args["role"], active=args["active"]
    )
    return jsonify(page.to_dict())


@bp.post("/users")
@operation(
    "Create a user (admins)",
    tag=TAG,
    body=obj(
        {
            "name": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$"},
            "password": PASSWORD,
            "roles": ROLES,
            "display_name": nullable(text()),
            "email": nullable(text()),
        },
        optional=("display_name", "email"),
    ),
    responses={201: Reply("The new user", ref("User"))},
    errors=(403, 409),
)
def create_user() -> ResponseReturnValue:
    body = json_body()
    user = users().create_user(
        current_actor(),
        body["name"],
        body["password"],
        body["roles"],
        display_name=body.get("display_name"),
        email=body.get("email"),
    )
    return created(user, f"{request.script_root}/api/v1/users/{user['name']}")


@bp.get("/users/<name>")
@operation(
    "One user (themselves, auditors and admins)",
    tag=TAG,
    responses={200: Reply("The user", ref("User"))},
    errors=(403, 404),
)
def show_user(name: str) -> ResponseReturnValue:
    return jsonify(users().user(current_actor(), name))


@bp.patch("/users/<name>")
@operation(
    "Change a user: display name, e-mail, roles, password, or disable them (admins)",
    tag=TAG,
    description="Only the members given change. Disabling a user or setting their password ends "
    "their sessions. Every change is recorded in the admin history chain.",
    body=obj(
        {
            "display_name": nullable(text()),
            "email": nullable(text()),
            "active": BOOLEAN,
            "roles": ROLES,
            "password": PASSWORD,
        },
        optional=("display_name", "email", "active", "roles", "password"),
    ),
    responses={200: Reply("The user as changed", ref("User"))},
    errors=(403, 404, 409),
)
def update_user(name: str) -> ResponseReturnValue:
    body: dict[str, Any] = json_body()
    return jsonify(users().update_user(current_actor(), name, **body))


@bp.get("/roles")
@operation(
    "List roles", tag=TAG, responses={200: Reply("Every role", {"type": "array", "items": ref("Role")})}
)
def list_roles() -> ResponseReturnValue:
    current_actor()
    return jsonify(users().roles())


@bp.post("/roles")
@operation(
    "Create a role, e.g. for a new lane (admins)",
    tag=TAG,
    body=obj({"name": ROLE, "description": text(2000, 0)}, optional=("description",)),
    responses={201: Reply("The new role", ref("Role"))},
    errors=(403, 409),
)
def create_role() -> ResponseReturnValue:
    body = json_body()
    role = users().create_role(current_actor(), body["name"], body.get("description", ""))
    return created(role, f"{request.script_root}/api/v1/roles")


@bp.delete("/roles/<name>")
@operation(
    "Delete a role nobody holds (admins; built-in roles stay)",
    tag=TAG,
    responses={204: Reply("Deleted")},
    errors=(403, 404, 409),
)
def delete_role(name: str) -> ResponseReturnValue:
    users().delete_role(current_actor(), name)
    return no_content()


@bp.get("/me")
@operation("Who I am signed in as", tag=TAG, responses={200: Reply("The caller", ref("Me"))})
def me() -> ResponseReturnValue:
    account = current_account()
    if account is None:
        raise Unauthenticated("Sign in first")
    return jsonify(
        name=account.name,
        display_name=account.display_name,
        email=account.email,
        roles=sorted(account.roles),
        authenticated_by=authentication_method(),
    )


@bp.post("/me/password")
@operation(
    "Change my password (ends my other sessions)",
    tag=TAG,
    body=obj({"old_password": secret(), "new_password": PASSWORD}),
    responses={204: Reply("Changed")},
    errors=(403,),
)
def change_password() -> ResponseReturnValue:
    body = json_body()
    account = current_account()
    if account is None:
        raise Unauthenticated("Sign in first")
    users().change_own_password(account, body["old_password"], body["new_password"])
    return no_content()
