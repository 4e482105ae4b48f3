"""Web tier under load: K concurrent clients doing a realistic mix of light requests while
slow requests run; p50/p99 latency of the light requests and errors (issue #14).

    python bench/web_load.py --json                     # K = 10 and 50 people (think 1 s), 20 s each
    python bench/web_load.py --clients 10 --duration 10 --web-processes 1
    python bench/web_load.py --think 0 --clients 10 50       # back to back: a stress test, not people

Starts its own `run.py webapp` (a Celery worker included, so queued jobs run) on a free
port, against a fresh PostgreSQL database on 127.0.0.1:5432 when one answers (else SQLite)
and its own Redis database, with a staff user made by `run.py createuser`. Light mix:
job list, dataset list, model list, a job page and its events, an RDP privacy estimate,
a 256 KiB upload chunk. Slow: `--slow` clients each sending PLD privacy estimates
(1,000,000 examples, batch 1, 3 epochs: 3 M steps) back to back. Searches: `--search`
clients doing browser searches (a photo, encrypted 1:N search on the worker) against a
gallery of 7 people enrolled from shared/fixtures/faces; reported apart from the light mix.

Goal: p99 of light requests <= 250 ms while slow requests run, zero errors.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
SLOW = {"num_examples": 1_000_000, "batch_size": 1, "epochs": 3, "accountant": "pld",
        "noise_multiplier": 1.0, "delta": 1e-5}
LIGHT_PRIVACY = {"num_examples": 60000, "batch_size": 256, "epochs": 15, "noise_multiplier": 1.1, "delta": 1e-5}
CHUNK = os.urandom(256 << 10)
GOAL_P99_MS = 250
FACES = Path(os.environ.get("PRIVFACE_FIXTURES", ROOT.parent / "shared" / "fixtures")) / "faces"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_database(tmp: Path) -> tuple[str, callable]:
    """A fresh PostgreSQL database (dropped afterwards) when one answers, else SQLite."""
    try:
        import psycopg

        name = f"privface_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True, connect_timeout=3) as c:
            c.execute(f'CREATE DATABASE "{name}"')

        def drop() -> None:
            with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as c:
                c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        return f"postgres://postgres@127.0.0.1:5432/{name}", drop
    except Exception:  # noqa: BLE001 - no PostgreSQL here: SQLite
        return f"sqlite:///{tmp / 'bench.sqlite3'}", lambda: None


class Stack:
    def __init__(self, web_processes: int | None, redis_url: str):
        self.tmp = Path(tempfile.mkdtemp(prefix="privface-bench-"))
        database_url, self.drop_database = make_database(self.tmp)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = dict(os.environ, DATABASE_URL=database_url, REDIS_URL=redis_url,
                        CHANNELS_PREFIX=f"bench-{uuid.uuid4().hex[:6]}", PRIVFACE_VAR_DIR=str(self.tmp),
                        DATA_ROOT=str(self.tmp / "data"), MEDIA_ROOT=str(self.tmp / "media"),
                        JOB_MAX_QUEUED_PER_USER="1000", LOGIN_MAX_FAILURES_PER_ADDRESS="1000",
                        PRIVACY_TIMEOUT_SECONDS="60", DJANGO_SETTINGS_MODULE="privface_site.settings")
        self.web_processes = web_processes
        self.proc: subprocess.Popen | None = None

    def start(self) -> str:
        out = subprocess.run([sys.executable, "run.py", "createuser", "--username", "bench", "--password",
                              "bench-password-1", "--staff"], cwd=ROOT, env=self.env, capture_output=True,
                             text=True, check=True)
        token = out.stdout.strip().rsplit(" ", 1)[-1]
        args = [sys.executable, "run.py", "webapp", "--port", str(self.port), "--concurrency", "1"]
        if self.web_processes:
            args += ["--web-processes", str(self.web_processes)]
        self.log = (self.tmp / "webapp.log").open("w")
        self.proc = subprocess.Popen(args, cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.url}/api/auth/csrf/", timeout=2).status_code == 200:
                    return token
            except requests.RequestException:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError((self.tmp / "webapp.log").read_text()[-3000:])
            time.sleep(0.5)
        raise RuntimeError("webapp did not come up")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.drop_database()


def session(token: str) -> requests.Session:
    s = requests.Session()
    s.headers["Authorization"] = f"Token {token}"
    return s


def setup(url: str, token: str, clients: int) -> dict:
    s = session(token)
    dataset = s.post(f"{url}/api/datasets/", json={"name": f"bench-{uuid.uuid4().hex[:6]}"}).json()
    jobs = [s.post(f"{url}/api/jobs/", json={"kind": "selftest", "params": {"steps": 2, "step_seconds": 0.1}}).json()
            for _ in range(3)]
    files = []
    for k in range(clients):
        size = 256 << 20  # never completed: the chunks only have to be accepted
        answer = s.post(f"{url}/api/datasets/{dataset['id']}/files/", json={
            "filename": f"client{k}-{uuid.uuid4().hex[:6]}.lst", "size": size,
            "sha256": hashlib.sha256(b"bench").hexdigest()})
        answer.raise_for_status()
        files.append(answer.json()["id"])
    return {"dataset": dataset["id"], "jobs": [j["id"] for j in jobs], "files": files}


def make_gallery(url: str, token: str) -> int | None:
    """A gallery of the first 3 photos of person_00..06 (labels.csv), enrolled on the worker."""
    import csv

    if not (FACES / "labels.csv").exists():
        return None
    s = session(token)
    with open(FACES / "labels.csv", newline="") as fh:
        rows = [(r["file"], r["identity"]) for r in csv.DictReader(fh)]
    chosen: dict[str, list[str]] = {}
    for name, person in rows:
        if person < "person_07" and len(chosen.setdefault(person, [])) < 3:
            chosen[person].append(name)
    photos = [(name, person) for person in sorted(chosen) for name in chosen[person]]
    gallery = s.post(f"{url}/api/galleries/", json={"name": f"bench-{uuid.uuid4().hex[:6]}", "source": "images"})
    gallery.raise_for_status()
    gallery_id = gallery.json()["gallery"]["id"]
    files = [("files", (name, (FACES / name).read_bytes(), "image/jpeg")) for name, _ in photos]
    s.post(f"{url}/api/galleries/{gallery_id}/images/", files=files,
           data={"labels": [person for _, person in photos]}).raise_for_status()
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        status = s.get(f"{url}/api/galleries/{gallery_id}/").json()["status"]
        if status == "ready":
            return gallery_id
        if status == "failed":
            raise RuntimeError("the bench gallery failed to enroll")
        time.sleep(1)
    raise RuntimeError("the bench gallery did not enroll within 300 s")


def search_client(url: str, token: str, gallery_id: int, stop: threading.Event, out: list) -> None:
    s = session(token)
    probe = (FACES / "img43.jpg").read_bytes()
    while not stop.is_set():
        started = time.perf_counter()
        try:
            status = s.post(f"{url}/api/galleries/{gallery_id}/search/",
                            files={"image": ("p.jpg", probe, "image/jpeg")}, timeout=120).status_code
        except requests.RequestException as exc:
            status = type(exc).__name__
        out.append((time.perf_counter() - started, status))


def light_client(url: str, token: str, fixture: dict, index: int, stop: threading.Event, out: list,
                 think: float = 0.0) -> None:
    """Requests back to back (think 0: a stress test), or, like a person at the dashboard,
    separated by exponentially distributed pauses of mean ``think`` seconds."""
    s = session(token)
    pauses = random.Random(index)
    job = fixture["jobs"][index % len(fixture["jobs"])]
    file_id, offset = fixture["files"][index], 0
    mix = ["jobs", "datasets", "job", "events", "privacy", "models", "chunk"]
    i = index
    if think:
        # People do not all click at the same instant: start each one at a random point of its
        # pause, so that the run measures the steady state, not K requests sent at once.
        stop.wait(pauses.uniform(0, think))
    while not stop.is_set():
        kind = mix[i % len(mix)]
        i += 1
        started = time.perf_counter()
        try:
            if kind == "jobs":
                r = s.get(f"{url}/api/jobs/", timeout=30)
            elif kind == "datasets":
                r = s.get(f"{url}/api/datasets/", timeout=30)
            elif kind == "models":
                r = s.get(f"{url}/api/models/", timeout=30)
            elif kind == "job":
                r = s.get(f"{url}/api/jobs/{job}/", timeout=30)
            elif kind == "events":
                r = s.get(f"{url}/api/jobs/{job}/events/?after=0", timeout=30)
            elif kind == "privacy":
                r = s.post(f"{url}/api/privacy/", json=LIGHT_PRIVACY, timeout=30)
            else:
                r = s.put(f"{url}/api/datasets/{fixture['dataset']}/files/{file_id}/chunk/?offset={offset}",
                          data=CHUNK, headers={"Content-Type": "application/octet-stream"}, timeout=30)
                if r.status_code == 200:
                    offset += len(CHUNK)
            status = r.status_code
        except requests.RequestException as exc:
            status = f"{type(exc).__name__}"
        out.append((kind, time.perf_counter() - started, status))
        if think:
            stop.wait(pauses.expovariate(1 / think))


def slow_client(url: str, token: str, stop: threading.Event, out: list) -> None:
    s = session(token)
    n = 0
    while not stop.is_set():
        # A new question each time: the web tier answers a repeated estimate from memory.
        n += 1
        query = {**SLOW, "num_examples": SLOW["num_examples"] + n + 1000 * threading.get_ident() % 997}
        started = time.perf_counter()
        try:
            status = s.post(f"{url}/api/privacy/", json=query, timeout=120).status_code
        except requests.RequestException as exc:
            status = type(exc).__name__
        out.append((time.perf_counter() - started, status))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def warm_up(url: str, token: str, fixture: dict, clients: int) -> None:
    """A few seconds of the mix, not measured: every web process has its connections and imports."""
    stop, sink = threading.Event(), []
    threads = [threading.Thread(target=light_client, args=(url, token, fixture, k, stop, sink))
               for k in range(min(clients, 8))]
    for thread in threads:
        thread.start()
    time.sleep(3)
    stop.set()
    for thread in threads:
        thread.join(60)


def run(url: str, token: str, clients: int, slow: int, duration: float, searches: int = 0,
        gallery_id: int | None = None, think: float = 0.0) -> dict:
    fixture = setup(url, token, clients)
    warm_up(url, token, fixture, clients)
    stop = threading.Event()
    light: list = []
    heavy: list = []
    found: list = []
    slow_threads = [threading.Thread(target=slow_client, args=(url, token, stop, heavy)) for _ in range(slow)]
    if gallery_id is not None:
        slow_threads += [threading.Thread(target=search_client, args=(url, token, gallery_id, stop, found))
                         for _ in range(searches)]
    for thread in slow_threads:
        thread.start()
    time.sleep(1.0 if slow else 0)  # the slow requests are computing before the clock starts
    threads = [threading.Thread(target=light_client, args=(url, token, fixture, k, stop, light, think))
               for k in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    time.sleep(duration)
    stop.set()
    for thread in threads:
        thread.join(60)
    elapsed = time.perf_counter() - started
    for thread in slow_threads:
        thread.join(150)
    ok = [lat for _, lat, status in light if status == 200]
    errors = [(kind, status) for kind, _, status in light if status != 200]
    by_kind = {}
    for kind in sorted({k for k, _, _ in light}):
        lat = [x for k, x, st in light if k == kind and st == 200]
        if lat:
            by_kind[kind] = {"count": len(lat), "p50_ms": round(statistics.median(lat) * 1000, 1),
                             "p99_ms": round(percentile(lat, 99) * 1000, 1)}
    return {
        "clients": clients, "think_s": think, "slow_clients": slow, "duration_s": round(elapsed, 1),
        "light": {"count": len(light), "per_s": round(len(light) / elapsed, 1),
                  "p50_ms": round(statistics.median(ok) * 1000, 1) if ok else None,
                  "p99_ms": round(percentile(ok, 99) * 1000, 1) if ok else None,
                  "max_ms": round(max(ok) * 1000, 1) if ok else None},
        "errors": len(errors), "error_samples": errors[:10], "by_kind": by_kind,
        "slow": {"count": len(heavy), "statuses": sorted({str(st) for _, st in heavy}),
                 "p50_s": round(statistics.median([x for x, _ in heavy]), 2) if heavy else None},
        "search": {"clients": searches if gallery_id is not None else 0, "count": len(found),
                   "statuses": sorted({str(st) for _, st in found}),
                   "p50_ms": round(statistics.median([x for x, _ in found]) * 1000, 1) if found else None,
                   "p99_ms": round(percentile([x for x, _ in found], 99) * 1000, 1) if found else None},
        "goal_met": bool(ok) and not errors and percentile(ok, 99) * 1000 <= GOAL_P99_MS,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[10, 50])
    parser.add_argument("--slow", type=int, default=2, help="clients sending slow PLD estimates (default 2)")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per run (default 20)")
    parser.add_argument("--think", type=float, default=1.0,
                        help="mean pause of a light client between requests, s (default 1: people at the "
                             "dashboard, the issue's realistic mix; 0: back to back, a stress test)")
    parser.add_argument("--search", type=int, default=2, help="clients doing browser searches (default 2; 0: none)")
    parser.add_argument("--web-processes", type=int, default=None, help="default: run.py webapp's")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args(argv)

    stack = Stack(args.web_processes, args.redis_url)
    try:
        token = stack.start()
        gallery_id = make_gallery(stack.url, token) if args.search else None
        results = [run(stack.url, token, k, args.slow, args.duration, args.search, gallery_id, args.think)
                   for k in args.clients]
    finally:
        stack.stop()
    report = {
        "command": "python bench/web_load.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "web_processes": args.web_processes or "default (cores, at most 4)",
        "goal": f"p99 of light requests <= {GOAL_P99_MS} ms while slow requests run, 0 errors",
        "runs": results,
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for r in results:
            print(f"K={r['clients']:>3} (+{r['slow_clients']} slow): light p50 {r['light']['p50_ms']} ms, "
                  f"p99 {r['light']['p99_ms']} ms, max {r['light']['max_ms']} ms, {r['light']['per_s']}/s, "
                  f"errors {r['errors']}, slow {r['slow']['count']} x ~{r['slow']['p50_s']} s, "
                  f"searches {r['search']['count']} p50 {r['search']['p50_ms']} ms {r['search']['statuses']}"
                  f" {'(goal met)' if r['goal_met'] else '(goal NOT met)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
