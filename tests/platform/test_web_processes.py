"""Issue #14, section 1: `run.py webapp` serves HTTP (and websockets) with several Daphne
processes behind one port, so one busy process does not hold up the site."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
import requests

from tests.live import ROOT, free_port, process_env, wait_for

pytestmark = pytest.mark.slow


def daphne_children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=,args=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(line.split()[0]) for line in out.splitlines() if "privface_site.daphne_server" in line]


def test_webapp_runs_several_web_processes_on_one_port(transactional_db, purged_queues):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "run.py", "webapp", "--port", str(port), "--no-worker",
                             "--web-processes", "2"],
                            cwd=ROOT, env=process_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        def up():
            try:
                return requests.get(f"http://127.0.0.1:{port}/api/health/", timeout=5).status_code in (200, 503)
            except requests.RequestException:
                return False

        try:
            wait_for(up, 90, "webapp up", interval=0.5)
        except TimeoutError:
            os.killpg(proc.pid, signal.SIGKILL)
            raise AssertionError(proc.communicate(timeout=10)[0][-3000:]) from None
        web = daphne_children(proc.pid)
        assert len(web) == 2
        # Both answer on the one port: stop one, the site still answers (and webapp notices and stops).
        for _ in range(20):
            assert requests.get(f"http://127.0.0.1:{port}/api/auth/csrf/", timeout=5).status_code == 200
        os.killpg(proc.pid, signal.SIGINT)
        output, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 0, output
    assert "(2 web processes;" in output
    leftovers = subprocess.run(["pgrep", "-g", str(proc.pid)], capture_output=True, text=True).stdout.split()
    assert leftovers == []


def test_webapp_serves_ipv6_with_several_web_processes(transactional_db, purged_queues):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "run.py", "webapp", "--host", "::1", "--port", str(port), "--no-worker",
                             "--web-processes", "2"],
                            cwd=ROOT, env=process_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    url = f"http://[::1]:{port}/api/auth/csrf/"
    try:
        def up():
            try:
                return requests.get(url, timeout=5).status_code == 200
            except requests.RequestException:
                return False

        try:
            wait_for(up, 90, "webapp up on ::1", interval=0.5)
        except TimeoutError:
            os.killpg(proc.pid, signal.SIGKILL)
            raise AssertionError(proc.communicate(timeout=10)[0][-3000:]) from None
        assert len(daphne_children(proc.pid)) == 2
        assert all(requests.get(url, timeout=5).status_code == 200 for _ in range(10))
        os.killpg(proc.pid, signal.SIGINT)
        output, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 0, output
    assert f"PrivFace on http://[::1]:{port}/ (2 web processes;" in output


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
