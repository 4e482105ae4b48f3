"""Issue #14, section 3: 25 wrong passwords on /api/auth/token/, /api/auth/login/ and
/admin/login/ were all answered 400 and the right one then worked. Now failures are counted
per account and per client address (in the shared cache) and answered 429 + Retry-After."""

from __future__ import annotations

import statistics
import time
import uuid

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.actions import create_user


def address() -> str:
    """A client address of this test alone (the counters outlive a test)."""
    return f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"


def api_client(addr: str) -> APIClient:
    return APIClient(REMOTE_ADDR=addr)


@pytest.fixture
def carol(db):
    name = f"carol-{uuid.uuid4().hex[:8]}"
    create_user(name, "carol-password-1")
    return name


@pytest.mark.parametrize("path", ["/api/auth/token/", "/api/auth/login/"])
def test_it_throttles_wrong_passwords_per_account(carol, path):
    client = api_client(address())
    answers = [client.post(path, {"username": carol, "password": "wrong"}, format="json") for _ in range(25)]
    assert [a.status_code for a in answers[:5]] == [400] * 5
    assert {a.status_code for a in answers[5:]} == {429}
    assert 0 < int(answers[-1]["Retry-After"]) <= 900
    assert "Too many failed logins" in answers[-1].json()["detail"]
    # the right password is refused as well while the account is locked, from any address
    right = api_client(address()).post(path, {"username": carol, "password": "carol-password-1"}, format="json")
    assert right.status_code == 429


def test_it_throttles_the_admin_login(carol):
    client = Client(REMOTE_ADDR=address())
    codes = [client.post("/admin/login/", {"username": carol, "password": "wrong"}).status_code for _ in range(25)]
    assert codes[:5] == [200] * 5  # the form again, with its error
    assert set(codes[5:]) == {429}
    response = client.post("/admin/login/", {"username": carol, "password": "carol-password-1"})
    assert response.status_code == 429 and int(response["Retry-After"]) > 0


def test_it_throttles_one_address_trying_many_names(db, settings):
    client = api_client(address())
    codes = [client.post("/api/auth/token/", {"username": f"nobody-{i}", "password": "x"}, format="json").status_code
             for i in range(settings.LOGIN_MAX_FAILURES_PER_ADDRESS + 3)]
    assert codes[: settings.LOGIN_MAX_FAILURES_PER_ADDRESS] == [400] * settings.LOGIN_MAX_FAILURES_PER_ADDRESS
    assert set(codes[settings.LOGIN_MAX_FAILURES_PER_ADDRESS :]) == {429}


def test_known_and_unknown_names_are_answered_alike(carol):
    unknown = f"nobody-{uuid.uuid4().hex[:8]}"
    answers = {}
    for name in (carol, unknown):
        client = api_client(address())
        answers[name] = [client.post("/api/auth/token/", {"username": name, "password": "wrong"}, format="json")
                         for _ in range(6)]
    assert [a.status_code for a in answers[carol]] == [a.status_code for a in answers[unknown]] == [400] * 5 + [429]
    assert answers[carol][0].json() == answers[unknown][0].json()


def test_known_and_unknown_names_take_the_same_time(carol, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    settings.LOGIN_MAX_FAILURES_PER_ACCOUNT = 1000
    settings.LOGIN_MAX_FAILURES_PER_ADDRESS = 1000
    create_user(carol, "carol-password-1")  # hashed with PBKDF2 now

    def timing(name: str) -> float:
        client = api_client(address())
        times = []
        for _ in range(5):
            started = time.perf_counter()
            assert client.post("/api/auth/token/", {"username": name, "password": "wrong"},
                               format="json").status_code == 400
            times.append(time.perf_counter() - started)
        return statistics.median(times)

    known, unknown = timing(carol), timing(f"nobody-{uuid.uuid4().hex[:8]}")
    assert abs(known - unknown) < 0.5 * max(known, unknown), (known, unknown)


def test_a_success_clears_the_account_failures(carol):
    client = api_client(address())

    def attempt(password: str) -> int:
        return client.post("/api/auth/token/", {"username": carol, "password": password}, format="json").status_code

    assert [attempt("wrong") for _ in range(4)] == [400] * 4
    assert attempt("carol-password-1") == 200
    assert [attempt("wrong") for _ in range(4)] == [400] * 4
