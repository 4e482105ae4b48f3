"""Resumable-upload throughput over loopback against a real Daphne server.

    .venv/bin/python bench/upload_throughput.py --size_mb 2048 --chunk_mb 8 --json

Starts `daphne` on a free port with its own SQLite database and data folder under a
temporary directory, uploads one file of --size_mb in --chunk_mb chunks through the
dataset API (announce, PUT chunks, complete with the sha256 check), and samples the
server's resident memory. Baseline in the same run: the raw disk write speed of the
same bytes in the same chunks (what an upload can at best reach here).
Last line: JSON with mb_per_s, baseline_mb_per_s, rss_growth_mb and timings.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def chunks(size: int, chunk: int):
    """Deterministic, incompressible-looking bytes without holding the file in memory."""
    block = random.Random(0).randbytes(chunk)
    for offset in range(0, size, chunk):
        n = min(chunk, size - offset)
        yield offset, (offset // chunk).to_bytes(8, "little") + block[8:n] if n > 8 else block[:n]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def baseline(size: int, chunk: int, folder: Path) -> float:
    path = folder / "baseline.bin"
    start = time.perf_counter()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for offset, data in chunks(size, chunk):
            os.pwrite(fd, data, offset)
            os.fdatasync(fd)
    finally:
        os.close(fd)
    elapsed = time.perf_counter() - start
    path.unlink()
    return size / elapsed / 1e6


def send_chunks(url: str, numbered: list, digests: list[str], token: str, in_flight: int) -> int:
    """PUT the chunks in order with up to ``in_flight`` requests under way. A chunk that
    overtakes its predecessor gets 409 (a gap) and is sent again. Returns those retries."""
    lock, state = threading.Lock(), {"next": 0, "retries": 0}

    def worker() -> None:
        session = requests.Session()
        session.headers["Authorization"] = f"Token {token}"
        while True:
            with lock:
                if state["next"] >= len(numbered):
                    return
                n, (offset, data) = numbered[state["next"]]
                state["next"] += 1
            headers = {"Content-Type": "application/octet-stream", "X-Chunk-Sha256": digests[n]}
            while True:
                response = session.put(f"{url}{offset}", data=data, headers=headers)
                if response.status_code != 409:
                    response.raise_for_status()
                    break
                with lock:
                    state["retries"] += 1
                time.sleep(0.005)

    threads = [threading.Thread(target=worker) for _ in range(in_flight)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return state["retries"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size_mb", type=int, default=2048)
    parser.add_argument("--chunk_mb", type=int, default=8)
    parser.add_argument("--in_flight", type=int, default=2,
                        help="chunks under way at once (2, as the dashboard's uploader; 1: one after another)")
    parser.add_argument("--json", action="store_true", help="only the JSON line")
    args = parser.parse_args()
    size, chunk = args.size_mb << 20, args.chunk_mb << 20

    (ROOT / "var").mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="upload-bench-", dir=ROOT / "var"))
    env = dict(
        os.environ,
        PRIVFACE_VAR_DIR=str(work),
        DATABASE_URL=f"sqlite:///{work}/db.sqlite3",
        DJANGO_SETTINGS_MODULE="privface_site.settings",
        PRIVFACE_PASSWORD="bench-password-1",
        UPLOAD_CHUNK_MAX_BYTES=str(max(chunk, 1 << 20)),
        DATASET_MAX_FILE_BYTES=str(size + 1),
        DATASET_QUOTA_BYTES=str(size + 1),
    )
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    token = (
        subprocess.run(
            [sys.executable, "run.py", "createuser", "--username", "bench"],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        .stdout.rsplit(" ", 1)[1]
        .strip()
    )
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "privface_site.daphne_server",
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            "privface_site.asgi:application",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        base = f"http://127.0.0.1:{port}/api"
        session = requests.Session()
        session.headers["Authorization"] = f"Token {token}"
        for _ in range(100):
            try:
                session.get(f"{base}/health/", timeout=2)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        # Precomputed as a browser would (on its own CPU): the whole-file digest and one
        # per chunk, sent as X-Chunk-Sha256 and checked by the server.
        digest, chunk_digests = hashlib.sha256(), []
        for _, data in chunks(size, chunk):
            digest.update(data)
            chunk_digests.append(hashlib.sha256(data).hexdigest())
        dataset = session.post(f"{base}/datasets/", json={"name": "bench"}).json()["id"]
        upload = session.post(
            f"{base}/datasets/{dataset}/files/",
            json={"filename": "train.rec", "size": size, "sha256": digest.hexdigest()},
        ).json()

        rss_start = rss_mb(server.pid)
        peak = [rss_start]
        stop = threading.Event()

        def sample() -> None:
            while not stop.wait(0.05):
                peak[0] = max(peak[0], rss_mb(server.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        start = time.perf_counter()
        url = f"{base}/datasets/{dataset}/files/{upload['id']}/chunk/?offset="
        retries = send_chunks(url, list(enumerate(chunks(size, chunk))), chunk_digests, token, args.in_flight)
        upload_s = time.perf_counter() - start
        done = session.post(f"{base}/datasets/{dataset}/files/{upload['id']}/complete/")
        done.raise_for_status()
        total_s = time.perf_counter() - start
        stop.set()
        sampler.join()
        base_mb_s = baseline(size, chunk, work)
        result = {
            "size_mb": args.size_mb,
            "chunk_mb": args.chunk_mb,
            "upload_s": round(upload_s, 2),
            "complete_s": round(total_s - upload_s, 2),
            "mb_per_s": round(size / upload_s / 1e6, 1),
            "mb_per_s_with_checksum": round(size / total_s / 1e6, 1),
            "baseline_mb_per_s": round(base_mb_s, 1),
            "rss_start_mb": round(rss_start, 1),
            "rss_peak_mb": round(peak[0], 1),
            "rss_growth_mb": round(peak[0] - rss_start, 1),
            "in_flight": args.in_flight, "gap_retries": retries,
        }
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(10)
        shutil.rmtree(work, ignore_errors=True)
    if not args.json:
        for key, value in result.items():
            print(f"{key:>24}: {value}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
