import pytest

from datasets.models import DatasetFile

from .helpers import announce, put_chunk, sha256, upload


@pytest.fixture
def dataset(alice_client) -> dict:
    response = alice_client.post("/api/datasets/", {"name": "webface"}, format="json")
    assert response.status_code == 201
    return response.json()


def test_it_uploads_in_chunks_and_resumes(alice_client, dataset):
    data = bytes(range(256)) * 4096  # 1 MiB
    created = announce(alice_client, dataset["id"], "train.rec", data).json()
    assert (created["role"], created["received"]) == ("rec", 0)
    base = f"/api/datasets/{dataset['id']}/files/{created['id']}"
    assert put_chunk(alice_client, dataset["id"], created["id"], 0, data[:300_000]).json()["received"] == 300_000
    # the connection dropped: ask where to resume, by id or by announcing the same file again
    assert alice_client.get(f"{base}/").json()["received"] == 300_000
    again = announce(alice_client, dataset["id"], "train.rec", data)
    assert again.status_code == 200 and again.json()["id"] == created["id"]
    # a retried chunk that overlaps what is stored is fine
    assert put_chunk(alice_client, dataset["id"], created["id"], 200_000, data[200_000:600_000]).status_code == 200
    last = put_chunk(alice_client, dataset["id"], created["id"], 600_000, data[600_000:])
    assert last.json()["received"] == len(data)
    done = alice_client.post(f"{base}/complete/").json()
    assert done["complete"] is True
    assert DatasetFile.objects.get(pk=created["id"]).path.read_bytes() == data


def test_it_refuses_a_gap_and_says_where_to_resume(alice_client, dataset):
    data = b"x" * 1000
    file_id = announce(alice_client, dataset["id"], "train.idx", data).json()["id"]
    put_chunk(alice_client, dataset["id"], file_id, 0, data[:100])
    response = put_chunk(alice_client, dataset["id"], file_id, 500, data[500:])
    assert response.status_code == 409
    assert response.json()["received"] == 100
    assert "resume from offset 100" in response.json()["detail"]


def test_it_refuses_bytes_past_the_announced_size(alice_client, dataset):
    file_id = announce(alice_client, dataset["id"], "train.idx", b"abc").json()["id"]
    response = put_chunk(alice_client, dataset["id"], file_id, 0, b"abcdef")
    assert response.status_code == 400
    assert "past the announced size 3" in response.json()["detail"]


def test_a_checksum_mismatch_is_refused_and_reset(alice_client, dataset):
    response = alice_client.post(f"/api/datasets/{dataset['id']}/files/",
                                 {"filename": "train.lst", "size": 3, "sha256": sha256(b"abd")}, format="json")
    file_id = response.json()["id"]
    put_chunk(alice_client, dataset["id"], file_id, 0, b"abc")
    done = alice_client.post(f"/api/datasets/{dataset['id']}/files/{file_id}/complete/")
    assert done.status_code == 400
    assert "checksum mismatch" in done.json()["detail"]
    assert alice_client.get(f"/api/datasets/{dataset['id']}/files/{file_id}/").json()["received"] == 0


def test_it_refuses_an_unknown_file_type(alice_client, dataset):
    response = announce(alice_client, dataset["id"], "notes.txt", b"hello")
    assert response.status_code == 400
    assert "not a dataset file" in response.json()["detail"]


def test_it_refuses_a_file_over_the_size_limit(alice_client, dataset, settings):
    settings.DATASET_MAX_FILE_BYTES = 10
    response = announce(alice_client, dataset["id"], "train.rec", b"x" * 11)
    assert response.status_code == 413
    assert "the limit is 10" in response.json()["detail"]


def test_it_refuses_a_file_over_the_quota(alice_client, dataset, settings):
    settings.DATASET_QUOTA_BYTES = 15
    assert announce(alice_client, dataset["id"], "train.rec", b"x" * 10).status_code == 201
    response = announce(alice_client, dataset["id"], "train.idx", b"x" * 10)
    assert response.status_code == 413
    assert "quota" in response.json()["detail"]


def test_it_refuses_a_chunk_over_the_chunk_limit(alice_client, dataset, settings):
    settings.UPLOAD_CHUNK_MAX_BYTES = 1 << 16
    file_id = announce(alice_client, dataset["id"], "train.rec", b"x" * (1 << 17)).json()["id"]
    assert put_chunk(alice_client, dataset["id"], file_id, 0, b"x" * (1 << 17)).status_code == 413


def test_finalize_needs_the_idx_with_the_rec(alice_client, dataset):
    upload(alice_client, dataset["id"], "train.rec", b"x" * 10)
    response = alice_client.post(f"/api/datasets/{dataset['id']}/finalize/")
    assert response.status_code == 400
    assert response.json()["detail"] == "the .rec file needs its .idx file"


def test_finalize_waits_for_every_file(alice_client, dataset):
    upload(alice_client, dataset["id"], "train.rec", b"x" * 10)
    announce(alice_client, dataset["id"], "train.idx", b"0\t0\n")
    response = alice_client.post(f"/api/datasets/{dataset['id']}/finalize/")
    assert response.status_code == 409
    assert response.json()["detail"] == "still uploading: train.idx"


def test_extraction_jobs_cannot_be_started_by_hand(alice_client, dataset):
    response = alice_client.post("/api/jobs/", {"kind": "dataset_extract", "params": {"dataset_id": dataset["id"]}},
                                 format="json")
    assert response.status_code == 400


@pytest.mark.parametrize("method, suffix", [
    ("get", ""), ("delete", ""), ("post", "finalize/"), ("get", "identities/"), ("get", "images/0/1.jpg"),
])
def test_other_users_get_404_on_a_dataset(bob_client, dataset, method, suffix):
    assert getattr(bob_client, method)(f"/api/datasets/{dataset['id']}/{suffix}").status_code == 404


def test_other_users_get_404_on_uploads(alice_client, bob_client, dataset):
    file_id = announce(alice_client, dataset["id"], "train.idx", b"abc").json()["id"]
    base = f"/api/datasets/{dataset['id']}/files/{file_id}"
    assert bob_client.get(f"{base}/").status_code == 404
    assert put_chunk(bob_client, dataset["id"], file_id, 0, b"abc").status_code == 404
    assert bob_client.post(f"{base}/complete/").status_code == 404
    assert announce(bob_client, dataset["id"], "x.bin", b"abc").status_code == 404


def test_a_stored_file_name_cannot_escape(alice_client, dataset):
    file_id = announce(alice_client, dataset["id"], "../../../etc/evil.rec", b"abc").json()["id"]
    path = DatasetFile.objects.get(pk=file_id).path
    assert path.name == "evil.rec"
    assert path.parent.parent.name == "uploads"


def test_a_file_can_be_removed_and_replaced(alice_client, dataset, django_capture_on_commit_callbacks):
    first = announce(alice_client, dataset["id"], "train.lst", b"one").json()
    assert announce(alice_client, dataset["id"], "train.lst", b"two").status_code == 409
    path = DatasetFile.objects.get(pk=first["id"]).path
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.delete(f"/api/datasets/{dataset['id']}/files/{first['id']}/")
    assert response.status_code == 204
    assert not path.exists()
    assert announce(alice_client, dataset["id"], "train.lst", b"two").status_code == 201


def test_other_users_cannot_remove_a_file(alice_client, bob_client, dataset):
    file_id = announce(alice_client, dataset["id"], "train.lst", b"one").json()["id"]
    assert bob_client.delete(f"/api/datasets/{dataset['id']}/files/{file_id}/").status_code == 404
    assert DatasetFile.objects.filter(pk=file_id).exists()


def test_a_stale_chunk_cannot_overwrite_accepted_bytes(alice_client, dataset):
    data = bytes(range(200)) * 5
    file_id = announce(alice_client, dataset["id"], "train.idx", data).json()["id"]
    put_chunk(alice_client, dataset["id"], file_id, 0, data[:600])
    # a late duplicate with damaged bytes over the accepted range, reaching 100 bytes further
    damaged = b"\0" * 400 + data[600:700]
    assert put_chunk(alice_client, dataset["id"], file_id, 200, damaged).json()["received"] == 700
    put_chunk(alice_client, dataset["id"], file_id, 700, data[700:])
    assert alice_client.post(f"/api/datasets/{dataset['id']}/files/{file_id}/complete/").status_code == 200
    assert DatasetFile.objects.get(pk=file_id).path.read_bytes() == data


def test_a_chunk_with_a_wrong_digest_is_refused(alice_client, dataset):
    data = b"abcdef" * 100
    file_id = announce(alice_client, dataset["id"], "train.idx", data).json()["id"]
    url = f"/api/datasets/{dataset['id']}/files/{file_id}/chunk/?offset=0"
    bad = alice_client.generic("PUT", url, data[:300], content_type="application/octet-stream",
                               HTTP_X_CHUNK_SHA256=sha256(b"something else"))
    assert bad.status_code == 400
    assert "does not match its X-Chunk-Sha256" in bad.json()["detail"]
    assert alice_client.get(f"/api/datasets/{dataset['id']}/files/{file_id}/").json()["received"] == 0
    good = alice_client.generic("PUT", url, data[:300], content_type="application/octet-stream",
                                HTTP_X_CHUNK_SHA256=sha256(data[:300]))
    assert good.json()["received"] == 300


@pytest.mark.parametrize("in_memory", [True, False], ids=["checked-before-the-lock", "streamed-under-the-lock"])
def test_chunks_bigger_than_the_memory_spool_are_streamed_and_checked(alice_client, dataset, settings, in_memory):
    # Django keeps a body up to FILE_UPLOAD_MAX_MEMORY_SIZE in memory; past that the chunk is
    # streamed to the file in 1 MiB blocks and its digest is checked after the write.
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = (4 << 20) if in_memory else (1 << 16)
    data = bytes(range(251)) * 10_000  # 2.5 MB: several copy blocks
    file_id = announce(alice_client, dataset["id"], "train.rec", data).json()["id"]
    url = f"/api/datasets/{dataset['id']}/files/{file_id}/chunk/?offset="
    first = alice_client.generic("PUT", url + "0", data[:2_000_000], content_type="application/octet-stream",
                                 HTTP_X_CHUNK_SHA256=sha256(data[:2_000_000]))
    assert first.json()["received"] == 2_000_000
    # damaged on the way: refused, and nothing of it is accepted
    damaged = data[1_000_000:1_999_999] + b"\0" + data[2_000_000:]
    bad = alice_client.generic("PUT", url + "1000000", damaged, content_type="application/octet-stream",
                               HTTP_X_CHUNK_SHA256=sha256(data[1_000_000:]))
    assert bad.status_code == 400 and "does not match its X-Chunk-Sha256" in bad.json()["detail"]
    assert alice_client.get(f"/api/datasets/{dataset['id']}/files/{file_id}/").json()["received"] == 2_000_000
    good = alice_client.generic("PUT", url + "1000000", data[1_000_000:], content_type="application/octet-stream",
                                HTTP_X_CHUNK_SHA256=sha256(data[1_000_000:]))
    assert good.json()["received"] == len(data)
    assert alice_client.post(f"/api/datasets/{dataset['id']}/files/{file_id}/complete/").status_code == 200
    assert DatasetFile.objects.get(pk=file_id).path.read_bytes() == data


def test_a_new_upload_starts_from_an_empty_file(alice_client, dataset):
    """Leftovers at the path of a new upload (ids restart with a restored database, say)
    must not end up in the file."""
    probe = announce(alice_client, dataset["id"], "probe.bin", b"x").json()
    folder = DatasetFile.objects.get(pk=probe["id"]).path.parent.parent / str(probe["id"] + 1)
    folder.mkdir(parents=True)
    (folder / "train.idx").write_bytes(b"left over from something else, and longer")
    data = b"fresh bytes"
    assert upload(alice_client, dataset["id"], "train.idx", data)["id"] == probe["id"] + 1
    assert (folder / "train.idx").read_bytes() == data
