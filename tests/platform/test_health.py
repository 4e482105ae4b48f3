import pytest


@pytest.mark.django_db
def test_it_reports_database_and_redis(client):
    response = client.get("/api/health/")
    assert response.status_code == 200
    body = response.json()
    assert body["database"]["ok"] is True
    assert body["redis"]["ok"] is True
    assert "workers" in body
    assert body["status"] in {"ok", "degraded"}


@pytest.mark.django_db
def test_it_says_down_when_redis_is_unreachable(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = client.get("/api/health/")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "down"
    assert body["redis"]["ok"] is False
    assert body["workers"]["ok"] is False


def test_it_lists_a_running_worker(worker, client):
    body = client.get("/api/health/").json()
    assert body["workers"]["ok"] is True
    assert body["workers"]["workers"][worker.name] == ["cpu", "gpu"]
    assert body["status"] == "ok"


@pytest.mark.django_db
def test_it_does_not_show_internals_to_anyone(client, settings):
    # Issue #14: users never see server paths or exception class names.
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    body = client.get("/api/health/").json()
    assert body["redis"]["error"] == "unreachable (the server log has the details)"
    assert "Error" not in str(body) and "127.0.0.1" not in str(body)
