"""`run.py enroll` and `run.py inference` on the shared face photos, local mode (no Django)."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

from tests.live import ROOT

from .helpers import FACES, FIXTURES, PROBE, STRANGER, enrollment_photos


def run_cli(*args: str, var_dir) -> subprocess.CompletedProcess:
    import os

    env = {**os.environ, "PRIVFACE_VAR_DIR": str(var_dir)}
    return subprocess.run([sys.executable, "run.py", *args], cwd=ROOT, capture_output=True, text=True, env=env,
                          timeout=120)


def test_enroll_and_search_locally(tmp_path):
    labels = tmp_path / "labels.csv"
    with open(labels, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["file", "identity"])
        writer.writerows(enrollment_photos(["person_00", "person_01", "person_02"], 2))
    enrolled = run_cli("enroll", "--gallery", "fixtures", "--images_dir", str(FACES), "--labels", str(labels),
                       "--quiet", "--json", var_dir=tmp_path)
    assert enrolled.returncode == 0, enrolled.stderr
    summary = json.loads(enrolled.stdout.strip().splitlines()[-1])
    assert (summary["identities"], summary["templates"], summary["enrolled"]) == (3, 3, 6)
    folder = tmp_path / "galleries-cli" / "fixtures"
    assert (folder / "key").stat().st_mode & 0o777 == 0o600
    for path in (folder / "data").rglob("*"):
        if path.is_file():
            assert path.read_bytes()[:4] == b"PFAR", path  # encrypted at rest

    found = run_cli("inference", "--gallery", "fixtures", "--query_image", str(FACES / PROBE[0]), "--json",
                    var_dir=tmp_path)
    assert found.returncode == 0, found.stderr
    result = json.loads(found.stdout.strip().splitlines()[-1])
    assert result["matches"][0]["identity"] == PROBE[1] and result["aligned"] is True
    assert result["faces_found"] == 1 and result["server"]["shards"] == 1

    stranger = run_cli("inference", "--gallery", "fixtures", "--query_image", str(FACES / STRANGER[0]),
                       var_dir=tmp_path)
    assert stranger.returncode == 0, stranger.stderr
    assert stranger.stdout.strip().splitlines()[-1].startswith("no match in gallery fixtures")


def test_bad_input_is_one_line_and_exit_2(tmp_path):
    unknown = run_cli("inference", "--gallery", "nobody", "--query_image", str(FACES / PROBE[0]), var_dir=tmp_path)
    assert unknown.returncode == 2
    assert unknown.stderr.strip().splitlines() == [unknown.stderr.strip()]
    assert unknown.stderr.startswith("error: no gallery 'nobody'")
    bad_name = run_cli("enroll", "--gallery", "../x", "--dataset_path", str(tmp_path), var_dir=tmp_path)
    assert bad_name.returncode == 2 and bad_name.stderr.startswith("error: --gallery '../x'")
    empty = run_cli("enroll", "--gallery", "x", "--dataset_path", str(tmp_path), var_dir=tmp_path)
    assert empty.returncode == 2 and "no photos found" in empty.stderr


def test_enroll_reads_a_recordio_dataset_in_place(tmp_path):
    plain = FIXTURES / "recordio" / "im2rec_plain"
    out = run_cli("enroll", "--gallery", "plain", "--rec_file", str(plain / "train.rec"), "--idx_file",
                  str(plain / "train.idx"), "--mode", "all", "--quiet", "--json", var_dir=tmp_path)
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert (summary["identities"], summary["templates"], summary["mode"]) == (4, 12, "all")
