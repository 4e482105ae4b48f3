"""End-to-end search latency: photo in -> result out through the web API (Daphne) with a
real Celery worker (``--concurrency`` processes, 2 as ``run.py webapp``), at several
gallery sizes, for the reference embedder and (with --model) a trained backbone, split
into stages.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/privface_bench REDIS_URL=redis://127.0.0.1:6379/13 \\
        nice .venv/bin/python bench/search_latency.py --sizes 1000 10000 100000 \\
        --model var/run/export/backbone.keras --json

It uses its own database (created if missing, migrated), Redis database and DATA_ROOT
(default var/bench-latency). Each gallery holds the fixture people (enrolled with the
embedder from their first photos) plus random unit-vector distractors up to N; the probe
is a held-out photo, and the right person must come first. Per size: one cold search (the
worker encodes the gallery's shards) and --repeats warm ones; stages from the response's
`server` block: detect/align, embed (web process for the reference, the worker for a
trained model), keygen + encrypt, worker scoring, transfer/queueing (wait - scoring),
decrypt, and the HTTP round trip measured here. The last stdout line is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import statistics
import sys
import time
import urllib.request
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "privface_site.settings")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/privface_bench")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/13")
os.environ.setdefault("CHANNELS_PREFIX", "privface-bench")
os.environ.setdefault("DATA_ROOT", str(REPO / "var" / "bench-latency"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# A cold search of 100k 512-d templates encodes ~13 blocks first: more than the default 30 s under load.
os.environ.setdefault("SEARCH_TIMEOUT_SECONDS", "120")

FACES = Path(os.environ.get("PRIVFACE_FIXTURES", REPO.parent / "shared" / "fixtures")) / "faces"
PROBE = ("img43.jpg", "person_01")  # held out of the enrollment below
ENROLLED = 3  # photos per fixture person


def ensure_database() -> None:
    from urllib.parse import urlparse

    import psycopg

    url = urlparse(os.environ["DATABASE_URL"])
    name = url.path.lstrip("/")
    admin = url._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def fixture_templates(embedder, faces: str = "dlib", mode: str = "mean") -> tuple:
    """(unit templates, labels) of the fixture people, first ENROLLED photos each (mean)."""
    import csv

    from inference.engine.enroll import Enrollment, labelled_identities

    with open(FACES / "labels.csv", newline="") as fh:
        rows = [(r["identity"], r["file"], FACES / r["file"]) for r in csv.DictReader(fh)]
    chosen, counts = [], {}
    for label, name, path in rows:
        if name != PROBE[0] and counts.get(label, 0) < ENROLLED:
            counts[label] = counts.get(label, 0) + 1
            chosen.append((label, name, path))
    enrollment = Enrollment(embedder, mode, faces=faces)
    enrollment.add_all(labelled_identities(chosen))
    return enrollment.result()


def make_gallery(owner, name: str, size: int, base, thumbs, model=None, digest: str = "", embedder_name: str = "",
                 faces: str = "dlib"):
    """A ready gallery of ``size`` templates: the fixture people plus random distractors
    (``faces``: the face pipeline its photos went through, "portable" for private search)."""
    import numpy as np

    from inference.engine.gallery import l2_normalise
    from inference.engine.store import GalleryData
    from inference.models import Gallery, GalleryStatus
    from inference.storage import store_for

    rng = np.random.default_rng(size)
    extra = size - len(base)
    distractors = l2_normalise(rng.standard_normal((extra, base.dim))).astype(np.float32)
    labels = list(base.labels) + [f"distractor_{i}" for i in range(extra)]
    data = GalleryData(np.concatenate([base.embeddings, distractors]), labels, "all", base.embedder,
                       {label: 1 for label in labels})
    gallery = Gallery.objects.create(owner=owner, name=name, source="images", embedder=embedder_name,
                                     dim=base.dim, model=model, model_digest=digest, mode="all", faces=faces)
    store = secrets.token_hex(8)
    store_for(gallery.pk, store).write(data, thumbs)
    Gallery.objects.filter(pk=gallery.pk).update(store=store, status=GalleryStatus.READY, templates=size,
                                                 identities=size, photos=size)
    return gallery


def start_worker(concurrency: int):
    """A Celery worker on both queues with ``concurrency`` prefork processes (``run.py webapp``
    starts 2), logging under var/test-logs like tests/live.Worker."""
    import subprocess

    from privface_site.celery import app
    from tests.live import Worker, wait_for

    worker = Worker()
    worker.proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "privface_site.celery", "worker", "-Q", "cpu,gpu",
         "--concurrency", str(concurrency), "--pool", "prefork", "-n", worker.name, "--loglevel", "INFO",
         "--without-mingle", "--without-gossip"],
        cwd=REPO, env=worker.env, stdout=worker.log_path.open("ab"), stderr=subprocess.STDOUT, start_new_session=True)
    wait_for(lambda: bool(app.control.ping(destination=[worker.name], timeout=0.5)), 120, f"worker {worker.name}")
    return worker


def multipart(fields: dict, files: dict) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    out = []
    for key, value in fields.items():
        out.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode())
    for key, (filename, data) in files.items():
        out.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"; filename="{filename}"\r\n'
                   f"Content-Type: image/jpeg\r\n\r\n".encode() + data + b"\r\n")
    out.append(f"--{boundary}--\r\n".encode())
    return b"".join(out), f"multipart/form-data; boundary={boundary}"


def search(url: str, token: str, gallery_id: int, photo: bytes) -> tuple[dict, float]:
    body, ctype = multipart({"top_k": "5"}, {"image": ("probe.jpg", photo)})
    request = urllib.request.Request(f"{url}/api/galleries/{gallery_id}/search/", data=body, method="POST",
                                     headers={"Authorization": f"Token {token}", "Content-Type": ctype})
    began = time.perf_counter()
    with urllib.request.urlopen(request, timeout=300) as response:
        result = json.loads(response.read())
    return result, time.perf_counter() - began


def stages(result: dict, wall: float) -> dict:
    s = result["server"]
    embed = s.get("worker_embed_seconds") if s.get("worker_embed_seconds") is not None else s["client_embed_seconds"]
    return {
        "detect_align": s.get("client_align_seconds"),
        "embed": embed,
        "embed_round_trip": s["client_embed_seconds"],
        "keygen_encrypt": s["client_encrypt_seconds"],
        "worker_scoring": s["server_seconds"],
        "transfer_queue": round(s["wait_seconds"] - s["server_seconds"], 4),
        "decrypt": s["client_decrypt_seconds"],
        "server_total": s["total_seconds"],
        "http_round_trip": round(wall, 4),
    }


def summarise(runs: list[dict]) -> dict:
    return {k: round(statistics.median(r[k] for r in runs if r[k] is not None), 4)
            for k in runs[0] if any(r[k] is not None for r in runs)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--model", help="a trained backbone.keras (its model_card.json beside it)")
    parser.add_argument("--repeats", type=int, default=5, help="warm searches per gallery (default 5)")
    parser.add_argument("--concurrency", type=int, default=2,
                        help="worker processes (default 2, as run.py webapp; tests use 1)")
    parser.add_argument("--skip_reference", action="store_true", help="only the trained model")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    ensure_database()
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    import redis

    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    shutil.rmtree(settings.DATA_ROOT, ignore_errors=True)
    settings.DATA_ROOT.mkdir(parents=True, exist_ok=True)

    from accounts.actions import create_user
    from inference.engine.embedders import KerasEmbedder, reference_l2_embedder
    from inference.models import Gallery
    from tests.live import Server
    from training.models import TrainedModel

    user, token = create_user(f"bench-{secrets.token_hex(3)}", secrets.token_urlsafe(16))
    Gallery.objects.filter(owner=user).delete()
    embedders = [] if args.skip_reference else [("reference", reference_l2_embedder(), None)]
    if args.model:
        keras_embedder = KerasEmbedder.from_file(Path(args.model).resolve())
        card = json.loads(Path(args.model).with_name("model_card.json").read_text())
        model = TrainedModel.objects.create(owner=user, name="bench model", card=card,
                                            private=bool(card.get("dp", {}).get("enabled")))
        shutil.copytree(Path(args.model).parent, model.export_dir)
        embedders.append(("trained", keras_embedder, model))
    photo = (FACES / PROBE[0]).read_bytes()
    worker, server = start_worker(args.concurrency), Server().start()
    results = []
    try:
        for kind, embedder, model in embedders:
            base, thumbs = fixture_templates(embedder)
            for size in args.sizes:
                gallery = make_gallery(user, f"{kind}-{size}", size, base, thumbs, model=model,
                                       digest=getattr(embedder, "digest", "") or "", embedder_name=embedder.name)
                cold, wall = search(server.url, token, gallery.pk, photo)
                warm = [search(server.url, token, gallery.pk, photo) for _ in range(args.repeats)]
                top = [r["matches"][0]["identity"] if r["matches"] else None for r, _ in warm]
                row = {"embedder": kind, "name": embedder.name, "dim": embedder.dim, "templates": size,
                       "cold": stages(cold, wall), "warm_median": summarise([stages(r, w) for r, w in warm]),
                       "warm_http_seconds": [round(w, 3) for _, w in warm],
                       "probe_found_first": sum(t == PROBE[1] for t in top), "repeats": len(warm),
                       "shards": cold["server"]["shards"]}
                results.append(row)
                if not args.json:
                    w = row["warm_median"]
                    cold_s = row["cold"]["http_round_trip"]
                    print(f"{kind:9s} N={size:>6}: warm median {w['http_round_trip']:.3f} s (embed {w['embed']}, "
                          f"encrypt {w['keygen_encrypt']}, scoring {w['worker_scoring']}, transfer "
                          f"{w['transfer_queue']}, decrypt {w['decrypt']}); cold {cold_s:.3f} s", flush=True)
    finally:
        server.stop()
        worker.stop()
    summary = {"sizes": args.sizes, "repeats": args.repeats, "concurrency": args.concurrency, "cpus": os.cpu_count(),
               "load_average": [round(x, 2) for x in os.getloadavg()], "results": results}
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
