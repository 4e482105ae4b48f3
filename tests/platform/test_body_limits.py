"""Issue #14, section 2: request bodies are refused from their headers, before they are
read and before authentication, and accepted ones stream: a real Daphne's memory stays
within 100 MB of its idle size while 1 GiB anonymous and oversized bodies are sent."""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import time

import pytest
import requests
from rest_framework.authtoken.models import Token

pytestmark = pytest.mark.slow

GIB = 1 << 30
BLOCK = b"\0" * (1 << 20)


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


class PeakRss(threading.Thread):
    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak, self.stopped = pid, rss_bytes(pid), threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(0.02):
            self.peak = max(self.peak, rss_bytes(self.pid))

    def __enter__(self) -> PeakRss:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopped.set()
        self.join()


def send_raw(server, head: str, body_bytes: int, chunked: bool = False) -> tuple[int, dict, int]:
    """Send the head, read the answer, then try to push ``body_bytes``; returns (status,
    JSON answer, body bytes the server took before it closed)."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    sock.sendall(head.encode("latin-1"))
    sent = 0
    sock.settimeout(2)
    answer = b""
    try:
        answer = sock.recv(65536)  # refused from the headers: the answer comes before any body
    except TimeoutError:
        pass
    try:
        sock.settimeout(10)
        while sent < body_bytes:
            block = BLOCK if not chunked else b"%x\r\n" % len(BLOCK) + BLOCK + b"\r\n"
            sock.sendall(block)
            sent += len(BLOCK)
            if not answer:
                sock.setblocking(False)
                try:
                    answer = sock.recv(65536)
                except BlockingIOError:
                    pass
                sock.setblocking(True)
                sock.settimeout(10)
    except (BrokenPipeError, ConnectionResetError):
        pass
    finally:
        sock.close()
    head_part, _, body = answer.partition(b"\r\n\r\n")
    status = int(head_part.split(b" ", 2)[1]) if head_part else 0
    return status, (json.loads(body) if body else {}), sent


def chunk_head(server, dataset_id: int, file_id: int, length: int | None, token: str = "") -> str:
    lines = [f"PUT /api/datasets/{dataset_id}/files/{file_id}/chunk/?offset=0 HTTP/1.1",
             f"Host: 127.0.0.1:{server.port}", "Content-Type: application/octet-stream"]
    lines.append(f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked")
    if token:
        lines.append(f"Authorization: Token {token}")
    return "\r\n".join(lines) + "\r\n\r\n"


@pytest.fixture
def upload(server, alice):
    token = Token.objects.get(user=alice).key
    session = requests.Session()
    session.headers["Authorization"] = f"Token {token}"
    dataset = session.post(f"{server.url}/api/datasets/", json={"name": "big"}).json()
    data = b"\0" * (32 << 20)
    announced = session.post(f"{server.url}/api/datasets/{dataset['id']}/files/", json={
        "filename": "train.rec", "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}).json()
    return {"session": session, "token": token, "dataset": dataset["id"], "file": announced["id"], "data": data}


def test_it_refuses_big_bodies_from_their_headers_with_flat_memory(server, upload):
    session, dataset_id, file_id = upload["session"], upload["dataset"], upload["file"]
    for _ in range(3):  # warm up: imports, connections
        assert session.get(f"{server.url}/api/jobs/").status_code == 200
    idle = rss_bytes(server.proc.pid)
    cases = [
        # (head, body bytes to push, expected status, what the answer says)
        (chunk_head(server, dataset_id, file_id, GIB), GIB, 413, "over the limit"),  # anonymous, as in the issue
        (chunk_head(server, dataset_id, file_id, 60 << 20), 60 << 20, 401, "credentials were not provided"),
        (chunk_head(server, dataset_id, file_id, GIB, upload["token"]), GIB, 413, "over the limit"),
        (chunk_head(server, dataset_id, file_id, None), GIB, 401, "credentials were not provided"),
        (chunk_head(server, dataset_id, file_id, None, upload["token"]), GIB, 413, "over the limit"),
    ]
    with PeakRss(server.proc.pid) as rss:
        for head, size, status, words in cases:
            started = time.monotonic()
            got, answer, sent = send_raw(server, head, size, chunked="chunked" in head)
            assert (got, words in answer.get("detail", "")) == (status, True), (head, got, answer)
            assert sent < size, "the server read the whole body"
            assert time.monotonic() - started < 30
        # An accepted chunk (32 MiB, under the 64 MiB limit) streams through.
        response = session.put(f"{server.url}/api/datasets/{dataset_id}/files/{file_id}/chunk/?offset=0",
                               data=upload["data"], headers={"Content-Type": "application/octet-stream"})
        assert response.status_code == 200, response.text
        assert response.json()["received"] == len(upload["data"])
    print(f"daphne RSS idle {idle / 1e6:.0f} MB, peak {rss.peak / 1e6:.0f} MB while 5 refused 1 GiB/60 MiB bodies"
          " and one accepted 32 MiB chunk were sent")
    assert rss.peak - idle < 100e6, f"RSS grew by {(rss.peak - idle) / 1e6:.0f} MB"
    assert session.get(f"{server.url}/api/health/").status_code in (200, 503)  # still serving


def test_json_over_the_limit_is_refused_before_it_is_read(server, upload):
    head = "\r\n".join([
        "POST /api/datasets/ HTTP/1.1", f"Host: 127.0.0.1:{server.port}", "Content-Type: application/json",
        f"Authorization: Token {upload['token']}", f"Content-Length: {GIB}"]) + "\r\n\r\n"
    status, answer, sent = send_raw(server, head, 64 << 20)
    assert status == 413
    assert answer == {"detail": "the request body is over the limit of 2621440 bytes for this endpoint"}
    assert sent < 64 << 20
