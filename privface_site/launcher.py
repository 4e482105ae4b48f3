"""`run.py webapp` and `run.py createuser`.

webapp runs migrations, starts Redis when none answers on REDIS_URL (and a
redis-server binary exists), one Celery worker for both queues and WEB_PROCESSES Daphne
processes that share one listening socket (the kernel spreads connections over them, so
one busy process does not hold up the others; websockets work on any of them, their
events go through Redis), and stops them all on Ctrl-C or when any of them dies.
"""

from __future__ import annotations

import argparse
import getpass
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from urllib.parse import urlsplit

from privface_core.errors import UserError

# PostgreSQL connections each web process keeps; requests beyond it wait for one (up to
# DATABASE_POOL_TIMEOUT seconds) instead of opening more.
WEB_POOL_SIZE = 8


def _django_setup() -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "privface_site.settings")
    django.setup()


def add_webapp_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument("--concurrency", type=int, default=2, help="Celery worker processes (default 2)")
    parser.add_argument("--web-processes", type=int, default=None,
                        help="Daphne processes behind the port (default $WEB_PROCESSES, else the cores, at most 4)")
    parser.add_argument("--no-worker", action="store_true", help="do not start a Celery worker here")
    parser.add_argument("--proxy-headers", action="store_true",
                        help="take the client address from X-Forwarded-For (behind a trusted proxy only)")


def add_createuser_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--username", required=True)
    parser.add_argument("--password", help="default: $PRIVFACE_PASSWORD, else asked for")
    parser.add_argument("--staff", action="store_true", help="make the user staff and superuser")


def run_createuser(args: argparse.Namespace) -> int:
    _django_setup()
    from django.core.management import call_command

    from accounts.actions import create_user

    call_command("migrate", interactive=False, verbosity=0)  # a fresh database has no user table yet

    password = args.password or os.environ.get("PRIVFACE_PASSWORD") or getpass.getpass("Password: ")
    if len(password) < 8:
        raise UserError("password must have at least 8 characters")
    user, token = create_user(args.username, password, staff=args.staff)
    print(f"user {args.username} ready; API token: {token}")
    return 0


def _redis_answers(url: str) -> bool:
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        return bool(client.ping())
    except redis.RedisError:
        return False


def _start_redis(url: str) -> subprocess.Popen | None:
    """None when Redis already answers; a child process when we had to start one."""
    if _redis_answers(url):
        return None
    parts = urlsplit(url)
    binary = shutil.which("redis-server")
    if binary is None or parts.hostname not in {"127.0.0.1", "localhost", "::1"}:
        raise UserError(
            f"Redis does not answer at {url}; start one (e.g. `apt-get install redis-server`) or set REDIS_URL"
        )
    proc = subprocess.Popen(
        [binary, "--bind", parts.hostname, "--port", str(parts.port or 6379), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    for _ in range(50):
        if _redis_answers(url):
            print(f"started redis-server on {parts.hostname}:{parts.port or 6379}")
            return proc
        time.sleep(0.1)
    proc.terminate()
    raise UserError(f"started redis-server but it does not answer at {url}")


def _stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 15
    for proc in procs:
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()


def listen(host: str, port: int) -> socket.socket:
    """The listening socket every web process accepts on (inherited by the children):
    IPv6 when the host is an IPv6 address (``::`` for every interface, ``::1``)."""
    host = host.strip("[]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise UserError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


def start_web_processes(sock: socket.socket, count: int, *, proxy_headers: bool = False) -> list[subprocess.Popen]:
    """``count`` Daphne processes serving the ASGI app on the shared socket ``sock``."""
    flags = ["--proxy-headers"] if proxy_headers else []
    # Each web process keeps a small PostgreSQL connection pool (env.parse_database_url):
    # every request runs in a thread of its own, and without a pool each opened a connection.
    env = dict(os.environ)
    env.setdefault("DATABASE_POOL_MAX_SIZE", str(WEB_POOL_SIZE))
    return [
        subprocess.Popen([sys.executable, "-m", "privface_site.daphne_server", "--fd", str(sock.fileno()), *flags,
                          "privface_site.asgi:application"], pass_fds=(sock.fileno(),), env=env)
        for _ in range(count)
    ]


def run_webapp(args: argparse.Namespace) -> int:
    _django_setup()
    from django.conf import settings
    from django.core.management import call_command

    for path in (settings.MEDIA_ROOT, settings.DATA_ROOT):
        path.mkdir(parents=True, exist_ok=True)
    call_command("migrate", interactive=False, verbosity=0)
    if not (settings.FRONTEND_DIST / "index.html").exists():
        print("note: the dashboard is not built (make run builds it); the API works without it")

    web_processes = args.web_processes or settings.WEB_PROCESSES
    if web_processes < 1:
        raise UserError("--web-processes must be at least 1")
    sock = listen(args.host, args.port)  # first: a taken port stops us before anything started

    procs: list[subprocess.Popen] = []
    redis_proc = _start_redis(settings.REDIS_URL)
    if redis_proc:
        procs.append(redis_proc)
    python = sys.executable
    # Web and worker processes send a gallery's warm tasks: one per worker process (each
    # process encodes the shards it will search in its own memory).
    os.environ.setdefault("SEARCH_WARM_TASKS", str(args.concurrency))
    if not args.no_worker:
        # The worker shares this machine's cores with the web processes: niced, its searches
        # and jobs yield the CPU to the requests the site answers (bench/web_load.py).
        niceness = settings.WORKER_NICENESS
        procs.append(subprocess.Popen([
            python, "-m", "celery", "-A", "privface_site.celery", "worker", "-Q", "cpu,gpu",
            "--concurrency", str(args.concurrency), "-n", f"webapp-{os.getpid()}@%h", "--loglevel", "INFO",
        ], preexec_fn=(lambda: os.nice(niceness)) if niceness else None))
    procs.extend(start_web_processes(sock, web_processes, proxy_headers=args.proxy_headers))
    sock.close()  # the children hold it
    shown = f"[{args.host.strip('[]')}]" if ":" in args.host else args.host
    print(f"PrivFace on http://{shown}:{args.port}/ ({web_processes} web processes; Ctrl-C stops everything)",
          flush=True)

    stopping = False

    def on_signal(signum, frame) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        while not stopping:
            dead = [p for p in procs if p.poll() is not None]
            if dead:
                print(f"error: {' '.join(map(str, dead[0].args[:4]))} exited with {dead[0].returncode}; stopping",
                      file=sys.stderr)
                return 1
            time.sleep(0.5)
    finally:
        print("stopping…", flush=True)
        _stop(list(reversed(procs)))
    return 0
