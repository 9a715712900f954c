"""Who is calling: a session cookie (pages; CSRF-protected), a bearer token or HTTP Basic
(API clients, Camunda clients).

Every blueprint that needs a signed-in caller calls ``protect(bp)``; a view that must stay
open (signing in, the OpenAPI document) is marked ``@public``. Views then ask
``current_actor()`` (an engine ``Actor``) or ``current_account()``.

- An ``Authorization`` header decides alone: a wrong one is refused, never "fixed" by a
  cookie, so an API client always learns that its credentials are bad.
- A session carries a random session id, the user's ``auth_version`` (a password change or
  disabling the user ends every session) and a CSRF token that every unsafe request made
  with the cookie must echo (header ``X-CSRF-Token`` or form field ``csrf_token``). The
  server keeps the session ids (the user directory): signing out deletes the id, so a copy
  of the cookie replays nothing, and a session ends after ``SESSION_LIFETIME`` whatever the
  cookie says.
- Failed logins are slowed down by the user directory; a 429 carries ``Retry-After`` and a
  401 carries the blueprint's ``WWW-Authenticate`` challenge.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar, cast

from flask import Blueprint, Flask, Response, current_app, g, request, session

from engine.actors import Actor
from engine.errors import Forbidden, TooManyAttempts, Unauthenticated
from engine.users import Account, UserDirectory

F = TypeVar("F", bound=Callable[..., Any])

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
DEFAULT_CHALLENGE = 'Bearer realm="crm-engine"'
# A working day and then some: staff sign in once per shift.
SESSION_LIFETIME = timedelta(hours=12)

_UNSET = object()


def init_auth(app: Flask) -> None:
    """Create the user directory on the app's engine and set safe session-cookie defaults."""
    engine = app.extensions["engine"]
    if "users" not in app.extensions:
        hasher = app.config.get("PASSWORD_HASHER")
        app.extensions["users"] = UserDirectory(engine.db, engine.clock, hasher=hasher)
    # Flask's defaults are None and 31 days; unless configured, use safe ones.
    if app.config.get("SESSION_COOKIE_SAMESITE") is None:
        app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    if app.config.get("PERMANENT_SESSION_LIFETIME") == timedelta(days=31):
        app.config["PERMANENT_SESSION_LIFETIME"] = SESSION_LIFETIME
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.after_request(_auth_headers)


def users() -> UserDirectory:
    directory: UserDirectory = current_app.extensions["users"]
    return directory


def client_address() -> str | None:
    """The caller's address for login throttling (put ProxyFix in front when behind a proxy)."""
    return request.remote_addr


# -- who is calling -----------------------------------------------------------------------------


def current_account() -> Account | None:
    """The signed-in user of this request, or None; credentials are checked once per request."""
    found = g.get("_account", _UNSET)
    if found is _UNSET:
        found = _authenticate()
        g._account = found
    return cast(Account | None, found)


def current_actor() -> Actor:
    """The engine actor for this request; refuses (401) when nobody is signed in."""
    account = current_account()
    if account is None:
        raise Unauthenticated("Sign in: send a bearer token, HTTP Basic credentials or a session cookie")
    return account.actor


def _authenticate() -> Account | None:
    header = request.headers.get("Authorization")
    if header is not None:
        return _from_header(header)
    return _from_session()


def authentication_method() -> str | None:
    """How this request's caller signed in: "bearer", "basic", "session", or None."""
    return g.get("_auth_method") if current_account() is not None else None


def _from_header(header: str) -> Account:
    auth = request.authorization
    if auth is None:
        raise Unauthenticated("Malformed Authorization header; use 'Bearer <token>' or 'Basic <base64>'")
    if auth.type == "bearer":
        account = users().account_for_token(auth.token or "")
        if account is None:
            raise Unauthenticated("The bearer token is unknown, expired or revoked")
        g._auth_method = "bearer"
        return account
    if auth.type == "basic":
        try:
            account = users().authenticate(auth.username or "", auth.password or "", client_address())
        except TooManyAttempts as exc:
            g.retry_after = exc.retry_after
            raise
        g._auth_method = "basic"
        return account
    raise Unauthenticated(f"Unsupported authorization scheme {auth.type!r}; use Bearer or Basic")


def _from_session() -> Account | None:
    session_id = session.get("sid")
    if not isinstance(session_id, str):
        return None
    account = users().account_for_session(session_id)
    if account is None or not account.active or account.auth_version != session.get("av"):
        session.pop("sid", None)
        session.pop("av", None)
        return None
    if request.method not in SAFE_METHODS:
        check_csrf()
    g._auth_method = "session"
    return account


# -- sessions and CSRF ----------------------------------------------------------------------------


def csrf_token() -> str:
    """This browser session's CSRF token (created on first use; also before signing in)."""
    token = session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def check_csrf() -> None:
    """Refuse (403) an unsafe request that does not echo the session's CSRF token; signed-in
    requests are checked on their own, a sign-in form calls this before anyone is signed in."""
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        sent = request.form.get(CSRF_FIELD)
    expected = session.get("csrf")
    if not sent or not isinstance(expected, str) or not hmac.compare_digest(sent, expected):
        raise Forbidden(
            f"Missing or wrong CSRF token: send the session's token in the {CSRF_HEADER} header "
            f"or the {CSRF_FIELD} form field"
        )


def login_session(name: str, password: str) -> Account:
    """Check the password and start a browser session for the user (slowed down on failures)."""
    try:
        account = users().authenticate(name, password, client_address())
    except TooManyAttempts as exc:
        g.retry_after = exc.retry_after
        raise
    _end_server_session()
    session.clear()
    session["sid"] = users().start_session(account, current_app.permanent_session_lifetime)
    session["av"] = account.auth_version
    # A fresh CSRF token per sign-in: one seen before signing in is worth nothing after.
    session["csrf"] = secrets.token_urlsafe(32)
    session.permanent = True
    g._account = account
    g._auth_method = "session"
    return account


def logout_session() -> None:
    _end_server_session()
    session.clear()
    g._account = None


def _end_server_session() -> None:
    session_id = session.get("sid")
    if isinstance(session_id, str):
        users().end_session(session_id)


# -- protecting blueprints --------------------------------------------------------------------------


def public(view: F) -> F:
    """Mark a view as open to callers that have not signed in."""
    view._public = True  # type: ignore[attr-defined]
    return view


def protect(bp: Blueprint, *, challenge: str = DEFAULT_CHALLENGE) -> None:
    """Every view of ``bp`` except ``@public`` ones needs a signed-in caller (else 401)."""

    @bp.before_request
    def _require_sign_in() -> None:
        g.auth_challenge = challenge
        view = current_app.view_functions.get(request.endpoint or "")
        if view is not None and getattr(view, "_public", False):
            return
        current_actor()


def _auth_headers(response: Response) -> Response:
    if response.status_code == 401 and "WWW-Authenticate" not in response.headers:
        response.headers["WWW-Authenticate"] = g.get("auth_challenge", DEFAULT_CHALLENGE)
    if response.status_code == 429 and "Retry-After" not in response.headers and g.get("retry_after"):
        response.headers["Retry-After"] = str(g.retry_after)
    return response
