"""An extraction job's end writes the dataset's terminal state once, through the job kind's
on_finish hook (datasets.actions.extraction_ended), in the transaction that ends the job; the
handler only records the summary or raises (#12). The job runs in this process, no worker."""

import pytest

from datasets import actions
from datasets.models import Dataset
from jobs import actions as job_actions
from jobs import runner
from jobs.models import Job

from .helpers import WEBFACE, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def ends(monkeypatch):
    """(job status, dataset status) as the hook finds them, in the job's ending transaction."""
    seen, original = [], actions.extraction_ended

    def spy(job):
        seen.append((Job.objects.get(pk=job.pk).status, Dataset.objects.get(job_id=job.pk).status))
        return original(job)

    monkeypatch.setattr(actions, "extraction_ended", spy)
    return seen


def finalized(client, files: dict[str, bytes]) -> tuple[int, int]:
    dataset_id = client.post("/api/datasets/", {"name": "tiny", "extract_images": False}, format="json").json()["id"]
    for name, data in files.items():
        upload(client, dataset_id, name, data)
    response = client.post(f"/api/datasets/{dataset_id}/finalize/")
    assert response.status_code == 202, response.content
    return dataset_id, response.json()["id"]


def test_an_indexed_dataset_is_ready_with_its_job(alice_client, ends):
    dataset_id, job_id = finalized(alice_client, {name: (WEBFACE / name).read_bytes()
                                                  for name in ("train.rec", "train.idx")})
    runner.execute(job_id, "test-worker")
    dataset = Dataset.objects.get(pk=dataset_id)
    assert Job.objects.get(pk=job_id).status == "succeeded"
    assert (dataset.status, dataset.error, dataset.images, dataset.identities) == ("ready", "", 80, 10)
    assert ends == [("succeeded", "extracting")]


def test_a_bad_dataset_fails_with_its_job(alice_client, ends):
    rec = (WEBFACE / "train.rec").read_bytes()
    dataset_id, job_id = finalized(alice_client, {"train.rec": rec[:-100],
                                                  "train.idx": (WEBFACE / "train.idx").read_bytes()})
    runner.execute(job_id, "test-worker")
    job, dataset = Job.objects.get(pk=job_id), Dataset.objects.get(pk=dataset_id)
    assert job.status == "failed" and job.error.startswith("train.idx line 90: offset 425272 is past the end")
    assert (dataset.status, dataset.error) == ("failed", job.error)
    assert ends == [("failed", "extracting")]


def test_a_cancel_before_it_ran_fails_the_dataset(alice_client, ends):
    dataset_id, job_id = finalized(alice_client, {name: (WEBFACE / name).read_bytes()
                                                  for name in ("train.rec", "train.idx")})
    job_actions.request_cancel(job_id)
    dataset = Dataset.objects.get(pk=dataset_id)
    assert (dataset.status, dataset.error) == ("failed", "extraction cancelled")
    assert ends == [("cancelled", "validating")]
