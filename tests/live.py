"""Real processes for integration tests: a Celery worker and a Daphne server that share
the test database and the test Redis database with the test process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def process_env(**extra: str) -> dict[str, str]:
    """The environment for a child: same settings, pointed at the test database."""
    db = connection.settings_dict
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="privface_site.test_settings",
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


class Worker:
    """`celery worker` for both queues, one prefork child, logs under var/test-logs."""

    def __init__(self, name: str | None = None, **env: str):
        self.name = name or f"test-{uuid.uuid4().hex[:8]}@localhost"
        log_dir = ROOT / "var" / "test-logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / f"worker-{self.name.split('@')[0]}-{int(time.time())}.log"
        self.env = process_env(**env)
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> Worker:
        from privface_site.celery import app

        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "privface_site.celery", "worker", "-Q", "cpu,gpu",
             "--concurrency", "1", "--pool", "prefork", "-n", self.name, "--loglevel", "INFO",
             "--without-mingle", "--without-gossip"],
            cwd=ROOT, env=self.env, stdout=self.log_path.open("ab"), stderr=subprocess.STDOUT,
            start_new_session=True,
        )

        def ready() -> bool:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited early; see {self.log_path}:\n{self.log_path.read_text()[-3000:]}")
            return bool(app.control.ping(destination=[self.name], timeout=0.5))

        wait_for(ready, timeout, f"worker {self.name}")
        return self

    def children(self) -> list[int]:
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(self.proc.pid)], capture_output=True, text=True)
        return [int(pid) for pid in out.stdout.split()]

    def kill(self) -> None:
        """SIGKILL the whole worker (main process and pool), as a crashed machine would."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


class Server:
    """Daphne serving the real ASGI app on a free loopback port."""

    def __init__(self, **env: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = process_env(**env)
        log_dir = ROOT / "var" / "test-logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / f"daphne-{self.port}.log"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 30) -> Server:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "privface_site.daphne_server", "-b", "127.0.0.1", "-p", str(self.port),
             "privface_site.asgi:application"],
            cwd=ROOT, env=self.env, stdout=self.log_path.open("ab"), stderr=subprocess.STDOUT,
            start_new_session=True,
        )

        def up() -> bool:
            if self.proc.poll() is not None:
                raise RuntimeError(f"daphne exited early:\n{self.log_path.read_text()[-3000:]}")
            with socket.socket() as sock:
                return sock.connect_ex(("127.0.0.1", self.port)) == 0

        wait_for(up, timeout, "daphne")
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)


def run_e2e(script: str, server: Server, username: str, password: str, screenshots: list[str],
            timeout: float = 300, **env: str) -> None:
    """Run one Playwright script of frontend/e2e against ``server`` in Debian's Chromium and
    check the screenshots it must leave under var/screenshots/."""
    chromium = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
    assert os.path.exists(chromium), "Debian's chromium is missing: `make chromium` installs it"
    assert (ROOT / "frontend" / "node_modules" / "playwright-core").exists(), "run `make frontend` first"
    assert (ROOT / "frontend" / "dist" / "index.html").exists(), "the dashboard is not built"
    shots = ROOT / "var" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    for name in screenshots:
        (shots / name).unlink(missing_ok=True)
    run_env = dict(os.environ, PRIVFACE_URL=server.url, PRIVFACE_USER=username, PRIVFACE_PASSWORD=password,
                   SCREENSHOT_DIR=str(shots), CHROMIUM_PATH=chromium, **env)
    out = subprocess.run(["node", f"e2e/{script}"], cwd=ROOT / "frontend", env=run_env,
                         capture_output=True, text=True, timeout=timeout)
    print(out.stdout)
    assert out.returncode == 0, f"{out.stdout}\n{out.stderr}"
    for name in screenshots:
        assert (shots / name).stat().st_size > 1000, name


class Webapp:
    """`run.py webapp ARGS` in a session of its own: ``wait(predicate)`` until it answers,
    ``stop()`` with Ctrl-C; ``output`` and ``returncode`` are set once it stopped."""

    def __init__(self, *args: str, env: dict[str, str] | None = None):
        self.proc = subprocess.Popen([sys.executable, "run.py", "webapp", *args], cwd=ROOT,
                                     env=env or process_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, start_new_session=True)
        self.output, self.returncode = "", None

    def __enter__(self) -> Webapp:
        return self

    def wait(self, predicate, what: str, timeout: float = 90):
        """The predicate's answer once true; on a timeout, fails with the webapp's output."""
        try:
            return wait_for(predicate, timeout, what, interval=0.5)
        except TimeoutError:
            os.killpg(self.proc.pid, signal.SIGKILL)
            raise AssertionError(self.proc.communicate(timeout=10)[0][-3000:]) from None

    def stop(self) -> str:
        os.killpg(self.proc.pid, signal.SIGINT)
        self.output, _ = self.proc.communicate(timeout=60)
        self.returncode = self.proc.returncode
        return self.output

    def leftovers(self) -> list[str]:
        """Processes of its group still alive (none once it stopped cleanly)."""
        return subprocess.run(["pgrep", "-g", str(self.proc.pid)], capture_output=True, text=True).stdout.split()

    def __exit__(self, *exc) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.communicate(timeout=10)
