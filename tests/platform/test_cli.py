import os
import subprocess
import sys

import pytest
import requests

from tests.live import ROOT, Webapp, free_port, process_env


def run_cli(*args: str, env: dict | None = None, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "run.py", *args], cwd=ROOT, capture_output=True, text=True,
                          env=env, timeout=120, **kwargs)


def test_it_lists_its_commands():
    out = run_cli("--help")
    assert out.returncode == 0
    for command in ("extract", "train", "federated", "inference", "privacy", "webapp", "createuser"):
        assert command in out.stdout


def test_it_refuses_an_unknown_command_in_one_line():
    out = run_cli("frobnicate")
    assert out.returncode == 2
    assert out.stderr.strip().splitlines()[-1] == "run.py: error: unknown command 'frobnicate'"


def test_it_creates_a_user_with_a_token(transactional_db):
    out = run_cli("createuser", "--username", "carol", env=process_env(PRIVFACE_PASSWORD="carol-password-1"))
    assert out.returncode == 0, out.stderr
    assert "API token:" in out.stdout
    from django.contrib.auth import get_user_model

    assert get_user_model().objects.get(username="carol").check_password("carol-password-1")


def test_it_refuses_a_short_password(transactional_db):
    out = run_cli("createuser", "--username", "dan", "--password", "short", env=process_env())
    assert out.returncode == 2
    assert out.stderr.strip() == "error: password must have at least 8 characters"


@pytest.mark.slow
def test_webapp_starts_everything_and_stops_on_ctrl_c(transactional_db):
    """With no Redis answering on REDIS_URL, webapp starts redis-server itself."""
    port, redis_port = free_port(), free_port()
    env = process_env(REDIS_URL=f"redis://127.0.0.1:{redis_port}/0")
    with Webapp("--port", str(port), "--concurrency", "1", env=env) as app:
        def healthy():
            try:
                body = requests.get(f"http://127.0.0.1:{port}/api/health/", timeout=5).json()
            except requests.RequestException:
                return False
            return body["status"] == "ok" and body

        body = app.wait(healthy, "webapp healthy")
        assert any(name.startswith("webapp-") for name in body["workers"]["workers"])
        app.stop()
    assert app.returncode == 0, app.output
    assert f"started redis-server on 127.0.0.1:{redis_port}" in app.output
    assert "stopping" in app.output
    assert app.leftovers() == []


def test_webapp_explains_a_missing_redis(transactional_db, tmp_path):
    # 127.0.0.2 is loopback but not an address webapp starts a Redis on
    url = f"redis://127.0.0.2:{free_port()}/0"
    out = run_cli("webapp", "--port", str(free_port()), env=process_env(REDIS_URL=url))
    assert out.returncode == 2
    assert out.stderr.strip().splitlines()[-1].startswith(f"error: Redis does not answer at {url}")


def fixtures_dir():
    from pathlib import Path

    return Path(os.environ.get("PRIVFACE_FIXTURES", ROOT.parent / "shared" / "fixtures"))


def test_extract_runs_without_loading_tensorflow(tmp_path):
    tiny = fixtures_dir() / "recordio" / "webface_tiny"
    code = (
        "import sys, run; "
        f"rc = run.main(['extract', '--rec_file', '{tiny}/train.rec', '--idx_file', '{tiny}/train.idx', "
        f"'--lst_file', '{tiny}/train.lst', '--output_dir', '{tmp_path}/out', '--quiet']); "
        "heavy = [m for m in ('tensorflow', 'keras', 'ray', 'tenseal', 'django') if m in sys.modules]; "
        "print(rc, heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "0 []", out.stderr
    assert len(list((tmp_path / "out").glob("*/*.jpg"))) == 80


def test_extract_reports_bad_input_in_one_line(tmp_path):
    empty = tmp_path / "train.rec"
    empty.write_bytes(b"")
    out = run_cli("extract", "--rec_file", str(empty), "--output_dir", str(tmp_path / "out"))
    assert out.returncode == 2
    assert len(out.stderr.strip().splitlines()) == 1 and out.stderr.startswith("error: ")


def test_privacy_prints_epsilon_as_json():
    import json

    out = run_cli("privacy", "--num_examples", "60000", "--batch_size", "256", "--epochs", "15",
                  "--noise_multiplier", "1.1", "--delta", "1e-5", "--json")
    assert out.returncode == 0, out.stderr
    assert 0 < json.loads(out.stdout.strip().splitlines()[-1])["epsilon"] < 10
