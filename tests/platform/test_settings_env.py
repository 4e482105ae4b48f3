import pytest
from django.core.exceptions import ImproperlyConfigured

from privface_site import env


def test_it_parses_booleans(monkeypatch):
    monkeypatch.setenv("X_FLAG", "yes")
    assert env.env_bool("X_FLAG", False) is True
    monkeypatch.setenv("X_FLAG", "0")
    assert env.env_bool("X_FLAG", True) is False


def test_it_refuses_a_bad_boolean(monkeypatch):
    monkeypatch.setenv("DEBUG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="DEBUG='maybe' is not a boolean"):
        env.env_bool("DEBUG", False)


def test_it_refuses_a_bad_integer(monkeypatch):
    monkeypatch.setenv("X_INT", "12a")
    with pytest.raises(ImproperlyConfigured, match="X_INT='12a' is not an integer"):
        env.env_int("X_INT", 3)
    monkeypatch.setenv("X_INT", "0")
    with pytest.raises(ImproperlyConfigured, match="below the minimum 1"):
        env.env_int("X_INT", 3, minimum=1)


def test_it_parses_a_postgres_url():
    db = env.parse_database_url("postgres://u%40x:p%3Aw@db.example:6543/privface?sslmode=require")
    assert db["ENGINE"] == "django.db.backends.postgresql"
    assert (db["USER"], db["PASSWORD"], db["HOST"], db["PORT"], db["NAME"]) == (
        "u@x", "p:w", "db.example", "6543", "privface")
    assert db["OPTIONS"] == {"sslmode": "require"}


def test_it_parses_a_sqlite_url():
    db = env.parse_database_url("sqlite:////tmp/x.db")
    assert (db["ENGINE"], db["NAME"]) == ("django.db.backends.sqlite3", "/tmp/x.db")
    assert env.parse_database_url("sqlite:///rel.db")["NAME"] == "rel.db"


@pytest.mark.parametrize("url, message", [
    ("mysql://x/y", "scheme must be one of"),
    ("postgres://host:5432/", "no database name"),
    ("postgres://host:99999999/db", "bad port"),
    ("sqlite://", "needs a file path"),
])
def test_it_refuses_bad_database_urls(url, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        env.parse_database_url(url)


@pytest.mark.parametrize("url", ["http://localhost:6379/0", "redis://", "redis://host:port/0"])
def test_it_refuses_bad_redis_urls(monkeypatch, url):
    monkeypatch.setenv("REDIS_URL", url)
    with pytest.raises(ImproperlyConfigured, match="REDIS_URL"):
        env.env_redis_url("REDIS_URL", "redis://127.0.0.1:6379/0")


def test_it_generates_the_secret_key_once(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    key_file = tmp_path / "var" / "secret_key"
    first = env.env_secret_key("SECRET_KEY", key_file)
    assert len(first) > 40
    assert env.env_secret_key("SECRET_KEY", key_file) == first
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    monkeypatch.setenv("SECRET_KEY", "from-env")
    assert env.env_secret_key("SECRET_KEY", key_file) == "from-env"


def test_settings_fail_loudly_on_a_bad_value(tmp_path):
    """Importing the settings with a bad DEBUG stops with one clear line, not a guess."""
    import os
    import subprocess
    import sys

    run_env = dict(os.environ, DEBUG="sometimes", PRIVFACE_VAR_DIR=str(tmp_path),
                   DJANGO_SETTINGS_MODULE="privface_site.settings")
    out = subprocess.run([sys.executable, "-c", "import django; django.setup()"], env=run_env,
                         capture_output=True, text=True)
    assert out.returncode != 0
    assert "DEBUG='sometimes' is not a boolean" in out.stderr


def test_it_pools_postgres_connections_when_asked(monkeypatch):
    monkeypatch.setenv("DATABASE_POOL_MAX_SIZE", "6")
    config = env.parse_database_url("postgres://u@db:5432/privface?sslmode=require")
    assert config["OPTIONS"] == {"sslmode": "require", "pool": {"min_size": 1, "max_size": 6, "timeout": 10}}
    assert config["CONN_MAX_AGE"] == 0  # Django refuses persistent connections with a pool
    monkeypatch.setenv("DATABASE_POOL_MAX_SIZE", "0")
    assert "pool" not in env.parse_database_url("postgres://u@db:5432/privface")["OPTIONS"]
