"""Every write to datasets and their files. Each runs in a transaction; side effects
(queueing the extraction, removing files) happen on commit."""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from jobs import actions as job_actions
from jobs.models import Job, JobStatus
from privface_core.errors import Conflict, TooLarge, UserError

from .models import ROLE_BY_SUFFIX, Dataset, DatasetFile, DatasetStatus, bytes_reserved_by, clash_key

COPY_BLOCK = 1 << 20


def create_dataset(owner, name: str, *, extract_images: bool = True) -> Dataset:
    with transaction.atomic():
        dataset = Dataset.objects.create(owner=owner, name=name, extract_images=extract_images)
    dataset.uploads_dir.mkdir(parents=True, exist_ok=True)
    return dataset


def role_for(filename: str) -> str:
    base = os.path.basename(filename)
    if base == "property":
        return DatasetFile.Role.PROPERTY
    role = ROLE_BY_SUFFIX.get(os.path.splitext(base)[1].lower())
    if role is None:
        raise UserError(f"{filename}: not a dataset file (expected .rec, .idx, .lst, .bin or property)")
    return role


def add_file(dataset: Dataset, filename: str, size: int, sha256: str) -> tuple[DatasetFile, bool]:
    """Announce a file. The same name, size and checksum again returns the existing upload
    (the client resumes it); returns (file, created)."""
    role = role_for(filename)
    with transaction.atomic():
        dataset = Dataset.objects.select_for_update().get(pk=dataset.pk)
        if dataset.status != DatasetStatus.UPLOADING:
            raise Conflict(f"dataset is {dataset.status}; files can only be added while uploading")
        existing = dataset.files.filter(filename=filename).first()
        if existing is not None:
            if (existing.size, existing.sha256) == (size, sha256):
                return existing, False
            raise Conflict(f"{filename} is already in this dataset with other contents; delete it first")
        key = clash_key(filename, role)
        for other in dataset.files.all():
            if clash_key(other.filename, other.role) == key:
                raise Conflict(f"{filename} and {other.filename} would be stored under the same name; rename one")
        if role == DatasetFile.Role.REC and dataset.files.filter(role=role).exists():
            raise Conflict("a dataset holds one .rec file")
        if size > settings.DATASET_MAX_FILE_BYTES:
            raise TooLarge(f"{filename} is {size} bytes; the limit is {settings.DATASET_MAX_FILE_BYTES}")
        if bytes_reserved_by(dataset.owner) + size > settings.DATASET_QUOTA_BYTES:
            raise TooLarge(f"{filename} would exceed your storage quota of {settings.DATASET_QUOTA_BYTES} bytes")
        upload = DatasetFile.objects.create(dataset=dataset, role=role, filename=filename, size=size, sha256=sha256)
    upload.path.parent.mkdir(parents=True, exist_ok=True)
    # Truncate: whatever lay at this path before is not part of this upload.
    with open(upload.path, "wb"):
        pass
    return upload, True


def write_chunk(upload: DatasetFile, offset: int, body: BinaryIO, length: int, *, sha256: str = "") -> DatasetFile:
    """Write ``length`` bytes at ``offset``.

    Accepted bytes are never rewritten: a retried or stale chunk that overlaps them only
    contributes what lies past ``received``, so a late duplicate cannot damage stored data.
    A gap is refused with the offset to resume from. With ``sha256`` (the client's digest
    of this chunk) a chunk damaged in transit is refused and ``received`` stays put.

    A chunk that Django holds in memory (up to ``FILE_UPLOAD_MAX_MEMORY_SIZE``) is read and
    checked before the file's row is locked, so with two chunks under way one is hashed
    while the other is written and synced. A bigger one is streamed to the file in blocks
    under the lock and checked after: memory stays bounded whatever the chunk size.
    """
    digest = hashlib.sha256() if sha256 else None
    in_memory = length <= settings.FILE_UPLOAD_MAX_MEMORY_SIZE
    blocks = _body_blocks(body, length, digest)
    if in_memory:
        blocks = list(blocks)
        _check_digest(digest, sha256, offset)
    with _file_lock(upload.pk), transaction.atomic():
        upload = DatasetFile.objects.select_for_update().select_related("dataset").get(pk=upload.pk)
        if upload.complete:
            raise _conflict(f"{upload.filename} is already complete", upload)
        if offset > upload.received:
            raise _conflict(f"chunk at offset {offset} leaves a gap: resume from offset {upload.received}", upload)
        if offset + length > upload.size:
            raise UserError(f"chunk ends at byte {offset + length}, past the announced size {upload.size}")
        _write_blocks(upload.path, offset, upload.received, blocks)
        if not in_memory:  # bytes past `received` that fail were never accepted: a resend overwrites them
            _check_digest(digest, sha256, offset)
        upload.received = max(upload.received, offset + length)
        upload.save(update_fields=["received"])
    return upload


def _conflict(message: str, upload: DatasetFile) -> Conflict:
    err = Conflict(message)
    err.extra = {"received": upload.received}
    return err


# One lock per file id (striped) for the chunks of one server process: the database lock
# alone would do, but SQLite waits for a write lock by sleeping in steps of up to 100 ms,
# which with two chunks under way stalled every other one. Other processes still meet at
# the row lock.
_FILE_LOCKS = [threading.Lock() for _ in range(64)]


def _file_lock(pk: int) -> threading.Lock:
    return _FILE_LOCKS[pk % len(_FILE_LOCKS)]


def _body_blocks(body: BinaryIO, length: int, digest) -> Iterator[bytes]:
    """The chunk's bytes in blocks of ``COPY_BLOCK``, hashed into ``digest`` on the way."""
    got = 0
    while got < length:
        block = body.read(min(COPY_BLOCK, length - got))
        if not block:
            raise UserError(f"chunk body has {got} bytes, Content-Length said {length}")
        if digest is not None:
            digest.update(block)
        got += len(block)
        yield block


def _check_digest(digest, sha256: str, offset: int) -> None:
    if digest is not None and digest.hexdigest() != sha256.lower():
        raise UserError(f"chunk at offset {offset} does not match its X-Chunk-Sha256: resend it")


def _write_blocks(path, offset: int, keep_until: int, blocks: Iterable[bytes]) -> None:
    """Write the blocks to ``path`` from ``offset``, skipping bytes before ``keep_until``."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        position = offset
        for block in blocks:
            view = memoryview(block)
            if position < keep_until:
                view = view[min(len(view), keep_until - position) :]
            at = position + len(block) - len(view)
            while view:
                done = os.pwrite(fd, view, at)
                view, at = view[done:], at + done
            position += len(block)
        # Accepted means durable: the client forgets a chunk once we answer 200.
        os.fdatasync(fd)
    finally:
        os.close(fd)


def complete_file(upload: DatasetFile) -> DatasetFile:
    with transaction.atomic():
        upload = DatasetFile.objects.select_for_update().get(pk=upload.pk)
        if upload.complete:
            return upload
        if upload.received != upload.size:
            raise Conflict(f"{upload.filename}: {upload.received} of {upload.size} bytes received")
        digest = _sha256(upload.path)
        if digest == upload.sha256:
            upload.completed_at = timezone.now()
            upload.save(update_fields=["completed_at"])
            return upload
        # The bytes are wrong somewhere; keeping them would only resume into a bad file.
        upload.received = 0
        upload.save(update_fields=["received"])
        os.truncate(upload.path, 0)
    raise UserError(f"{upload.filename}: checksum mismatch (got {digest}); upload the file again")


def _sha256(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(8 << 20):
            digest.update(block)
    return digest.hexdigest()


def finalize(dataset: Dataset):
    """All files are in: validate and extract on a `cpu` worker. Returns the job."""
    with transaction.atomic():
        dataset = Dataset.objects.select_for_update().get(pk=dataset.pk)
        # A failed extraction can be retried: the uploaded files are still here.
        if dataset.status not in (DatasetStatus.UPLOADING, DatasetStatus.FAILED):
            raise Conflict(f"dataset is already {dataset.status}")
        files = list(dataset.files.all())
        pending = [f.filename for f in files if not f.complete]
        if pending:
            raise Conflict(f"still uploading: {', '.join(pending)}")
        roles = {f.role for f in files}
        if "rec" not in roles and "bin" not in roles:
            raise UserError("a dataset needs a .rec file (with its .idx) or evaluation .bin files")
        if "rec" in roles and "idx" not in roles:
            raise UserError("the .rec file needs its .idx file")
        job = job_actions.create_job(dataset.owner, "dataset_extract", {"dataset_id": dataset.pk})
        dataset.status = DatasetStatus.VALIDATING
        dataset.job = job
        dataset.error = ""
        dataset.save(update_fields=["status", "job", "error", "updated_at"])
    return job


def set_status(dataset_id: int, status: str, *, error: str = "") -> None:
    with transaction.atomic():
        dataset = Dataset.objects.select_for_update().get(pk=dataset_id)
        dataset.status = status
        dataset.error = error
        dataset.save()


def record_summary(dataset_id: int, summary: dict) -> None:
    """What the extraction found; the dataset is ready when its job has succeeded (extraction_ended)."""
    with transaction.atomic():
        dataset = Dataset.objects.select_for_update().get(pk=dataset_id)
        dataset.summary = summary
        dataset.layout = summary.get("layout", "")
        dataset.images = summary.get("images", 0)
        dataset.identities = summary.get("identities", 0)
        dataset.save()


def extraction_ended(job: Job) -> None:
    """The one writer of an extraction's end, in the transaction that ends its job (also a
    lost worker's or a cancel's): the dataset is ready with the summary its handler
    recorded, or failed with the job's error."""
    running = (DatasetStatus.VALIDATING, DatasetStatus.EXTRACTING)  # validating: cancelled before it ran
    for dataset in Dataset.objects.select_for_update().filter(job_id=job.pk, status__in=running):
        if job.status == JobStatus.SUCCEEDED:
            dataset.status, dataset.error = DatasetStatus.READY, ""
        else:
            dataset.status, dataset.error = DatasetStatus.FAILED, job.error or f"extraction {job.status}"
        dataset.save()


def remove_file(upload: DatasetFile) -> None:
    """Drop one file (to replace it) while the dataset is still being uploaded or has failed."""
    folder = upload.path.parent
    with transaction.atomic():
        dataset = Dataset.objects.select_for_update().get(pk=upload.dataset_id)
        if dataset.status not in (DatasetStatus.UPLOADING, DatasetStatus.FAILED):
            raise Conflict(f"dataset is {dataset.status}; its files cannot change now")
        upload.delete()
        if dataset.status == DatasetStatus.FAILED:
            dataset.status = DatasetStatus.UPLOADING
            dataset.save(update_fields=["status", "updated_at"])
        transaction.on_commit(lambda: shutil.rmtree(folder, ignore_errors=True))


def delete_dataset(dataset: Dataset) -> None:
    storage = dataset.storage_dir
    with transaction.atomic():
        if dataset.job_id:
            job_actions.request_cancel(dataset.job_id)
        dataset.delete()
        transaction.on_commit(lambda: shutil.rmtree(storage, ignore_errors=True))
