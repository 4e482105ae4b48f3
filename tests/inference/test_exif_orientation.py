"""A phone photo stored sideways with an EXIF Orientation tag is searched as the upright photo.

Cameras write the sensor's pixels as they come and record the turn in the tag, so the server
(face_image.load_image, ImageOps.exif_transpose) must apply it before detection, or the face
is sideways and not found. The browser half (decodePhoto in frontend/src/private/faces.ts,
createImageBitmap) is in tests/inference_api/test_browser_faces.py, on photos made here.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
import pytest
from PIL import Image

from inference.engine import portable_faces as pf
from inference.engine.embedders import reference_embedder
from inference.engine.face_image import load_image
from inference.engine.faces import NoFaceError, align_face_bytes
from tests.inference.test_faces import faces_dir, read_csv

ORIENTATION = 0x0112

# EXIF 2.3, tag 274: how to turn the stored pixels for display, written with numpy rather than
# Pillow's own table so that the test does not check exif_transpose against itself.
DISPLAY: dict[int, Callable[[np.ndarray], np.ndarray]] = {
    1: lambda a: a,
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.transpose(1, 0, 2),
    6: lambda a: np.rot90(a, -1),  # 90 degrees clockwise: the usual portrait phone photo
    7: lambda a: a.transpose(1, 0, 2)[::-1, ::-1],
    8: lambda a: np.rot90(a, 1),
}
# The turn a camera stored: its inverse.
STORE: dict[int, Callable[[np.ndarray], np.ndarray]] = {
    1: lambda a: a, 2: DISPLAY[2], 3: DISPLAY[3], 4: DISPLAY[4], 5: DISPLAY[5],
    6: DISPLAY[8], 7: DISPLAY[7], 8: DISPLAY[6],
}

# Re-encoding at quality 95 moves pixels by about one level; the landmarks move by well under
# a pixel (measured: 0.5 px at most, crop MAD 1.2, cosine 0.9996 on img1.jpg).
MAX_POINT_PX = 1.0
MAX_CROP_MAD = 2.5
MIN_COSINE = 0.999


def upright_photo() -> tuple[str, np.ndarray]:
    """The first labelled fixture photo (img1.jpg, 355x480: not square, so a turn changes its shape)."""
    name = read_csv("labels.csv")[0]["file"]
    return name, load_image((faces_dir() / name).read_bytes())


def stored_as(upright: np.ndarray, orientation: int, *, tag: bool = True) -> bytes:
    """``upright`` as a camera stores it for ``orientation``: turned pixels (JPEG, quality 95) plus
    the tag saying how to turn them back. ``tag=False`` gives the same JPEG without the tag."""
    buf = io.BytesIO()
    exif = Image.Exif()
    if tag:
        exif[ORIENTATION] = orientation
    Image.fromarray(np.ascontiguousarray(STORE[orientation](upright))).save(
        buf, "JPEG", quality=95, exif=exif.tobytes())
    return buf.getvalue()


def test_it_stores_and_displays_as_inverse_turns():
    image = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    for orientation in DISPLAY:
        assert np.array_equal(DISPLAY[orientation](STORE[orientation](image)), image), orientation


@pytest.mark.parametrize("orientation", range(1, 9))
def test_it_decodes_the_stored_pixels_turned_upright(orientation: int):
    _, upright = upright_photo()
    tagged = stored_as(upright, orientation)
    assert Image.open(io.BytesIO(tagged)).getexif()[ORIENTATION] == orientation
    # The tag only adds an APP1 segment, so the compressed pixels are the same and the
    # decodes compare exactly: the tagged photo is the untagged one turned for display.
    stored = load_image(stored_as(upright, orientation, tag=False))
    decoded = load_image(tagged)
    assert decoded.shape == upright.shape
    assert np.array_equal(decoded, DISPLAY[orientation](stored))


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_it_aligns_the_portable_crop_of_the_upright_photo(orientation: int):
    name, upright = upright_photo()
    ref = pf.align_face(upright)
    assert ref is not None, name
    face = align_face_bytes(stored_as(upright, orientation), faces="portable")
    assert face.detected and face.n_faces == ref.n_faces
    assert np.linalg.norm(face.landmarks - ref.points5, axis=1).max() <= MAX_POINT_PX
    assert np.abs(face.crop.astype(int) - ref.crop.astype(int)).mean() <= MAX_CROP_MAD


@pytest.mark.parametrize("orientation", [6, 8])
def test_it_finds_no_face_in_the_sideways_pixels_without_the_tag(orientation: int):
    # The control for the tests above: the tag, not the detector, makes the face upright.
    _, upright = upright_photo()
    for faces in ("portable", "dlib"):
        with pytest.raises(NoFaceError):
            align_face_bytes(stored_as(upright, orientation, tag=False), faces=faces)


@pytest.mark.parametrize("orientation", [6, 8])
def test_it_gives_the_reference_embedders_template_of_the_upright_photo(orientation: int):
    name, upright = upright_photo()
    embedder = reference_embedder()
    expected = embedder.embed(align_face_bytes((faces_dir() / name).read_bytes()))
    got = embedder.embed(align_face_bytes(stored_as(upright, orientation)))
    assert float(got @ expected) >= MIN_COSINE
