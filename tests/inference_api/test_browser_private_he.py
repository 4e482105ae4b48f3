"""Issue #13, the HE half of a private search from the browser: node-seal (SEAL 4.1 in
WebAssembly) in Debian's Chromium makes the keys, encrypts a query embedding, goes through
the real API and worker, and decrypts scores equal to the plaintext dot products; the
server keeps public material only and refuses the browser's secret key."""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess

import numpy as np
import pytest

from accounts.actions import create_user
from inference.engine import he_browser, he_wire, seal_compat
from inference.engine.he_client import PUBLIC_CONTEXT, QUERY, key_id_of
from inference.engine.store import GalleryData
from tests.live import ROOT

ENTRIES = 9000  # two score blocks at ring degree 8192: real and imaginary halves both used
DIM = 128
TARGET = 6001  # in the imaginary half of block 0


def synthetic_gallery(owner, n: int = ENTRIES, dim: int = DIM, seed: int = 13):
    """A ready cosine gallery of n random unit templates, written straight to its store."""
    from inference.models import Gallery, GalleryStatus
    from inference.storage import store_for

    rng = np.random.default_rng(seed)
    emb = rng.standard_normal((n, dim)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    labels = [f"p{i:05d}" for i in range(n)]
    meta = {"name": "synthetic", "dim": dim, "private": None, "source": "test", "score": "cosine"}
    gallery = Gallery.objects.create(owner=owner, name="browser he", source="images", embedder="synthetic", dim=dim)
    store = secrets.token_hex(8)
    store_for(gallery.pk, store).write(GalleryData(emb, labels, "all", meta, dict.fromkeys(labels, 1)), {})
    Gallery.objects.filter(pk=gallery.pk).update(store=store, status=GalleryStatus.READY, templates=n,
                                                 identities=n, photos=n)
    gallery.refresh_from_db()
    return gallery, emb.astype(np.float64)


def run_page(server, token: str, gallery_id: int, query: np.ndarray, tmp_path) -> dict:
    chromium = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
    assert os.path.exists(chromium), "Debian's chromium is missing: `make chromium` installs it"
    (tmp_path / "q.json").write_text(json.dumps({"query": query.tolist()}))
    env = dict(os.environ, PRIVFACE_URL=server.url, PRIVFACE_USER="ada", PRIVFACE_PASSWORD="unused",
               PRIVFACE_TOKEN=token, GALLERY_ID=str(gallery_id), QUERY_JSON=str(tmp_path / "q.json"),
               OUT_JSON=str(tmp_path / "out.json"), SCREENSHOT_DIR=str(tmp_path), CHROMIUM_PATH=chromium)
    out = subprocess.run(["node", "e2e/private_he.e2e.mjs"], cwd=ROOT / "frontend", env=env, capture_output=True,
                         text=True, timeout=300)
    print(out.stdout)
    assert out.returncode == 0, f"{out.stdout}\n{out.stderr}"
    return json.loads((tmp_path / "out.json").read_text())


@pytest.mark.django_db
def test_a_browser_context_must_hold_uncompressed_41_galois_keys(alice, alice_client):
    from inference.engine.he_client import HEClient
    from inference.engine.he_layout import SearchProfile

    gallery, _ = synthetic_gallery(alice, n=50)
    profile = SearchProfile.from_dict(alice_client.get(f"/api/galleries/{gallery.pk}/").json()["he_profile"])
    header, sections = he_wire.unpack(HEClient(profile).public_context(), PUBLIC_CONTEXT)
    header.pop("kind")
    zstd = he_wire.pack(PUBLIC_CONTEXT, {**header, "format": he_browser.BROWSER_FORMAT}, sections)
    response = alice_client.post("/api/he/contexts/", zstd, content_type="application/octet-stream")
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert "seal-4.1" in detail and "\n" not in detail
    unknown = he_wire.pack(PUBLIC_CONTEXT, {**header, "format": "seal-9.9"}, sections)
    response = alice_client.post("/api/he/contexts/", unknown, content_type="application/octet-stream")
    assert response.status_code == 400  # not taken for a CLI context either


@pytest.mark.slow
@pytest.mark.e2e
def test_the_browser_does_the_he_half_of_a_private_search(server, worker, transactional_db, tmp_path):
    from tenseal import sealapi

    from inference import redisio
    from inference.engine.he_params import seal_context
    from inference.engine.he_server import load_public_context
    from inference.search import _loads_as_secret_key

    user, token = create_user("ada", "ada-password-1")
    gallery, emb = synthetic_gallery(user)
    rng = np.random.default_rng(5)
    query = emb[TARGET] + 0.05 * rng.standard_normal(DIM)  # near TARGET, not equal to it
    result = run_page(server, token, gallery.pk, query, tmp_path)

    scores = np.array(result["scores"])
    expected = emb @ (query / np.linalg.norm(query))
    assert scores.shape == (ENTRIES,)
    assert int(np.argmax(scores)) == TARGET == int(np.argmax(expected))
    assert np.abs(scores - expected).max() < 1e-3
    assert result["format"] == he_browser.BROWSER_FORMAT

    # What the browser uploaded holds public material only, and so does what the server kept.
    context = base64.b64decode(result["context_b64"])
    query_bytes = base64.b64decode(result["query_b64"])
    header, sections = he_wire.unpack(context, PUBLIC_CONTEXT)
    assert header["format"] == he_browser.BROWSER_FORMAT and len(sections) == 1
    kept = redisio.client().get(redisio.context_key(result["key_id"], user.pk))
    assert kept == he_browser.context_from_browser(context) and key_id_of(kept) == result["key_id"]
    _, kept_sections = he_wire.unpack(kept, PUBLIC_CONTEXT)
    from inference.engine.he_layout import SearchProfile

    profile = SearchProfile.from_dict(result["profile"])
    assert not any(_loads_as_secret_key(profile, s) for s in kept_sections)
    loaded = load_public_context(kept)
    assert loaded.galois_keys is not None and not loaded.has_secret_key()
    _, (query_section,) = he_wire.unpack(he_browser.query_from_browser(query_bytes), QUERY)
    assert not _loads_as_secret_key(profile, query_section)
    ct = sealapi.Ciphertext()
    he_wire.seal_load(lambda p: ct.load(seal_context(profile.params), p), query_section)
    assert ct.size() == 2

    # node-seal's own objects walk as their kinds: its parameters are the server's (same primes),
    # and its secret key is a secret key, which is no Galois key and no ciphertext.
    parms = base64.b64decode(result["parms_b64"])
    server_parms = sealapi.EncryptionParameters(sealapi.SCHEME_TYPE.CKKS)
    he_wire.seal_load(server_parms.load, seal_compat.convert(parms, "parms", seal_compat.server_version()))
    ctx_parms = seal_context(profile.params).key_context_data().parms()
    assert [m.value() for m in server_parms.coeff_modulus()] == [m.value() for m in ctx_parms.coeff_modulus()]
    assert server_parms.poly_modulus_degree() == profile.params.poly_degree
    secret_key = base64.b64decode(result["secret_key_b64"])
    assert seal_compat.parse(secret_key, "secret_key")[0] == (4, 1)
    assert not any(seal_compat.parses_as(secret_key, kind) for kind in ("galois_keys", "ciphertext", "parms"))

    # The browser's secret key dressed as a public context is refused.
    assert result["secret_status"] == 400 and "secret key" in result["secret_detail"]
    print(json.dumps({"bytes": result["bytes"], "times_ms": result["times"],
                      "server_seconds": result["server_seconds"]}))
