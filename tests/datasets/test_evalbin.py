"""Verification ``.bin`` files: read with an unpickler that cannot run code."""

from __future__ import annotations

import csv
import os
import pickle
import struct
from pathlib import Path

import pytest

from datasets.engine.evalbin import extract_bin, read_bin
from privface_core.errors import UserError

from .builders import jpeg, png


def test_fixture_read(recordio_fixtures: Path) -> None:
    images, issame = read_bin(recordio_fixtures / "webface_tiny" / "lfw_tiny.bin")
    assert len(images) == 40 and len(issame) == 20
    assert issame == [i % 2 == 0 for i in range(20)]  # pairs alternate same/different
    assert all(image[:3] == b"\xff\xd8\xff" for image in images)


def test_fixture_extracted_as_pairs(recordio_fixtures: Path, tmp_path: Path) -> None:
    src = recordio_fixtures / "webface_tiny" / "lfw_tiny.bin"
    out = tmp_path / "lfw"
    summary = extract_bin(src, out)
    assert summary["pairs"] == 20 and summary["same"] == 10 and summary["image_size"] == {"width": 112, "height": 112}
    images, issame = read_bin(src)
    with open(out / "pairs.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 20
    for pair, row in enumerate(rows):
        assert (out / row["left"]).read_bytes() == images[2 * pair]
        assert (out / row["right"]).read_bytes() == images[2 * pair + 1]
        assert row["same"] == str(int(issame[pair]))


class Evil:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


@pytest.mark.parametrize(
    "payload",
    [
        pickle.dumps(([jpeg(), jpeg()], [Evil()])),
        pickle.dumps(Evil()),
        pickle.dumps(([jpeg(), jpeg()], [True]), protocol=2),  # py3 bytes at protocol 2 need _codecs
        pickle.dumps({"a": 1}),
    ],
)
def test_code_and_foreign_types_refused(tmp_path: Path, payload: bytes) -> None:
    path = tmp_path / "evil.bin"
    path.write_bytes(payload)
    with pytest.raises(UserError) as err:
        read_bin(path)
    assert "\n" not in str(err.value)
    assert not (tmp_path / "pwned").exists() and not Path("pwned").exists()


def test_malicious_pickle_message_names_the_global(tmp_path: Path) -> None:
    path = tmp_path / "evil.bin"
    path.write_bytes(pickle.dumps(([jpeg(), jpeg()], [Evil()])))
    with pytest.raises(UserError, match=r"refused: the pickle asks for (posix|os|nt)\.system"):
        read_bin(path)


@pytest.mark.parametrize(
    ("obj", "match"),
    [
        (([jpeg()], [True]), "1 images for 1 pairs"),
        (([jpeg(), "text"], [True]), "list of image bytes"),
        (([jpeg(), jpeg()], [1]), "list of booleans"),
        ((b"x",), "pickled \\(images, issame\\) pair"),
    ],
)
def test_wrong_shapes_refused(tmp_path: Path, obj: object, match: str) -> None:
    path = tmp_path / "bad.bin"
    path.write_bytes(pickle.dumps(obj))
    with pytest.raises(UserError, match=match):
        read_bin(path)


def test_garbage_and_empty_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.bin"
    path.write_bytes(b"")
    with pytest.raises(UserError, match="empty"):
        read_bin(path)
    path.write_bytes(b"\x80\x04garbage")
    with pytest.raises(UserError, match="not a valid .bin"):
        read_bin(path)


def test_non_image_payload_leaves_no_output(tmp_path: Path) -> None:
    path = tmp_path / "x.bin"
    path.write_bytes(pickle.dumps(([jpeg(), png(), jpeg(), b"not an image"], [True, False])))
    out = tmp_path / "out"
    with pytest.raises(UserError, match="image 3 \\(pair 1\\) is neither JPEG nor PNG"):
        extract_bin(path, out)
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["x.bin"]


def test_python2_pickled_bin_reads_strings_as_bytes(tmp_path: Path) -> None:
    # insightface's published .bin files were pickled by Python 2: BINSTRING, not BINBYTES.
    images = [jpeg(), png()]
    body = b"".join(b"T" + struct.pack("<I", len(i)) + i for i in images)
    path = tmp_path / "py2.bin"
    path.write_bytes(b"\x80\x02](" + body + b"e](\x88e\x86.")
    assert read_bin(path) == (images, [True])
