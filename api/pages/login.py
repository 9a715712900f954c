"""Signing in and out with a browser session (``api.auth``); the sign-in form is CSRF-protected too,
so no other site can sign a browser in under an account of its choosing."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from engine.errors import TooManyAttempts, Unauthenticated

from ..auth import check_csrf, current_account, login_session, logout_session, public
from .access import home_endpoint
from .common import safe_next

bp = Blueprint("login", __name__)
# Longer than any real user name or password; a bigger field is not a sign-in attempt.
MAX_FIELD = 1024


@bp.get("/login")
@public
def login() -> ResponseReturnValue:
    account = current_account()
    if account is not None:
        return redirect(safe_next(request.args.get("next"), url_for(home_endpoint(account.actor))))
    return render_template("login.html", next=request.args.get("next", ""), name="", error=None)


@bp.post("/login")
@public
def sign_in() -> ResponseReturnValue:
    check_csrf()
    name = request.form.get("name", "").strip()[:MAX_FIELD]
    password = request.form.get("password", "")[:MAX_FIELD]
    target = request.form.get("next", "")
    try:
        account = login_session(name, password)
    except (Unauthenticated, TooManyAttempts) as exc:
        status = 429 if isinstance(exc, TooManyAttempts) else 401
        page = render_template("login.html", next=target, name=name, error=exc.message)
        return page, status
    return redirect(safe_next(target, url_for(home_endpoint(account.actor))), code=303)


@bp.post("/logout")
def sign_out() -> ResponseReturnValue:
    logout_session()
    return redirect(url_for("pages.login.login"), code=303)
