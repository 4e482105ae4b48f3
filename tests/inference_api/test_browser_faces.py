"""Issue #13, the detector half: faces.ts in Chromium (onnxruntime-web) finds, landmarks and
aligns the faces of every fixture photo as portable_faces.py (onnxruntime) does.

Two comparisons per photo: on the server's own pixels (PIL's decoding, handed to the page),
where both sides compute the same thing and must agree to float rounding; and on the photo
as the browser decodes it (what a private search sees), where the 5 points must stay within
1 px of the server's. No server is needed: frontend/e2e/portable_faces.e2e.mjs serves the
page, the module, onnxruntime-web and the models by request routing.
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
from tests.inference.test_portable_faces import SHA256
from tests.live import ROOT

from .helpers import FACES

# Same pixels, same models and arithmetic: only onnxruntime's native vs wasm kernels differ.
SAME_PIXELS_MAX_POINT_PX = 0.01
SAME_PIXELS_MAX_CROP_LEVELS = 1  # a value at x.5 may round either way
BROWSER_DECODE_MAX_POINT_PX = 1.0


def photos() -> list[str]:
    return sorted(p.name for p in FACES.glob("*.jpg"))


def run_page(tmp_path) -> dict:
    chromium = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
    assert os.path.exists(chromium), "Debian's chromium is missing: `make chromium` installs it"
    pixels = tmp_path / "pixels"
    pixels.mkdir()
    manifest = []
    for name in photos():
        image = load_image((FACES / name).read_bytes())
        (pixels / f"{name}.rgb").write_bytes(np.ascontiguousarray(image).tobytes())
        manifest.append({"file": name, "width": image.shape[1], "height": image.shape[0]})
    (pixels / "manifest.json").write_text(json.dumps(manifest))
    env = dict(os.environ, PRIVFACE_USER="unused", PRIVFACE_PASSWORD="unused", PHOTOS_DIR=str(FACES),
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
