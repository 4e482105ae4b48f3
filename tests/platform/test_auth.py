import pytest
from rest_framework.test import APIClient


@pytest.fixture
def browser(alice) -> APIClient:
    """A client that enforces CSRF like a browser session does."""
    client = APIClient(enforce_csrf_checks=True)
    token = client.get("/api/auth/csrf/").json()["csrfToken"]
    client.credentials(HTTP_X_CSRFTOKEN=token)
    return client


def test_it_logs_in_and_out_with_a_session(browser):
    response = browser.post("/api/auth/login/", {"username": "alice", "password": "alice-password-1"}, format="json")
    assert response.status_code == 200
    assert response.json()["username"] == "alice"
    assert browser.get("/api/auth/me/").json()["username"] == "alice"
    # the session rotated the CSRF token at login
    browser.credentials(HTTP_X_CSRFTOKEN=browser.cookies["csrftoken"].value)
    assert browser.post("/api/auth/logout/").status_code == 204
    assert browser.get("/api/auth/me/").status_code in (401, 403)


def test_it_refuses_a_wrong_password(browser):
    response = browser.post("/api/auth/login/", {"username": "alice", "password": "nope"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"detail": "Invalid username or password."}


def test_it_requires_csrf_for_login(alice):
    client = APIClient(enforce_csrf_checks=True)
    response = client.post("/api/auth/login/", {"username": "alice", "password": "alice-password-1"}, format="json")
    assert response.status_code == 403


def test_it_gives_an_api_token(alice):
    client = APIClient()
    token = client.post("/api/auth/token/", {"username": "alice", "password": "alice-password-1"},
                        format="json").json()["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/auth/me/").json()["username"] == "alice"


@pytest.mark.django_db
def test_it_answers_401_to_anonymous_api_calls():
    response = APIClient().get("/api/jobs/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
