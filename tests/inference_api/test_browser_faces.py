"""Issue #13, the detector half: faces.ts in Chromium (onnxruntime-web) finds, landmarks and
aligns the faces of every fixture photo as portable_faces.py (onnxruntime) does.

Two comparisons per photo: on the server's own pixels (PIL's decoding, handed to the page),
where both sides compute the same thing and must agree to float rounding; and on the photo
as the browser decodes it (what a private search sees), where the 5 points must stay within
1 px of the server's. No server is needed: frontend/e2e/portable_faces.e2e.mjs serves the
page, the module, onnxruntime-web and the models by request routing.

A photo stored turned with an EXIF Orientation tag (what a phone writes) is decoded upright by
decodePhoto (createImageBitmap's default imageOrientation, "from-image") as by the server
(tests/inference/test_exif_orientation.py), and gives the upright photo's face.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess

import numpy as np
import pytest

from inference.engine import portable_faces as pf
from inference.engine.face_image import load_image
from tests.inference.test_exif_orientation import MAX_CROP_MAD, MAX_POINT_PX, stored_as, upright_photo
from tests.inference.test_portable_faces import SHA256
from tests.live import ROOT

from .helpers import FACES

# Same pixels, same models and arithmetic: only onnxruntime's native vs wasm kernels differ.
SAME_PIXELS_MAX_POINT_PX = 0.01
SAME_PIXELS_MAX_CROP_LEVELS = 1  # a value at x.5 may round either way
BROWSER_DECODE_MAX_POINT_PX = 1.0


def photos() -> list[str]:
    return sorted(p.name for p in FACES.glob("*.jpg"))


def run_page(tmp_path, files: dict[str, bytes] | None = None) -> dict:
    """The page's results on ``files`` (name -> JPEG bytes; default: every fixture photo)."""
    chromium = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
    assert os.path.exists(chromium), "Debian's chromium is missing: `make chromium` installs it"
    if files is None:
        photos_dir = FACES
        files = {name: (FACES / name).read_bytes() for name in photos()}
    else:
        photos_dir = tmp_path / "photos"
        photos_dir.mkdir()
        for name, data in files.items():
            (photos_dir / name).write_bytes(data)
    pixels = tmp_path / "pixels"
    pixels.mkdir()
    manifest = []
    for name, data in files.items():
        image = load_image(data)
        (pixels / f"{name}.rgb").write_bytes(np.ascontiguousarray(image).tobytes())
        manifest.append({"file": name, "width": image.shape[1], "height": image.shape[0]})
    (pixels / "manifest.json").write_text(json.dumps(manifest))
    env = dict(os.environ, PRIVFACE_USER="unused", PRIVFACE_PASSWORD="unused", PHOTOS_DIR=str(photos_dir),
               PIXELS_DIR=str(pixels), OUT_JSON=str(tmp_path / "out.json"), SCREENSHOT_DIR=str(tmp_path),
               CHROMIUM_PATH=chromium)
    out = subprocess.run(["node", "e2e/portable_faces.e2e.mjs"], cwd=ROOT / "frontend", env=env,
                         capture_output=True, text=True, timeout=600)
    print(out.stdout)
    assert out.returncode == 0, f"{out.stdout}\n{out.stderr}"
    return json.loads((tmp_path / "out.json").read_text())


def crop(face: dict) -> np.ndarray:
    return np.frombuffer(base64.b64decode(face["crop_b64"]), np.uint8).reshape(112, 112, 3)


@pytest.mark.slow
@pytest.mark.e2e
def test_the_browser_aligns_faces_like_the_server(tmp_path):
    if not (FACES / "labels.csv").is_file():
        pytest.fail(f"fixture {FACES} missing (set PRIVFACE_FIXTURES)")
    result = run_page(tmp_path)
    assert result["models"] == SHA256
    report = {"photos": len(result["photos"]), "load_ms": round(result["load_ms"]),
              "align_median_ms": round(result["align_median_ms"])}
    same_pts, same_mad, pts, mads, decode = [], [], [], [], []
    for row in result["photos"]:
        name = row["file"]
        server = pf.align_face(load_image((FACES / name).read_bytes()))
        assert server is not None, name
        ours = server.points5
        # 1. The server's pixels in the page: the same computation.
        same = row["server_pixels"]
        assert same is not None and same["n_faces"] == server.n_faces, name
        np.testing.assert_allclose(same["box"], server.box, atol=0.01, err_msg=name)
        same_pts.append(np.abs(np.array(same["points5"]) - ours).max())
        diff = np.abs(crop(same).astype(int) - server.crop.astype(int))
        assert diff.max() <= SAME_PIXELS_MAX_CROP_LEVELS, (name, diff.max())
        same_mad.append(diff.mean())
        # 2. The browser's own JPEG decoding.
        assert row["decode"]["same_size"], name
        decode.append(row["decode"])
        seen = row["browser"]
        assert seen is not None and seen["n_faces"] == server.n_faces, name
        pts.append(np.linalg.norm(np.array(seen["points5"]) - ours, axis=1).max())
        mads.append(np.abs(crop(seen).astype(int) - server.crop.astype(int)).mean())
    report.update({
        "same_pixels_max_point_px": float(max(same_pts)), "same_pixels_crop_mad_max": float(max(same_mad)),
        "browser_decode_max_point_px": float(max(pts)), "browser_decode_mean_point_px": float(np.mean(pts)),
        "browser_decode_crop_mad_mean": float(np.mean(mads)), "browser_decode_crop_mad_max": float(max(mads)),
        "jpeg_decode_mad_mean": float(np.mean([d["mad"] for d in decode])),
        "jpeg_decode_max_level": int(max(d["max"] for d in decode)),
        "jpeg_decode_differing_fraction_mean": float(np.mean([d["differing"] for d in decode])),
    })
    print(json.dumps(report))
    assert max(same_pts) <= SAME_PIXELS_MAX_POINT_PX, report
    assert max(pts) <= BROWSER_DECODE_MAX_POINT_PX, report


@pytest.mark.slow
@pytest.mark.e2e
def test_the_browser_turns_an_exif_tagged_photo_upright(tmp_path):
    name, upright = upright_photo()
    files = {name: (FACES / name).read_bytes()}
    # 3: the same shape, so only the pixels tell; 6 and 8: a portrait stored as a landscape.
    tagged = {orientation: f"exif{orientation}-{name}" for orientation in (3, 6, 8)}
    for orientation, file in tagged.items():
        files[file] = stored_as(upright, orientation)
    rows = {row["file"]: row for row in run_page(tmp_path, files)["photos"]}
    plain = rows[name]
    assert plain["decode"]["same_size"] and plain["browser"] is not None, name
    for file in tagged.values():
        row = rows[file]
        # Decoded with the turn applied: the server's (upright) size and pixels, no further
        # from them than the untouched photo's decoding is from PIL's (0 levels in Chromium).
        assert row["decode"]["same_size"], (file, row["decode"])
        assert row["decode"]["max"] <= plain["decode"]["max"], (file, row["decode"], plain["decode"])
        seen = row["browser"]
        server = pf.align_face(load_image(files[file]))
        assert server is not None and seen is not None and seen["n_faces"] == server.n_faces, file
        assert np.linalg.norm(np.array(seen["points5"]) - server.points5, axis=1).max() <= BROWSER_DECODE_MAX_POINT_PX
        # And the upright photo's face: only the re-encoding (quality 95) differs.
        near = np.linalg.norm(np.array(seen["points5"]) - np.array(plain["browser"]["points5"]), axis=1).max()
        assert near <= MAX_POINT_PX, (file, near)
        mad = np.abs(crop(seen).astype(int) - crop(plain["browser"]).astype(int)).mean()
        assert mad <= MAX_CROP_MAD, (file, mad)
