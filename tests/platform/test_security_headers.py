"""Issue #14, section 5: a Content-Security-Policy on the dashboard (and the API)."""


def test_the_dashboard_has_a_content_security_policy(client):
    response = client.get("/datasets")
    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
    assert response["X-Frame-Options"] == "DENY"


def test_api_answers_carry_it_too(client):
    assert "default-src 'self'" in client.get("/api/health/")["Content-Security-Policy"]


def test_the_policy_comes_from_the_environment(client, settings):
    settings.CONTENT_SECURITY_POLICY = "default-src 'self' https://cdn.example"
    assert client.get("/")["Content-Security-Policy"] == "default-src 'self' https://cdn.example"
