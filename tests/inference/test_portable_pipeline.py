"""The portable pipeline behind a gallery's ``faces = "portable"``: ``faces.align_face_bytes``
gives portable_faces' crop (the browser's) as an AlignedFace, an enrollment with
``faces="portable"`` embeds exactly that crop, and the served model files are the two known."""

from __future__ import annotations

import hashlib
import io

import numpy as np
import pytest
from PIL import Image

from inference.engine import portable_faces as pf
from inference.engine.enroll import Enrollment, labelled_identities
from inference.engine.face_image import load_image
from inference.engine.faces import NoFaceError, align_face_bytes
from privface_core.errors import UserError
from tests.inference.test_faces import faces_dir, read_csv


class CropEmbedder:
    """A 112x112 embedder whose template is the crop itself (flattened, unit length)."""

    name, input_size, dim, score_rule, private, source = "crop", 112, 112 * 112 * 3, "cosine", False, "test"

    @property
    def metadata(self) -> dict:
        return {"name": self.name, "dim": self.dim}

    def embed_batch(self, faces) -> np.ndarray:
        rows = np.stack([f.crop.reshape(-1).astype(np.float64) for f in faces])
        return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def test_align_face_bytes_portable_is_portable_faces_crop():
    row = read_csv("labels.csv")[0]
    data = (faces_dir() / row["file"]).read_bytes()
    face = align_face_bytes(data, faces="portable")
    ref = pf.align_face(load_image(data))
    assert np.array_equal(face.crop, ref.crop) and face.crop.shape == (112, 112, 3)
    np.testing.assert_array_equal(face.landmarks, ref.points5)
    assert face.detected and face.n_faces == ref.n_faces and face.dlib_chip.size == 0
    dlib = align_face_bytes(data)  # the default stays dlib
    assert dlib.dlib_chip.shape == (150, 150, 3) and not np.array_equal(dlib.crop, face.crop)


def test_aligned_crops_pass_through_and_faceless_photos_are_refused():
    crop = pf.align_face(load_image((faces_dir() / read_csv("labels.csv")[0]["file"]).read_bytes())).crop
    buf = io.BytesIO()
    Image.fromarray(crop).save(buf, "PNG")
    same = align_face_bytes(buf.getvalue(), aligned=True, faces="portable")
    assert np.array_equal(same.crop, crop) and not same.detected
    grey = io.BytesIO()
    Image.fromarray(np.full((200, 200, 3), 128, np.uint8)).save(grey, "PNG")
    with pytest.raises(NoFaceError):
        align_face_bytes(grey.getvalue(), faces="portable")
    with pytest.raises(UserError, match="faces must be one of dlib, portable"):
        align_face_bytes(buf.getvalue(), faces="opencv")


def test_a_portable_enrollment_embeds_the_browsers_crop():
    rows = read_csv("labels.csv")[:3]
    identities = labelled_identities([(r["identity"], r["file"], faces_dir() / r["file"]) for r in rows])
    enrollment = Enrollment(CropEmbedder(), "all", faces="portable")
    enrollment.add_all(identities)
    data, _ = enrollment.result()
    for row, template in zip(rows, data.embeddings, strict=True):
        crop = pf.align_face(load_image((faces_dir() / row["file"]).read_bytes())).crop.reshape(-1).astype(np.float64)
        np.testing.assert_allclose(template, crop / np.linalg.norm(crop), atol=1e-6)


def test_model_info_knows_only_the_two_files():
    for name in pf.MODEL_FILES:
        info = pf.model_info(name)
        assert info["sha256"] == hashlib.sha256((pf.MODELS / name).read_bytes()).hexdigest()
        assert info["bytes"] == (pf.MODELS / name).stat().st_size
    for name in ("convert.py", "../faces.py", "__init__.py"):
        with pytest.raises(KeyError):
            pf.model_info(name)
