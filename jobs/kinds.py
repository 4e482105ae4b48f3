"""Registry of job kinds: which queue runs them, which function does the work,
and which serializer validates their parameters. Apps register their kinds in ready()."""

from __future__ import annotations

from dataclasses import dataclass

QUEUES = ("cpu", "gpu")


@dataclass(frozen=True)
class JobKind:
    name: str
    queue: str
    handler: str  # dotted path to ``def handler(ctx: JobContext) -> dict | None``
    params_serializer: str  # dotted path to a DRF Serializer class for ``params``
    label: str = ""
    # False for kinds that other actions start (e.g. extraction on a dataset's finalize):
    # their parameters point at objects the API would otherwise have to re-check.
    user_creatable: bool = True
    # Only staff may create it through the API (diagnostics such as selftest).
    staff_only: bool = False
    # Dotted path to ``def hook(job: Job)``, called inside the transaction that ends a job of
    # this kind (also when the reaper fails it or it is cancelled before it ran): the one
    # writer of the owning object's end state, which so changes with the job's. Files it
    # removes go on commit.
    on_finish: str = ""


_KINDS: dict[str, JobKind] = {}


def register(kind: JobKind) -> None:
    if kind.queue not in QUEUES:
        raise ValueError(f"job kind {kind.name!r}: queue must be one of {QUEUES}")
    _KINDS[kind.name] = kind


def get(name: str) -> JobKind | None:
    return _KINDS.get(name)


def names() -> list[str]:
    return sorted(_KINDS)


def creatable_by(user) -> list[str]:
    """The kinds ``user`` may start with ``POST /api/jobs/``."""
    return [name for name in names()
            if _KINDS[name].user_creatable and (not _KINDS[name].staff_only or getattr(user, "is_staff", False))]
