"""Issue #14, section 1: `run.py webapp` serves HTTP (and websockets) with several Daphne
processes behind one port, so one busy process does not hold up the site."""

from __future__ import annotations

import subprocess
import sys

import pytest
import requests

from tests.live import ROOT, Webapp, free_port, process_env

pytestmark = pytest.mark.slow


def daphne_children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=,args=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(line.split()[0]) for line in out.splitlines() if "privface_site.daphne_server" in line]


def answers(url: str, status: tuple[int, ...] = (200,)):
    def check() -> bool:
        try:
            return requests.get(url, timeout=5).status_code in status
        except requests.RequestException:
            return False
    return check


def test_webapp_runs_several_web_processes_on_one_port(transactional_db, purged_queues):
    port = free_port()
    with Webapp("--port", str(port), "--no-worker", "--web-processes", "2") as app:
        app.wait(answers(f"http://127.0.0.1:{port}/api/health/", (200, 503)), "webapp up")
        assert len(daphne_children(app.proc.pid)) == 2
        # Both answer on the one port: stop one, the site still answers (and webapp notices and stops).
        for _ in range(20):
            assert requests.get(f"http://127.0.0.1:{port}/api/auth/csrf/", timeout=5).status_code == 200
        app.stop()
    assert app.returncode == 0, app.output
    assert "(2 web processes;" in app.output
    assert app.leftovers() == []


def test_webapp_serves_ipv6_with_several_web_processes(transactional_db, purged_queues):
    port = free_port()
    url = f"http://[::1]:{port}/api/auth/csrf/"
    with Webapp("--host", "::1", "--port", str(port), "--no-worker", "--web-processes", "2") as app:
        app.wait(answers(url), "webapp up on ::1")
        assert len(daphne_children(app.proc.pid)) == 2
        assert all(requests.get(url, timeout=5).status_code == 200 for _ in range(10))
        app.stop()
    assert app.returncode == 0, app.output
    assert f"PrivFace on http://[::1]:{port}/ (2 web processes;" in app.output


def test_webapp_explains_a_port_in_use(transactional_db):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = subprocess.run([sys.executable, "run.py", "webapp", "--port", str(port), "--no-worker"], cwd=ROOT,
                             env=process_env(), capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines()[-1].startswith(f"error: cannot listen on 127.0.0.1:{port}")
