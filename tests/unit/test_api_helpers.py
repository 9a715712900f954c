"""Pure pieces of the REST API: sort parsing, the login slowdown schedule, the verified-credentials
cache, and query-parameter reading as the operation declares it."""

from __future__ import annotations

import time

import pytest
from flask import Flask

from api.openapi import Param, operation
from api.rest.params import InvalidRequest, page_request, parse_datetime, query_args
from engine.errors import ValidationError
from engine.paging import PageRequest, SortKey, parse_sort
from engine.users import ThrottlePolicy, VerifiedCredentials, check_name, check_password


def test_sort_keys_are_parsed_and_checked() -> None:
    assert parse_sort("-due_at, priority", ["due_at", "priority"]) == (
        SortKey("due_at", True),
        SortKey("priority"),
    )
    assert parse_sort("name,-name", ["name"]) == (SortKey("name"),)
    assert parse_sort(None, ["name"]) == ()
    with pytest.raises(ValidationError) as refused:
        parse_sort("salary", ["name", "created_at"])
    assert refused.value.errors[0].field == "sort" and "name, created_at" in refused.value.errors[0].message


def test_page_requests_are_bounded() -> None:
    with pytest.raises(ValidationError):
        PageRequest(offset=-1)
    with pytest.raises(ValidationError):
        PageRequest(limit=1001)
    assert page_request({"offset": None, "limit": None, "sort": None}, ["a"]) == PageRequest()
    with pytest.raises(InvalidRequest):
        page_request({"sort": " "}, ["a"])


def test_the_login_slowdown_doubles_up_to_its_cap() -> None:
    policy = ThrottlePolicy(free_failures=3, base_delay=1, max_delay=60)
    assert [policy.delay(n) for n in range(1, 10)] == [0, 0, 1, 2, 4, 8, 16, 32, 60]


def test_verified_credentials_miss_on_a_new_password_and_expire() -> None:
    cache = VerifiedCredentials(capacity=2, ttl=0.2)
    cache.add("alice", "secret", "hash-1")
    assert cache.holds("alice", "secret", "hash-1")
    assert not cache.holds("alice", "secret", "hash-2")  # the password was changed since
    assert not cache.holds("alice", "other", "hash-1")
    # A mismatch dropped alice's entry; two fit, the oldest goes first.
    cache.add("bob", "x", "h")
    cache.add("carl", "y", "h")
    cache.add("dora", "z", "h")
    assert not cache.holds("bob", "x", "h")
    assert cache.holds("carl", "y", "h") and cache.holds("dora", "z", "h")
    time.sleep(0.25)
    assert not cache.holds("dora", "z", "h")


def test_names_and_passwords() -> None:
    assert check_name("zhang.wei@north") == "zhang.wei@north"
    for bad in ("", "a,b", "has space", "-dash", "x" * 65, 7):
        with pytest.raises(ValidationError):
            check_name(bad)
    with pytest.raises(ValidationError):
        check_password("short")
    assert check_password("long enough") == "long enough"


def test_date_times_without_offset_are_utc_and_a_lost_plus_is_restored() -> None:
    assert parse_datetime("2026-01-05T09:00:00", "t").isoformat() == "2026-01-05T09:00:00+00:00"
    assert parse_datetime("2026-01-05T17:00:00 08:00", "t").isoformat() == "2026-01-05T09:00:00+00:00"
    with pytest.raises(InvalidRequest):
        parse_datetime("tomorrow", "t")


def test_query_parameters_are_read_as_declared() -> None:
    app = Flask(__name__)

    @app.get("/x")
    @operation(
        "x",
        tag="t",
        responses={},
        query=(
            Param("n", {"type": "integer", "minimum": 1}, "n"),
            Param("flag", {"type": "boolean"}, "f"),
            Param("kind", {"type": "string", "enum": ["a", "b"]}, "k"),
        ),
    )
    def view() -> dict[str, object]:
        return query_args()

    client = app.test_client()
    assert client.get("/x?n=3&flag=yes&kind=a").json == {"n": 3, "flag": True, "kind": "a"}
    assert client.get("/x").json == {"n": None, "flag": None, "kind": None}
    with app.test_request_context("/x?n=0&flag=perhaps&kind=c"):
        app.preprocess_request()
        with pytest.raises(InvalidRequest) as refused:
            app.view_functions["view"]()
    assert {e.field for e in refused.value.errors} == {"n", "flag", "kind"}
