"""Signing in: bearer tokens for API clients, sessions for pages."""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from engine.errors import Unauthenticated

from ..auth import (
    client_address,
    csrf_token,
    current_account,
    current_actor,
    login_session,
    logout_session,
    users,
)
from ..openapi import Param, Reply, operation
from .common import created, no_content
from .params import json_body, query_args
from .schemas import BOOLEAN, obj, ref, secret, text

bp = Blueprint("tokens", __name__)
TAG = "Authentication"
_SIGN_IN = {"name": text(64, 0), "password": secret()}


@bp.post("/tokens")
@operation(
    "Issue a bearer token for a user name and password",
    tag=TAG,
    description="The token is shown only in this response; the server keeps only its hash. Repeated "
    "failed attempts are slowed down (429 with Retry-After).",
    body=obj(
        {
            **_SIGN_IN,
            "label": text(),
            "expires_in_days": {"type": "integer", "minimum": 1, "maximum": 3650, "default": 90},
        },
        optional=("label", "expires_in_days"),
    ),
    responses={
        201: Reply(
            "The token (send it as 'Authorization: Bearer <token>') and its record",
            ref("IssuedToken"),
        )
    },
    errors=(401, 403, 429),
    is_public=True,
)
def issue() -> ResponseReturnValue:
    body = json_body()
    token, record = users().issue_token(
        body["name"],
        body["password"],
        label=body.get("label"),
        expires_in_days=body.get("expires_in_days"),
        client=client_address(),
    )
    return created({"token": token, **record}, f"{request.script_root}/api/v1/tokens")


@bp.get("/tokens")
@operation(
    "List my tokens (auditors and admins: anyone's, or everyone's with user=*)",
    tag=TAG,
    query=(
        Param("user", text(64), "Whose tokens; '*' for everyone's (default: mine)"),
        Param("include_revoked", BOOLEAN, "Also list revoked tokens"),
    ),
    responses={200: Reply("The tokens (never the secrets)", {"type": "array", "items": ref("Token")})},
    errors=(403,),
)
def list_tokens() -> ResponseReturnValue:
    args = query_args()
    actor = current_actor()
    user = args["user"] or actor.name
    found = users().tokens(
        actor, None if user == "*" else user, include_revoked=bool(args["include_revoked"])
    )
    return jsonify(found)


@bp.delete("/tokens/<token_id>")
@operation(
    "Revoke a token (my own; admins: anyone's)",
    tag=TAG,
    responses={200: Reply("The revoked token", ref("Token"))},
    errors=(403, 404),
)
def revoke(token_id: str) -> ResponseReturnValue:
    return jsonify(users().revoke_token(current_actor(), token_id))


def _session_body() -> dict[str, object]:
    account = current_account()
    if account is None:
        raise Unauthenticated("Sign in first")
    return {
        "user": account.name,
        "display_name": account.display_name,
        "roles": sorted(account.roles),
        "csrf_token": csrf_token(),
    }


@bp.post("/session")
@operation(
    "Sign in for pages: sets the session cookie and returns the CSRF token",
    tag=TAG,
    body=obj(_SIGN_IN),
    responses={200: Reply("Signed in", ref("Session"))},
    errors=(401, 403, 429),
    is_public=True,
)
def sign_in() -> ResponseReturnValue:
    body = json_body()
    login_session(body["name"], body["password"])
    return jsonify(_session_body())


@bp.get("/session")
@operation(
    "The current session and its CSRF token", tag=TAG, responses={200: Reply("Signed in", ref("Session"))}
)
def show_session() -> ResponseReturnValue:
    return jsonify(_session_body())


@bp.delete("/session")
@operation("Sign out of the session", tag=TAG, responses={204: Reply("Signed out")})
def sign_out() -> ResponseReturnValue:
    current_actor()
    logout_session()
    return no_content()
