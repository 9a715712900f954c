"""Users, roles and API tokens: who may sign in, with which roles; every change in the history.

Passwords are hashed with Argon2id (argon2-cffi's defaults, RFC 9106's second
recommendation); API tokens are random 256-bit strings stored only as their SHA-256, which
is enough for a secret that cannot be guessed and keeps each request's check cheap.
Repeated failed logins are slowed down per user name and per client address with an
exponential wait, refused with 429 (the server never sleeps on a worker).

Every change to users, roles and tokens is appended to the ``admin`` history chain with
who made it; passwords and tokens never appear in the history.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, bindparam, delete, func, insert, or_, select, update

from .actors import ADMIN, Actor, require_admin, require_may_audit
from .clock import Clock, as_utc
from .db import Database
from .errors import (
    Conflict,
    FieldError,
    Forbidden,
    NotFound,
    TooManyAttempts,
    Unauthenticated,
    ValidationError,
)
from .history import NewEvent, append_to_named_chain
from .models_users import ApiToken, LoginThrottle, Role, User, UserRole, UserSession
from .paging import Page, PageRequest, SortKey, fetch_page
from .sql import Prepared

ADMIN_CHAIN = "admin"
# No commas: names are stored comma-joined as a task's candidate users.
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
ROLE_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
MIN_PASSWORD = 8
MAX_PASSWORD = 1024
TOKEN_PREFIX = "crm_"
DEFAULT_TOKEN_DAYS = 90
MAX_TOKEN_DAYS = 3650
WRONG_CREDENTIALS = "Invalid user name or password"

USER_SORT = {"name": User.name, "created_at": User.created_at, "display_name": User.display_name}
_UNSET: Any = object()


@dataclass(frozen=True)
class Account:
    """A signed-in user as the API sees them: identity, roles, and the session generation."""

    id: str
    name: str
    display_name: str | None
    email: str | None
    roles: frozenset[str]
    active: bool
    auth_version: int

    @property
    def actor(self) -> Actor:
        return Actor.person(self.name, self.roles)


@dataclass(frozen=True)
class ThrottlePolicy:
    """After ``free_failures`` failures in a row, wait base·2ⁿ seconds (capped) before the next try."""

    free_failures: int = 3
    base_delay: float = 1.0
    max_delay: float = 900.0
    forget_after: timedelta = timedelta(hours=1)

    def delay(self, failures: int) -> float:
        if failures < self.free_failures:
            return 0.0
        return float(min(self.base_delay * 2 ** (failures - self.free_failures), self.max_delay))


class VerifiedCredentials:
    """Recently verified name/password pairs, so HTTP Basic (sent with every request) does not
    cost an Argon2 verification per request.

    Entries are keyed by an HMAC under a per-process secret (the password is never kept) and
    hold the password hash they were verified against: a changed password misses the cache.
    """

    def __init__(self, capacity: int = 4096, ttl: float = 300.0) -> None:
        self._secret = os.urandom(32)
        self._entries: OrderedDict[bytes, tuple[str, float]] = OrderedDict()
        self._lock = threading.Lock()
        self.capacity = capacity
        self.ttl = ttl

    def _key(self, name: str, password: str) -> bytes:
        return hmac.new(self._secret, f"{name}\0{password}".encode(), hashlib.sha256).digest()

    def holds(self, name: str, password: str, password_hash: str) -> bool:
        key = self._key(name, password)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return False
            if entry[0] != password_hash or entry[1] < time.monotonic():
                del self._entries[key]
                return False
            return True

    def add(self, name: str, password: str, password_hash: str) -> None:
        key = self._key(name, password)
        with self._lock:
            self._entries[key] = (password_hash, time.monotonic() + self.ttl)
            self._entries.move_to_end(key)
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def check_name(name: Any, field: str = "name") -> str:
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise ValidationError(
            f"Invalid user name {name!r}",
            [FieldError(field, "1 to 64 letters, digits or . _ @ -, starting with a letter or digit")],
        )
    return name


def check_role_name(role: Any, field: str = "roles") -> str:
    if not isinstance(role, str) or not ROLE_PATTERN.match(role):
        raise ValidationError(
            f"Invalid role name {role!r}",
            [FieldError(field, f"{role!r}: lower-case letters, digits and _, starting with a letter")],
        )
    return role


def check_password(password: Any, field: str = "password") -> str:
    if not isinstance(password, str) or not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise ValidationError(
            "Unacceptable password",
            [FieldError(field, f"must be text of {MIN_PASSWORD} to {MAX_PASSWORD} characters")],
        )
    return password


def _optional_text(value: Any, field: str, limit: int = 255) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise ValidationError(
            f"Invalid {field}", [FieldError(field, f"must be text of at most {limit} characters")]
        )
    return value.strip() or None


def _iso(value: datetime | None) -> str | None:
    return as_utc(value).isoformat() if value is not None else None


def user_dict(row: Any, roles: Iterable[str]) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "display_name": row.display_name,
        "email": row.email,
        "roles": sorted(roles),
        "active": row.active,
        "created_at": _iso(row.created_at),
        "updated_at": _iso(row.updated_at),
    }


def token_dict(row: Any, user_name: str) -> dict[str, Any]:
    return {
        "id": row.id,
        "user": user_name,
        "label": row.label,
        "prefix": row.prefix,
        "created_at": _iso(row.created_at),
        "expires_at": _iso(row.expires_at),
        "revoked_at": _iso(row.revoked_at),
        "revoked_by": row.revoked_by,
    }


def role_dict(row: Any, members: int) -> dict[str, Any]:
    return {"name": row.name, "description": row.description, "builtin": row.builtin, "members": members}


_ACCOUNT_COLUMNS = (
    User.id,
    User.name,
    User.display_name,
    User.email,
    User.active,
    User.auth_version,
    User.password_hash,
    UserRole.role,
)
# Every request of a signed-in caller runs one of these: prepared once, one row per role.
_WITH_ROLES = select(*_ACCOUNT_COLUMNS).outerjoin(UserRole, UserRole.user_id == User.id)
_ACCOUNT_BY_NAME = Prepared(_WITH_ROLES.where(User.name == bindparam("name")))
_ACCOUNT_BY_TOKEN = Prepared(
    _WITH_ROLES.join(ApiToken, ApiToken.user_id == User.id).where(
        ApiToken.token_hash == bindparam("token_hash"),
        ApiToken.revoked_at.is_(None),
        or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > bindparam("now")),
        User.active.is_(True),
    )
)
_ACCOUNT_BY_SESSION = Prepared(
    _WITH_ROLES.join(UserSession, UserSession.user_id == User.id).where(
        UserSession.id_hash == bindparam("id_hash"),
        UserSession.expires_at > bindparam("now"),
    )
)


def _account(rows: list[tuple[Any, ...]]) -> tuple[Account, str] | None:
    """The account (with its roles) and password hash in rows of ``_ACCOUNT_COLUMNS``."""
    if not rows:
        return None
    user_id, name, display_name, email, active, auth_version, password_hash, _role = rows[0]
    roles = frozenset(row[-1] for row in rows if row[-1] is not None)
    return Account(user_id, name, display_name, email, roles, bool(active), int(auth_version)), password_hash


class UserDirectory:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        hasher: PasswordHasher | None = None,
        user_throttle: ThrottlePolicy | None = None,
        client_throttle: ThrottlePolicy | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.hasher = hasher or PasswordHasher()
        self.user_throttle = user_throttle or ThrottlePolicy()
        # An address may mistype more often (a shared office NAT) but not spray guesses forever.
        self.client_throttle = client_throttle or ThrottlePolicy(free_failures=20)
        self.verified = VerifiedCredentials()
        # Verified against when the user does not exist, so timing does not reveal which names do.
        self._dummy_hash = self.hasher.hash(secrets.token_urlsafe(16))

    # -- accounts (what authentication needs) ------------------------------------------------

    def _found(self, statement: Prepared, values: dict[str, Any]) -> tuple[Account, str] | None:
        with self.db.transaction(write=False) as conn:
            return _account(statement.all(conn, values))

    def account_by_name(self, name: str) -> Account | None:
        found = self._found(_ACCOUNT_BY_NAME, {"name": name})
        return found[0] if found else None

    def account_for_token(self, token: str) -> Account | None:
        """The active user a valid (unrevoked, unexpired) token belongs to, else None."""
        if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        found = self._found(_ACCOUNT_BY_TOKEN, {"token_hash": token_digest(token), "now": self.clock.now()})
        return found[0] if found else None

    def account_for_session(self, session_id: str) -> Account | None:
        """The user a live (not ended, not expired) browser session belongs to, else None."""
        if len(session_id) > 200:
            return None
        values = {"id_hash": token_digest(session_id), "now": self.clock.now()}
        found = self._found(_ACCOUNT_BY_SESSION, values)
        return found[0] if found else None

    # -- browser sessions --------------------------------------------------------------------

    def start_session(self, account: Account, lifetime: timedelta) -> str:
        """A new browser session of `lifetime` for a signed-in user: the random id its cookie carries.

        Only the id's SHA-256 is stored. Sessions that have expired are removed on the way.
        """
        session_id = secrets.token_urlsafe(32)
        now = self.clock.now()
        with self.db.transaction() as conn:
            conn.execute(delete(UserSession).where(UserSession.expires_at <= now))
            conn.execute(
                insert(UserSession).values(
                    id_hash=token_digest(session_id),
                    user_id=account.id,
                    created_at=now,
                    expires_at=now + lifetime,
                )
            )
        return session_id

    def end_session(self, session_id: str) -> None:
        """End a browser session: its cookie, and every copy of it, no longer signs anyone in."""
        with self.db.transaction() as conn:
            conn.execute(delete(UserSession).where(UserSession.id_hash == token_digest(session_id)))

    # -- signing in --------------------------------------------------------------------------

    def authenticate(self, name: str, password: str, client: str | None = None) -> Account:
        """Check a name and password; slow down repeated failures; never say which one was wrong."""
        if not isinstance(name, str) or not isinstance(password, str) or len(password) > MAX_PASSWORD:
            raise Unauthenticated(WRONG_CREDENTIALS)
        if not NAME_PATTERN.match(name):
            # No such user can exist; and text like NUL must not reach the database.
            raise Unauthenticated(WRONG_CREDENTIALS)
        keys = self._throttle_keys(name, client)
        now = self.clock.now()
        with self.db.transaction(write=False) as conn:
            found = _account(_ACCOUNT_BY_NAME.all(conn, {"name": name}))
            throttles = {
                row.key: row for row in conn.execute(select(LoginThrottle).where(LoginThrottle.key.in_(keys)))
            }
        account, stored_hash = found if found else (None, None)
        # The throttle comes first, even for credentials in the cache: otherwise a blocked
        # guesser would learn the right password from the cache at full speed.
        self._refuse_if_throttled(throttles, now)
        if account is not None and stored_hash and self.verified.holds(name, password, stored_hash):
            return self._require_active(account)
        if not self._verify(stored_hash, password):
            self._record_failure(keys)
            raise Unauthenticated(WRONG_CREDENTIALS)
        assert account is not None and stored_hash is not None
        if throttles:
            with self.db.transaction() as conn:
                conn.execute(delete(LoginThrottle).where(LoginThrottle.key.in_(keys)))
        if self.hasher.check_needs_rehash(stored_hash):
            stored_hash = self.hasher.hash(password)
            with self.db.transaction() as conn:
                conn.execute(update(User).where(User.id == account.id).values(password_hash=stored_hash))
        self.verified.add(name, password, stored_hash)
        return self._require_active(account)

    @staticmethod
    def _require_active(account: Account) -> Account:
        if not account.active:
            raise Forbidden(f"User {account.name} is disabled; ask an admin")
        return account

    def _verify(self, stored_hash: str | None, password: str) -> bool:
        try:
            verified = bool(self.hasher.verify(stored_hash or self._dummy_hash, password))
            return verified and stored_hash is not None
        except (VerificationError, InvalidHashError):
            return False

    @staticmethod
    def _throttle_keys(name: str, client: str | None) -> list[str]:
        keys = [f"user:{name.lower()[:300]}"]
        if client:
            keys.append(f"ip:{client[:300]}")
        return keys

    def _policy(self, key: str) -> ThrottlePolicy:
        return self.user_throttle if key.startswith("user:") else self.client_throttle

    def _refuse_if_throttled(self, throttles: Mapping[str, Any], now: datetime) -> None:
        waits = [
            (as_utc(row.blocked_until) - now).total_seconds()
            for row in throttles.values()
            if row.blocked_until is not None and as_utc(row.blocked_until) > now
        ]
        if waits:
            retry_after = max(1, int(max(waits) + 0.999))
            raise TooManyAttempts(
                f"Too many failed logins; try again in {retry_after} second(s)", retry_after
            )

    def _record_failure(self, keys: list[str]) -> None:
        now = self.clock.now()
        with self.db.transaction() as conn:
            for key in keys:
                policy = self._policy(key)
                row = conn.execute(
                    select(LoginThrottle).where(LoginThrottle.key == key).with_for_update()
                ).first()
                if row is None or as_utc(row.last_failure_at) < now - policy.forget_after:
                    failures = 1
                else:
                    failures = row.failures + 1
                delay = policy.delay(failures)
                values = {
                    "failures": failures,
                    "last_failure_at": now,
                    "blocked_until": now + timedelta(seconds=delay) if delay else None,
                }
                if row is None:
                    conn.execute(insert(LoginThrottle).values(key=key, **values))
                else:
                    conn.execute(update(LoginThrottle).where(LoginThrottle.key == key).values(**values))

    # -- users -------------------------------------------------------------------------------

    def _record(self, conn: Connection, actor: Actor, event: str, data: dict[str, Any]) -> None:
        append_to_named_chain(conn, ADMIN_CHAIN, [NewEvent(event, actor.name, data)], self.clock.now(), {})

    def _check_roles(self, conn: Connection, roles: Any) -> list[str]:
        if not isinstance(roles, list | tuple | set | frozenset):
            raise ValidationError(
                "Roles must be a list of role names", [FieldError("roles", "must be a list")]
            )
        names = sorted({check_role_name(r) for r in roles})
        known = set(conn.execute(select(Role.name).where(Role.name.in_(names))).scalars())
        unknown = [r for r in names if r not in known]
        if unknown:
            raise ValidationError(
                f"Unknown role(s): {', '.join(unknown)}",
                [FieldError("roles", f"{r!r} is not a role; an admin creates it first") for r in unknown],
            )
        return names

    def create_user(
        self,
        actor: Actor,
        name: Any,
        password: Any,
        roles: Any,
        *,
        display_name: Any = None,
        email: Any = None,
    ) -> dict[str, Any]:
        require_admin(actor, "create users")
        check_name(name)
        check_password(password)
        display = _optional_text(display_name, "display_name")
        mail = _optional_text(email, "email")
        password_hash = self.hasher.hash(password)
        now = self.clock.now()
        with self.db.transaction() as conn:
            role_names = self._check_roles(conn, roles)
            if conn.execute(select(User.id).where(func.lower(User.name) == name.lower())).first():
                raise Conflict(f"A user named {name!r} already exists")
            user_id = str(uuid.uuid4())
            conn.execute(
                insert(User).values(
                    id=user_id,
                    name=name,
                    display_name=display,
                    email=mail,
                    password_hash=password_hash,
                    active=True,
                    auth_version=1,
                    created_at=now,
                    updated_at=now,
                )
            )
            if role_names:
                conn.execute(insert(UserRole), [{"user_id": user_id, "role": r} for r in role_names])
            self._record(
                conn,
                actor,
                "user_created",
                {"user": name, "display_name": display, "email": mail, "roles": role_names},
            )
            return self._user(conn, name)

    def _user_row(self, conn: Connection, name: str, *, lock: bool = False) -> Any:
        query = select(User).where(User.name == name)
        row = conn.execute(query.with_for_update() if lock else query).first()
        if row is None:
            raise NotFound(f"No user named {name!r}")
        return row

    def _roles_of(self, conn: Connection, user_id: str) -> list[str]:
        return sorted(conn.execute(select(UserRole.role).where(UserRole.user_id == user_id)).scalars())

    def _user(self, conn: Connection, name: str) -> dict[str, Any]:
        row = self._user_row(conn, name)
        return user_dict(row, self._roles_of(conn, row.id))

    def user(self, actor: Actor, name: str) -> dict[str, Any]:
        if actor.name != name:
            require_may_audit(actor, "see other users")
        with self.db.transaction(write=False) as conn:
            return self._user(conn, name)

    def users(
        self, actor: Actor, page: PageRequest, *, role: str | None = None, active: bool | None = None
    ) -> Page:
        require_may_audit(actor, "list users")
        query = select(User)
        if role is not None:
            query = query.where(User.id.in_(select(UserRole.user_id).where(UserRole.role == role)))
        if active is not None:
            query = query.where(User.active.is_(active))
        with self.db.transaction(write=False) as conn:
            result = fetch_page(
                conn, query, page, USER_SORT, (SortKey("name"),), User.id, lambda r: user_dict(r, [])
            )
            by_id = {item["id"]: item for item in result.items}
            if by_id:
                for user_id, role_name in conn.execute(
                    select(UserRole.user_id, UserRole.role)
                    .where(UserRole.user_id.in_(list(by_id)))
                    .order_by(UserRole.role)
                ):
                    by_id[user_id]["roles"].append(role_name)
        return result

    def update_user(
        self,
        actor: Actor,
        name: str,
        *,
        display_name: Any = _UNSET,
        email: Any = _UNSET,
        active: Any = _UNSET,
        roles: Any = _UNSET,
        password: Any = _UNSET,
    ) -> dict[str, Any]:
        """Change what is given; record each change (from → to; a password only as "changed")."""
        require_admin(actor, "change users")
        if active is not _UNSET and not isinstance(active, bool):
            raise ValidationError("Invalid active flag", [FieldError("active", "must be true or false")])
        new_hash = self.hasher.hash(check_password(password)) if password is not _UNSET else None
        now = self.clock.now()
        with self.db.transaction() as conn:
            row = self._user_row(conn, name, lock=True)
            old_roles = self._roles_of(conn, row.id)
            values: dict[str, Any] = {}
            changes: dict[str, Any] = {}
            for field, value in (("display_name", display_name), ("email", email)):
                if value is not _UNSET:
                    cleaned = _optional_text(value, field)
                    if cleaned != getattr(row, field):
                        values[field] = cleaned
                        changes[field] = {"from": getattr(row, field), "to": cleaned}
            if active is not _UNSET and active != row.active:
                values["active"] = active
                changes["active"] = {"from": row.active, "to": active}
            if new_hash is not None:
                values["password_hash"] = new_hash
                changes["password"] = "changed"
            if "active" in values or new_hash is not None:
                # Signs out every session of this user.
                values["auth_version"] = row.auth_version + 1
            new_roles = old_roles if roles is _UNSET else self._check_roles(conn, roles)
            if new_roles != old_roles:
                changes["roles"] = {"from": old_roles, "to": new_roles}
                conn.execute(delete(UserRole).where(UserRole.user_id == row.id))
                if new_roles:
                    conn.execute(insert(UserRole), [{"user_id": row.id, "role": r} for r in new_roles])
            if not changes:
                return user_dict(row, old_roles)
            values["updated_at"] = now
            conn.execute(update(User).where(User.id == row.id).values(**values))
            if ADMIN in old_roles and row.active:
                self._require_an_admin_remains(conn, name)
            self._record(conn, actor, "user_updated", {"user": name, "changes": changes})
            return self._user(conn, name)

    @staticmethod
    def _require_an_admin_remains(conn: Connection, changed: str) -> None:
        """Nobody could manage users any more (short of the command line); refuse instead."""
        admins = conn.execute(
            select(func.count())
            .select_from(User)
            .join(UserRole, UserRole.user_id == User.id)
            .where(UserRole.role == ADMIN, User.active.is_(True))
        ).scalar_one()
        if not admins:
            raise Conflict(
                f"This change to {changed} would leave no active admin; "
                "give another user the admin role first"
            )

    def change_own_password(self, account: Account, old: Any, new: Any) -> None:
        """A user changes their own password, proving they know the current one."""
        check_password(new, "new_password")
        if not isinstance(old, str):
            raise ValidationError("Give the current password", [FieldError("old_password", "required")])
        with self.db.transaction(write=False) as conn:
            stored = conn.execute(select(User.password_hash).where(User.id == account.id)).scalar()
        if stored is None or not self._verify(stored, old):
            raise Forbidden("The current password is not correct")
        new_hash = self.hasher.hash(new)
        with self.db.transaction() as conn:
            row = self._user_row(conn, account.name, lock=True)
            conn.execute(
                update(User)
                .where(User.id == row.id)
                .values(
                    password_hash=new_hash, auth_version=row.auth_version + 1, updated_at=self.clock.now()
                )
            )
            changes = {"user": account.name, "changes": {"password": "changed"}}
            self._record(conn, account.actor, "user_updated", changes)

    # -- roles -------------------------------------------------------------------------------

    def roles(self) -> list[dict[str, Any]]:
        with self.db.transaction(write=False) as conn:
            counts = {
                role: int(count)
                for role, count in conn.execute(
                    select(UserRole.role, func.count())
                    .join(User, User.id == UserRole.user_id)
                    .where(User.active.is_(True))
                    .group_by(UserRole.role)
                )
            }
            rows = conn.execute(select(Role).order_by(Role.name))
            return [role_dict(r, counts.get(r.name, 0)) for r in rows]

    def create_role(self, actor: Actor, name: Any, description: Any = "") -> dict[str, Any]:
        require_admin(actor, "create roles")
        check_role_name(name, "name")
        text = _optional_text(description, "description", 2000) or ""
        with self.db.transaction() as conn:
            if conn.execute(select(Role.name).where(Role.name == name)).first():
                raise Conflict(f"Role {name!r} already exists")
            conn.execute(
                insert(Role).values(name=name, description=text, builtin=False, created_at=self.clock.now())
            )
            self._record(conn, actor, "role_created", {"role": name, "description": text})
            row = conn.execute(select(Role).where(Role.name == name)).one()
            return role_dict(row, 0)

    def delete_role(self, actor: Actor, name: str) -> None:
        require_admin(actor, "delete roles")
        with self.db.transaction() as conn:
            row = conn.execute(select(Role).where(Role.name == name).with_for_update()).first()
            if row is None:
                raise NotFound(f"No role named {name!r}")
            if row.builtin:
                raise Conflict(f"Role {name!r} is built in and cannot be deleted")
            holders = list(
                conn.execute(
                    select(User.name).join(UserRole, UserRole.user_id == User.id).where(UserRole.role == name)
                ).scalars()
            )
            if holders:
                raise Conflict(
                    f"Role {name!r} is still held by {', '.join(sorted(holders))}; take it away first"
                )
            conn.execute(delete(Role).where(Role.name == name))
            self._record(conn, actor, "role_deleted", {"role": name})

    # -- tokens ------------------------------------------------------------------------------

    def issue_token(
        self,
        name: str,
        password: str,
        *,
        label: Any = None,
        expires_in_days: Any = None,
        client: str | None = None,
    ) -> tuple[str, dict[str, Any]]:
        """Sign in with name and password and get a new bearer token (shown only this once)."""
        errors = []
        if label is not None and (not isinstance(label, str) or not 0 < len(label.strip()) <= 255):
            errors.append(FieldError("label", "must be text of 1 to 255 characters"))
        days = DEFAULT_TOKEN_DAYS if expires_in_days is None else expires_in_days
        if isinstance(days, float) and days.is_integer():
            days = int(days)  # JSON has one number type: 30.0 is 30
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_TOKEN_DAYS:
            errors.append(FieldError("expires_in_days", f"must be a whole number from 1 to {MAX_TOKEN_DAYS}"))
        if errors:
            raise ValidationError("Invalid token request", errors)
        account = self.authenticate(name, password, client)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = self.clock.now()
        token_id = str(uuid.uuid4())
        expires_at = now + timedelta(days=days)
        text = label.strip() if isinstance(label, str) else f"token {now:%Y-%m-%d %H:%M}"
        with self.db.transaction() as conn:
            conn.execute(
                insert(ApiToken).values(
                    id=token_id,
                    user_id=account.id,
                    label=text,
                    token_hash=token_digest(token),
                    prefix=token[:10],
                    created_at=now,
                    expires_at=expires_at,
                )
            )
            self._record(
                conn,
                account.actor,
                "token_issued",
                {
                    "user": account.name,
                    "token_id": token_id,
                    "label": text,
                    "expires_at": expires_at.isoformat(),
                },
            )
            row = conn.execute(select(ApiToken).where(ApiToken.id == token_id)).one()
        return token, token_dict(row, account.name)

    def tokens(
        self, actor: Actor, user: str | None = None, *, include_revoked: bool = False
    ) -> list[dict[str, Any]]:
        """A user's own tokens; an auditor or admin may list anyone's (or everyone's, with no user)."""
        if user != actor.name:
            require_may_audit(actor, "see other users' tokens")
        query = select(ApiToken, User.name.label("user_name")).join(User, User.id == ApiToken.user_id)
        if user is not None:
            query = query.where(User.name == user)
        if not include_revoked:
            query = query.where(ApiToken.revoked_at.is_(None))
        with self.db.transaction(write=False) as conn:
            rows = conn.execute(query.order_by(ApiToken.created_at.desc(), ApiToken.id))
            return [token_dict(r, r.user_name) for r in rows]

    def revoke_token(self, actor: Actor, token_id: str) -> dict[str, Any]:
        """Revoke one's own token; an admin may revoke anyone's. Revoking twice is a no-op."""
        with self.db.transaction() as conn:
            row = conn.execute(
                select(ApiToken, User.name.label("user_name"))
                .join(User, User.id == ApiToken.user_id)
                .where(ApiToken.id == token_id)
                .with_for_update(of=ApiToken)
            ).first()
            if row is None:
                raise NotFound(f"No token with id {token_id!r}")
            if row.user_name != actor.name:
                require_admin(actor, "revoke other users' tokens")
            if row.revoked_at is None:
                conn.execute(
                    update(ApiToken)
                    .where(ApiToken.id == token_id)
                    .values(revoked_at=self.clock.now(), revoked_by=actor.name)
                )
                self._record(conn, actor, "token_revoked", {"user": row.user_name, "token_id": token_id})
            updated = conn.execute(select(ApiToken).where(ApiToken.id == token_id)).one()
            return token_dict(updated, row.user_name)
