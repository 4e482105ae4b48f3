"""Upload the webface_tiny fixture through the API; a real worker validates and extracts it."""

import pytest

from datasets.models import Dataset
from jobs.models import Job
from tests.live import wait_for

from .helpers import WEBFACE, upload

pytestmark = pytest.mark.slow


def finished(job_id: int) -> Job | None:
    job = Job.objects.get(pk=job_id)
    return job if job.is_terminal else None


def make_dataset(client, files: dict[str, bytes]) -> tuple[int, Job]:
    dataset_id = client.post("/api/datasets/", {"name": "tiny"}, format="json").json()["id"]
    for name, data in files.items():
        upload(client, dataset_id, name, data, chunk_size=64 << 10)
    response = client.post(f"/api/datasets/{dataset_id}/finalize/")
    assert response.status_code == 202, response.content
    job = wait_for(lambda: finished(response.json()["id"]), 60, "extraction job")
    return dataset_id, job


def test_it_extracts_webface_tiny(worker, alice_client, bob_client):
    files = {name: (WEBFACE / name).read_bytes() for name in ("train.rec", "train.idx", "train.lst", "lfw_tiny.bin")}
    dataset_id, job = make_dataset(alice_client, files)
    assert job.status == "succeeded", job.error
    dataset = alice_client.get(f"/api/datasets/{dataset_id}/").json()
    assert (dataset["status"], dataset["images"], dataset["identities"], dataset["layout"]) == (
        "ready", 80, 10, "insightface")
    kinds = list(job.events.values_list("kind", flat=True))
    assert kinds.count("progress") >= 1 and kinds[-1] == "status"

    identities = alice_client.get(f"/api/datasets/{dataset_id}/identities/").json()
    assert identities["count"] == 10
    assert [(i["label"], i["count"]) for i in identities["results"]] == [(n, 8) for n in range(10)]
    sample = identities["results"][0]["samples"][0].split("testserver")[1]
    image = alice_client.get(sample)
    assert image.status_code == 200 and image["Content-Type"] == "image/jpeg"
    assert b"".join(image.streaming_content)[:2] == b"\xff\xd8"
    assert bob_client.get(sample).status_code == 404

    storage = Dataset.objects.get(pk=dataset_id).storage_dir
    assert (storage / "extracted" / "eval" / "lfw_tiny" / "pairs.csv").exists()
    assert alice_client.delete(f"/api/datasets/{dataset_id}/").status_code == 204
    assert not storage.exists()


def test_a_truncated_rec_fails_with_a_clear_message(worker, alice_client):
    rec = (WEBFACE / "train.rec").read_bytes()
    dataset_id, job = make_dataset(alice_client, {"train.rec": rec[:-100], "train.idx":
                                                  (WEBFACE / "train.idx").read_bytes()})
    assert job.status == "failed"
    dataset = alice_client.get(f"/api/datasets/{dataset_id}/").json()
    assert dataset["status"] == "failed"
    assert dataset["error"] == job.error
    # the user's file names, not server paths, in one line
    assert job.error.startswith("train.idx line 90: offset 425272 is past the end of the .rec")
    assert "/uploads/" not in job.error
    assert len(job.error.splitlines()) == 1


def test_train_from_rec_indexes_without_writing_images(worker, alice_client):
    dataset_id = alice_client.post("/api/datasets/", {"name": "indexed", "extract_images": False},
                                   format="json").json()["id"]
    for name in ("train.rec", "train.idx"):
        upload(alice_client, dataset_id, name, (WEBFACE / name).read_bytes(), chunk_size=1 << 20)
    job_id = alice_client.post(f"/api/datasets/{dataset_id}/finalize/").json()["id"]
    job = wait_for(lambda: finished(job_id), 60, "indexing job")
    assert job.status == "succeeded", job.error
    dataset = alice_client.get(f"/api/datasets/{dataset_id}/").json()
    assert (dataset["status"], dataset["images"], dataset["identities"]) == ("ready", 80, 10)
    assert dataset["summary"]["extracted"] is False
    assert not list(Dataset.objects.get(pk=dataset_id).extracted_dir.glob("*/*.jpg"))
