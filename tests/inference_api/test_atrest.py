"""Templates at rest: AES-GCM files bound to their gallery, version and role."""

from __future__ import annotations

import base64

import numpy as np
import pytest

from inference.engine import atrest
from inference.engine.store import GalleryData, GalleryStore


def test_key_parsing_and_derivation():
    key = bytes(range(32))
    assert atrest.parse_key(key.hex()) == key
    assert atrest.parse_key(base64.b64encode(key).decode()) == key
    assert atrest.parse_key(base64.urlsafe_b64encode(key).decode().rstrip("=")) == key
    with pytest.raises(ValueError, match="32 bytes"):
        atrest.parse_key("too-short")
    assert atrest.derive_key("secret") == atrest.derive_key("secret") != atrest.derive_key("other")
    assert len(atrest.derive_key("secret")) == 32


def test_files_open_only_with_their_key_and_place(tmp_path):
    key = atrest.new_key()
    data = GalleryData(np.eye(3, 4, dtype=np.float32), ["a", "b", "c"], "all", {"name": "x", "dim": 4},
                       {"a": 1, "b": 1, "c": 1})
    GalleryStore(tmp_path / "v1", key, "gallery/1/v1").write(data, {"a": b"\xff\xd8jpeg"})
    back = GalleryStore(tmp_path / "v1", key, "gallery/1/v1").read()
    assert back.labels == ["a", "b", "c"] and np.array_equal(back.embeddings, data.embeddings)
    assert GalleryStore(tmp_path / "v1", key, "gallery/1/v1").read_thumbnail("a") == b"\xff\xd8jpeg"
    with pytest.raises(atrest.AtRestError, match="another key"):
        GalleryStore(tmp_path / "v1", atrest.new_key(), "gallery/1/v1").read()
    with pytest.raises(atrest.AtRestError, match="damaged or belongs elsewhere"):
        GalleryStore(tmp_path / "v1", key, "gallery/2/v1").read()  # copied to another gallery
    blob = bytearray((tmp_path / "v1" / "templates.pfar").read_bytes())
    blob[-1] ^= 1
    (tmp_path / "v1" / "templates.pfar").write_bytes(bytes(blob))
    with pytest.raises(atrest.AtRestError, match="damaged"):
        GalleryStore(tmp_path / "v1", key, "gallery/1/v1").read_embeddings()
    assert atrest.AtRestError("x").http_status == 500
