"""Shared pieces for the gallery / encrypted-search API tests (fixture photos: shared/fixtures/faces)."""

from __future__ import annotations

import csv
import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(os.environ.get("PRIVFACE_FIXTURES", REPO.parent / "shared" / "fixtures"))
FACES = FIXTURES / "faces"

# person_00 .. person_06 enrolled with their first three photos (labels.csv order);
# person_07 is never enrolled. The probes are photos left out of the enrollment.
ENROLLED_PEOPLE = [f"person_0{i}" for i in range(7)]
PHOTOS_PER_PERSON = 3
PROBE = ("img43.jpg", "person_01")
MIRRORED_PROBE = ("img55.jpg", "person_03")
STRANGER = ("img38.jpg", "person_07")


def labelled() -> list[tuple[str, str]]:
    with open(FACES / "labels.csv", newline="") as fh:
        return [(row["file"], row["identity"]) for row in csv.DictReader(fh)]


def enrollment_photos(people=ENROLLED_PEOPLE, per_person: int = PHOTOS_PER_PERSON) -> list[tuple[str, str]]:
    """(file, identity) for the first ``per_person`` photos of each of ``people``."""
    chosen: dict[str, list[str]] = {}
    for name, person in labelled():
        if person in people and len(chosen.setdefault(person, [])) < per_person:
            chosen[person].append(name)
    return [(name, person) for person in people for name in chosen[person]]


def photo(name: str) -> bytes:
    return (FACES / name).read_bytes()


def mirrored(data: bytes) -> bytes:
    buf = io.BytesIO()
    ImageOps.mirror(Image.open(io.BytesIO(data)).convert("RGB")).save(buf, "JPEG", quality=95)
    return buf.getvalue()


def grey_jpeg(size=(200, 160)) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((size[1], size[0], 3), 128, np.uint8)).save(buf, "JPEG")
    return buf.getvalue()


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A PNG whose header claims width x height pixels (never decoded)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def make_ready_gallery(owner, name: str = "direct", photos=None):
    """A ready gallery enrolled in this process (no worker), for tests of the search's input checks."""
    import secrets

    from inference.engine.embedders import reference_embedder
    from inference.engine.enroll import Enrollment, labelled_identities
    from inference.models import Gallery, GalleryStatus
    from inference.storage import store_for

    photos = photos or enrollment_photos(ENROLLED_PEOPLE[:2], 1)
    embedder = reference_embedder()
    enrollment = Enrollment(embedder, "mean")
    enrollment.add_all(labelled_identities([(person, name_, FACES / name_) for name_, person in photos]))
    data, thumbs = enrollment.result()
    gallery = Gallery.objects.create(owner=owner, name=name, source="images", embedder=embedder.name,
                                     dim=embedder.dim)
    store = secrets.token_hex(8)
    store_for(gallery.pk, store).write(data, thumbs)
    calibration, scores = enrollment.calibrate(data, 0.01, embedder.default_threshold)
    store_for(gallery.pk, store).write_calibration(*enrollment.calibration_samples(), scores.to_arrays())
    Gallery.objects.filter(pk=gallery.pk).update(store=store, status=GalleryStatus.READY, templates=len(data),
                                                 identities=len(data.identities), photos=enrollment.enrolled,
                                                 calibration=calibration.to_dict())
    gallery.refresh_from_db()
    return gallery


def register_model(owner, backbone: Path, name: str = "casia dp"):
    """A registry row for a trained backbone, its export folder copied where the server keeps models."""
    import json
    import shutil

    from training.models import TrainedModel

    card = json.loads(backbone.with_name("model_card.json").read_text())
    dp = card["dp"]
    model = TrainedModel.objects.create(owner=owner, name=name, card=card, private=True, epsilon=dp["epsilon"],
                                        delta=dp["delta"], accountant=dp["accountant"])
    shutil.copytree(backbone.parent, model.export_dir)
    return model


def finished(job_id: int):
    """The job once it has ended, else None (a wait_for predicate)."""
    from jobs.models import Job

    job = Job.objects.get(pk=job_id)
    return job if job.is_terminal else None


def search(client, gallery_id: int, data: bytes, **extra):
    """A server-side search of the photo ``data`` (multipart, as the dashboard sends it)."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post(f"/api/galleries/{gallery_id}/search/",
                       {"image": SimpleUploadedFile("probe.jpg", data), **extra}, format="multipart")


def register_with_onnx(owner, backbone: Path, tmp_path: Path, name: str):
    """The trained backbone registered as runs register theirs (with its ONNX export)."""
    import json
    import shutil

    from jobs.models import Job
    from training.actions import register_export

    folder = tmp_path / "export"
    shutil.copytree(backbone.parent, folder)
    card = json.loads((folder / "model_card.json").read_text())
    model = register_export(Job.objects.create(owner=owner, kind="train"), None, name, card, folder)
    assert model.onnx_sha256, model.card.get("onnx")
    return model
