"""The loop in the CLI: `run.py train` exports a DP backbone, `run.py enroll --model` uses it
(through the one backbone loader, custom layers registered) and `run.py inference` searches
with it; a bad or replaced model file is one line, exit 2."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess

import pytest

from .conftest import run_cli
from .helpers import FACES, PROBE, enrollment_photos

pytestmark = pytest.mark.slow


def error_line(done: subprocess.CompletedProcess) -> str:
    """The CLI's one-line error (TensorFlow's own C++ start-up log lines may precede it)."""
    lines = [line for line in done.stderr.strip().splitlines()
             if not line.startswith(("WARNING: All log messages", "I0000"))]
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    return lines[0]


def last_json(done: subprocess.CompletedProcess) -> dict:
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_it_trains_enrolls_with_the_model_and_searches_with_it(trained_backbone, tmp_path):
    trained = trained_backbone
    card = json.loads(trained.with_name("model_card.json").read_text())
    assert card["verification"]["far_threshold"] is not None
    labels = tmp_path / "labels.csv"
    with open(labels, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["file", "identity"])
        writer.writerows(enrollment_photos(["person_00", "person_01", "person_02", "person_03"], 3))
    summary = last_json(run_cli("enroll", "--gallery", "trained", "--images_dir", str(FACES), "--labels", str(labels),
                                "--model", str(trained), "--quiet", "--json", var_dir=tmp_path))
    embedder = summary["embedder"]
    assert embedder["name"].startswith("keras:") and embedder["dim"] == card["model"]["embedding_size"]
    assert embedder["privacy"]["private"] is True
    assert embedder["privacy"]["epsilon"] == pytest.approx(card["dp"]["epsilon"])
    assert embedder["privacy"]["unit"].startswith("one image")
    assert (summary["identities"], summary["templates"], summary["faces"]) == (4, 4, "portable")
    calibration = summary["calibration"]
    assert calibration["impostor_pairs"] == 12 * 3 and calibration["genuine_pairs"] == 12
    assert summary["threshold"] == calibration["threshold"] is not None

    # The gallery remembers its model: no --model needed, and the result says which one.
    result = last_json(run_cli("inference", "--gallery", "trained", "--query_image", str(FACES / PROBE[0]),
                               "--threshold", "-1", "--top_k", "4", "--json", var_dir=tmp_path))
    assert result["embedder"]["name"] == embedder["name"] and len(result["matches"]) == 4
    assert {m["identity"] for m in result["matches"]} == {"person_00", "person_01", "person_02", "person_03"}
    default = last_json(run_cli("inference", "--gallery", "trained", "--query_image", str(FACES / PROBE[0]),
                                "--json", var_dir=tmp_path))
    assert default["threshold"] == summary["threshold"]
    other = run_cli("inference", "--gallery", "trained", "--query_image", str(FACES / PROBE[0]), "--faces", "dlib",
                    var_dir=tmp_path)
    assert other.returncode == 2 and "enrolled with portable faces" in error_line(other)
    refused = run_cli("enroll", "--gallery", "ref", "--images_dir", str(FACES), "--labels", str(labels),
                      "--faces", "portable", var_dir=tmp_path)
    assert refused.returncode == 2 and "--faces portable needs a trained --model" in error_line(refused)

    # The model file is replaced: the search is refused, in one line.
    copy = tmp_path / "model" / "backbone.keras"
    copy.parent.mkdir()
    shutil.copy(trained, copy)
    enrolled = last_json(run_cli("enroll", "--gallery", "copy", "--images_dir", str(FACES), "--labels", str(labels),
                                 "--model", str(copy), "--quiet", "--json", var_dir=tmp_path))
    assert enrolled["embedder"]["name"] == embedder["name"]  # named by digest: same file, same embedder
    with open(copy, "ab") as fh:
        fh.write(b"\0")
    changed = run_cli("inference", "--gallery", "copy", "--query_image", str(FACES / PROBE[0]), var_dir=tmp_path)
    assert changed.returncode == 2
    assert "enrolled with keras:" in error_line(changed)


def test_it_refuses_a_file_that_is_not_a_backbone_in_one_line(tmp_path):
    bad = tmp_path / "bad.keras"
    bad.write_bytes(b"not a model")
    done = run_cli("enroll", "--gallery", "g", "--images_dir", str(FACES), "--labels", str(FACES / "labels.csv"),
                   "--model", str(bad), "--quiet", var_dir=tmp_path)
    assert done.returncode == 2
    assert "not a loadable Keras backbone" in error_line(done)
