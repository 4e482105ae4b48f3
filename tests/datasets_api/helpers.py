from __future__ import annotations

import hashlib
import os
from pathlib import Path

FIXTURES = Path(os.environ.get("PRIVFACE_FIXTURES", Path(__file__).resolve().parents[2].parent / "shared" / "fixtures"))
WEBFACE = FIXTURES / "recordio" / "webface_tiny"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def announce(client, dataset_id: int, filename: str, data: bytes):
    return client.post(f"/api/datasets/{dataset_id}/files/",
                       {"filename": filename, "size": len(data), "sha256": sha256(data)}, format="json")


def put_chunk(client, dataset_id: int, file_id: int, offset: int, chunk: bytes):
    return client.generic("PUT", f"/api/datasets/{dataset_id}/files/{file_id}/chunk/?offset={offset}", chunk,
                          content_type="application/octet-stream")


def upload(client, dataset_id: int, filename: str, data: bytes, chunk_size: int = 1 << 20) -> dict:
    """Announce, send in chunks, complete; returns the file JSON."""
    response = announce(client, dataset_id, filename, data)
    assert response.status_code in (200, 201), response.content
    file_id = response.json()["id"]
    for offset in range(response.json()["received"], len(data), chunk_size):
        chunk = put_chunk(client, dataset_id, file_id, offset, data[offset : offset + chunk_size])
        assert chunk.status_code == 200, chunk.content
    done = client.post(f"/api/datasets/{dataset_id}/files/{file_id}/complete/")
    assert done.status_code == 200, done.content
    return done.json()
