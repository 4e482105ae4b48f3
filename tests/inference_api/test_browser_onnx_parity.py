"""Issue #13, the embedder half: a registered model is exported to ONNX at registration
(``register_export``, the path of centralized and federated runs), the model API lists its
digest and serves the file to its owner only, and Chromium running that file with
onnxruntime-web gives the templates onnxruntime gives on the server, on the aligned fixture
faces: cosine >= 0.99 per photo and the same rank-1 identity for every photo."""

from __future__ import annotations

import base64
import csv
import functools
import hashlib
import json
import os
import subprocess

import numpy as np
import pytest

from accounts.actions import create_user
from tests.live import ROOT

from .helpers import FACES

BROWSER_MIN_COSINE = 0.99


@functools.cache
def labelled_crops() -> tuple[np.ndarray, tuple[str, ...]]:
    """The aligned 112x112 crops (the server's dlib detection and 5-point alignment) of every
    labelled fixture photo, and their identities."""
    from inference.engine.faces import align_face_bytes

    with open(FACES / "labels.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return (np.stack([align_face_bytes((FACES / r["file"]).read_bytes()).crop for r in rows]),
            tuple(r["identity"] for r in rows))


def exported_backbone(tmp_path, embedding: int = 128, dp: bool = True):
    """A seeded random MobileFaceNet written as a training run exports it (``export/``)."""
    import keras

    from training.engine.export import export
    from training.engine.models import build_backbone

    keras.utils.set_random_seed(11)
    model = build_backbone("mobilefacenet", embedding, dp=dp)
    card = {"model": {"name": "mobilefacenet", "embedding_size": embedding},
            "dp": {"enabled": True, "epsilon": 4.0, "delta": 1e-5, "unit": "example", "accountant": "rdp"}}
    return export(tmp_path / "run", model, card), card


def register(owner, tmp_path, **kwargs):
    from jobs.models import Job
    from training.actions import register_export

    folder, card = exported_backbone(tmp_path, **kwargs)
    job = Job.objects.create(owner=owner, kind="train")
    return register_export(job, None, "browser model", card, folder)


def rank1(probes: np.ndarray, gallery: np.ndarray, identities: tuple[str, ...]) -> list[str]:
    """Leave-one-out rank-1: each probe against the mean template of every person's other photos."""
    people = sorted(set(identities))
    labels = np.array(identities)
    answers = []
    for i, probe in enumerate(probes):
        best, best_score = None, -np.inf
        for person in people:
            rows = [j for j in np.flatnonzero(labels == person) if j != i]
            centre = gallery[rows].mean(axis=0)
            score = float(probe @ (centre / np.linalg.norm(centre)))
            if score > best_score:
                best, best_score = person, score
        answers.append(best)
    return answers


@pytest.mark.django_db
def test_registration_exports_onnx_and_the_owner_downloads_it(alice, alice_client, bob_client, tmp_path):
    from training.engine.onnx_export import ONNX_FILE

    model = register(alice, tmp_path)
    path = model.export_dir / ONNX_FILE
    assert path.is_file() and not (tmp_path / "run" / "export").exists()
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    model.refresh_from_db()
    assert model.onnx_sha256 == digest == model.card["onnx"]["sha256"]
    assert model.card["onnx"]["check_min_cosine"] >= 0.9999
    listed = alice_client.get("/api/models/").json()
    entry = next(m for m in (listed.get("results", listed)) if m["id"] == model.pk)["onnx"]
    assert entry == {"sha256": digest, "url": f"/api/models/{model.pk}/onnx/", "bytes": path.stat().st_size}
    assert alice_client.get(f"/api/models/{model.pk}/").json()["onnx"] == entry
    response = alice_client.get(entry["url"])
    assert response.status_code == 200 and response["Content-Type"] == "application/octet-stream"
    body = b"".join(response.streaming_content)
    assert hashlib.sha256(body).hexdigest() == digest == response["X-Content-SHA256"]
    assert response["ETag"] == f'"{digest}"'
    assert bob_client.get(entry["url"]).status_code == 404  # owner only, as the zip download


@pytest.mark.django_db
def test_a_registered_model_embeds_on_the_server_with_onnxruntime(alice, tmp_path):
    """Enrollment and search (``KerasEmbedder.from_file``) run the registered ONNX file, the
    browser's runtime, with the Keras file's name and digest and the Keras templates; an ONNX
    file the card does not vouch for is left alone."""
    from inference.engine.embedders import KerasEmbedder, file_digest
    from training.engine.onnx_export import cosines

    model = register(alice, tmp_path)
    keras_file = model.export_dir / "backbone.keras"
    served = KerasEmbedder.from_file(keras_file, file_digest(keras_file))
    assert served.runtime == "onnxruntime" and served.onnx_path == str(model.onnx_path)
    assert served.digest == file_digest(keras_file) and served.dim == 128
    crops = labelled_crops()[0][:8]
    keras_only = KerasEmbedder(str(keras_file))
    assert keras_only.runtime == "keras"
    assert cosines(served.embed_batch(list(crops)), keras_only.embed_batch(list(crops))).min() >= 0.9999
    with open(model.onnx_path, "ab") as fh:
        fh.write(b"\0")
    assert KerasEmbedder.from_file(keras_file).runtime == "keras"


@pytest.mark.django_db
def test_a_model_without_onnx_lists_none_and_is_still_registered(alice, alice_client, tmp_path):
    from jobs.models import Job
    from training.actions import register_export

    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "backbone.keras").write_bytes(b"not a keras file")
    card = {"model": {"embedding_size": 8}}
    model = register_export(Job.objects.create(owner=alice, kind="train"), None, "broken", card, folder)
    assert model.onnx_sha256 == "" and "not a loadable Keras backbone" in model.card["onnx"]["error"]
    assert not (model.export_dir / "backbone.onnx").exists()
    assert alice_client.get(f"/api/models/{model.pk}/").json()["onnx"] is None
    assert alice_client.get(f"/api/models/{model.pk}/onnx/").status_code == 404


def run_page(server, token: str, model_id: int, crops: np.ndarray, tmp_path) -> dict:
    chromium = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
    assert os.path.exists(chromium), "Debian's chromium is missing: `make chromium` installs it"
    payload = {"count": len(crops), "rgb_b64": base64.b64encode(np.ascontiguousarray(crops).tobytes()).decode()}
    (tmp_path / "crops.json").write_text(json.dumps(payload))
    env = dict(os.environ, PRIVFACE_URL=server.url, PRIVFACE_USER="ada", PRIVFACE_PASSWORD="unused",
               PRIVFACE_TOKEN=token, MODEL_ID=str(model_id), CROPS_JSON=str(tmp_path / "crops.json"),
               OUT_JSON=str(tmp_path / "out.json"), SCREENSHOT_DIR=str(tmp_path), CHROMIUM_PATH=chromium)
    out = subprocess.run(["node", "e2e/onnx_parity.e2e.mjs"], cwd=ROOT / "frontend", env=env, capture_output=True,
                         text=True, timeout=300)
    print(out.stdout)
    assert out.returncode == 0, f"{out.stdout}\n{out.stderr}"
    return json.loads((tmp_path / "out.json").read_text())


@pytest.mark.slow
@pytest.mark.e2e
def test_the_browser_embeds_like_the_server(server, transactional_db, tmp_path):
    from inference.engine.embedders import KerasEmbedder
    from inference.engine.gallery import l2_normalise
    from training.engine.onnx_export import cosines, onnx_session, run_onnx

    if not (FACES / "labels.csv").is_file():
        pytest.fail(f"fixture {FACES} missing (set PRIVFACE_FIXTURES)")
    crops, identities = labelled_crops()
    user, token = create_user("ada", "ada-password-1")
    model = register(user, tmp_path, embedding=512)
    server_onnx = l2_normalise(run_onnx(onnx_session(model.onnx_path), crops))
    served = KerasEmbedder.from_file(model.export_dir / "backbone.keras")  # what enrollment runs
    assert served.runtime == "onnxruntime"
    np.testing.assert_allclose(served.embed_batch(list(crops)), server_onnx, atol=1e-6)
    server_keras = KerasEmbedder(str(model.export_dir / "backbone.keras")).embed_batch(list(crops))
    result = run_page(server, token, model.pk, crops, tmp_path)

    browser = np.array(result["templates"], dtype=np.float64)
    assert browser.shape == server_onnx.shape == (len(crops), 512) and result["dim"] == 512
    per_photo = cosines(browser, server_onnx)
    assert per_photo.min() >= BROWSER_MIN_COSINE, per_photo.min()
    batch = np.array(result["batch"], dtype=np.float64).reshape(browser.shape)
    assert cosines(batch, browser).min() >= BROWSER_MIN_COSINE
    assert cosines(browser, server_keras).min() >= BROWSER_MIN_COSINE
    # The same identity at rank 1 for every photo, browser probe or server probe, against
    # a gallery enrolled on the server.
    assert rank1(browser, server_onnx, identities) == rank1(server_onnx, server_onnx, identities)
    # The model the page ran is the registered one, checked and cached by its digest.
    assert result["onnx"]["sha256"] == model.onnx_sha256
    assert result["first_from_cache"] is False and result["second_from_cache"] is True
    assert result["downloads"] == 2  # the first load and the wrong-digest one; the second is cached
    assert result["wrong_digest"].startswith("ModelDigestError")
    keras_vs_browser = cosines(browser, server_keras)
    print(json.dumps({"min_cosine_browser_vs_server_onnx": float(per_photo.min()),
                      "min_cosine_browser_vs_keras": float(keras_vs_browser.min()),
                      "min_cosine_server_onnx_vs_keras": float(cosines(server_onnx, server_keras).min()),
                      "photos": len(crops), "model_bytes": result["model_bytes"], "times_ms": result["times"]}))
