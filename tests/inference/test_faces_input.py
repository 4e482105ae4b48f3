"""Upload handling (bad bytes, bombs, types, EXIF), no-face errors and the embedder interface."""

from __future__ import annotations

import io
import os
import pickle
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from inference.engine.embedders import DlibResNetEmbedder, KerasEmbedder, reference_embedder
from inference.engine.face_image import BadImage, UnsupportedImageType, load_image
from inference.engine.faces import NoFaceError, align_face, align_face_bytes
from privface_core.errors import UserError

REPO = Path(__file__).resolve().parents[2]


def encode(image: np.ndarray, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format=fmt, **kw)
    return buf.getvalue()


def png_header(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims width x height, with one tiny IDAT: what a bomb looks like to a parser."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def a_face_photo() -> bytes:
    root = Path(os.environ.get("PRIVFACE_FIXTURES", REPO.parent / "shared" / "fixtures"))
    return (root / "faces" / "img1.jpg").read_bytes()


def test_plain_gray_image_has_no_face():
    with pytest.raises(NoFaceError) as err:
        align_face_bytes(encode(np.full((240, 320, 3), 128, np.uint8), "PNG"))
    assert err.value.http_status == 422 and isinstance(err.value, UserError)
    assert "no face" in str(err.value)


@pytest.mark.parametrize(
    "data",
    [
        b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8,  # JPEG magic, garbage after it
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 100,
        b"",
    ],
    ids=["jpeg-garbage", "png-garbage", "empty"],
)
def test_garbage_bytes_are_400(data):
    with pytest.raises(BadImage) as err:
        load_image(data)
    assert err.value.http_status == 400 and isinstance(err.value, UserError)


def test_truncated_photo_is_400():
    data = a_face_photo()
    with pytest.raises(BadImage):
        load_image(data[: len(data) // 3])


@pytest.mark.parametrize(
    "data",
    [b"name,identity\nalice,person_00\n", b"GIF89a" + b"\0" * 32, np.random.default_rng(0).bytes(512)],
    ids=["text", "gif", "random"],
)
def test_not_an_accepted_image_type_is_415(data):
    with pytest.raises(UnsupportedImageType) as err:
        load_image(data)
    assert err.value.http_status == 415 and isinstance(err.value, UserError)


@pytest.mark.parametrize("size", [(100_000, 100_000), (10_000, 8_000)], ids=["pillow-bomb", "over-our-limit"])
def test_decompression_bomb_is_400_without_decoding_it(size, monkeypatch):
    from PIL import ImageFile

    def no_decode(self):
        raise AssertionError("pixels decoded")  # not an OSError: load_image must not swallow it

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decode)
    with pytest.raises(BadImage) as err:
        load_image(png_header(*size))
    assert err.value.http_status == 400
    assert "too large" in str(err.value) or "limit" in str(err.value)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "BMP"])
def test_accepted_formats_decode_to_rgb(fmt):
    image = np.zeros((20, 30, 3), np.uint8)
    image[:, :15] = (200, 40, 10)
    out = load_image(encode(image, fmt))
    assert out.shape == (20, 30, 3) and out.dtype == np.uint8
    assert abs(int(out[10, 5, 0]) - 200) < 12


def test_grayscale_and_alpha_become_rgb():
    assert load_image(encode(np.zeros((8, 9), np.uint8), "PNG")).shape == (8, 9, 3)
    assert load_image(encode(np.zeros((8, 9, 4), np.uint8), "PNG")).shape == (8, 9, 3)


def test_exif_orientation_is_applied():
    image = np.zeros((20, 40, 3), np.uint8)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    assert load_image(encode(image, "JPEG", exif=exif.tobytes())).shape == (40, 20, 3)


def test_rotated_photo_is_found_after_exif_transpose():
    rotated = Image.open(io.BytesIO(a_face_photo())).transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6  # undoes ROTATE_90 (counter-clockwise) on display
    face = align_face_bytes(encode(np.asarray(rotated), "JPEG", exif=exif.tobytes(), quality=95))
    assert face.detected


def test_reference_embedder_interface():
    emb = reference_embedder()
    assert isinstance(emb, DlibResNetEmbedder) and emb is reference_embedder()
    source = "face-recognition-models 0.3.0"
    assert emb.metadata == {"name": "dlib-resnet-v1", "dim": 128, "private": False, "source": source}
    assert 0 < emb.default_threshold < 1
    face = align_face_bytes(a_face_photo())
    vec = emb.embed(face)
    assert vec.shape == (128,) and vec.dtype == np.float32
    assert abs(float(np.linalg.norm(vec)) - 1) < 1e-5
    # The raw 150x150 chip gives the same vector as the face it came from.
    np.testing.assert_allclose(emb.embed(face.dlib_chip), vec, atol=1e-6)
    assert emb.embed_batch([face, face]).shape == (2, 128)
    assert emb.embed_batch([]).shape == (0, 128)
    with pytest.raises(ValueError, match="150x150"):
        emb.embed(face.crop)
    # Plain arrays only, so a face can travel to a Celery worker.
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(face)).dlib_chip, face.dlib_chip)


def test_keras_embedder_takes_the_arcface_crop_and_loads_lazily():
    emb = KerasEmbedder("/nonexistent/model.keras", name="casia-dp")
    assert emb.input_size == 112 and emb.private and emb.name == "casia-dp"


def test_engine_modules_do_not_load_dlib_cv2_or_pillow_at_import():
    code = (
        "import sys, inference.engine.faces, inference.engine.embedders;"
        "print([m for m in ('dlib', 'cv2', 'PIL', 'face_recognition_models') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_align_face_rejects_non_images():
    with pytest.raises(ValueError):
        align_face(np.zeros((10, 10), np.float32))
    with pytest.raises(ValueError):
        align_face(np.zeros((10, 10, 4), np.uint8))
