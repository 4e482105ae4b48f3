"""Galleries for bench/browser_search.mjs: a trained model registered as runs register theirs
(ONNX export included) and, per size, a ready portable gallery of that model: the fixture
people (3 photos each through the portable face pipeline, one template per photo) filled
with random unit templates up to N. Prints one JSON line: user, password and gallery ids.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/privface_browser DATA_ROOT=var/bench-browser \\
      REDIS_URL=redis://127.0.0.1:6379/12 .venv/bin/python bench/private_galleries.py \\
      --model var/run/export/backbone.keras --sizes 10000 100000

Then start ``run.py webapp`` with the same environment and run the browser benchmark with
the ids it printed (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "privface_site.settings")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/privface_browser")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/12")
os.environ.setdefault("DATA_ROOT", str(REPO / "var" / "bench-browser"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a trained backbone.keras (its model_card.json beside it)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10000, 100000])
    parser.add_argument("--user", default="bench")
    args = parser.parse_args(argv)

    import search_latency  # bench/search_latency.py: database, fixture templates, galleries

    search_latency.ensure_database()
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    settings.DATA_ROOT.mkdir(parents=True, exist_ok=True)

    from django.contrib.auth import get_user_model

    from accounts.actions import create_user
    from inference.engine.embedders import KerasEmbedder
    from inference.enrollment import model_file
    from jobs.models import Job
    from training.actions import register_export

    get_user_model().objects.filter(username=args.user).delete()
    password = secrets.token_urlsafe(12)
    user, _ = create_user(args.user, password)
    backbone = Path(args.model).resolve()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "export"
        shutil.copytree(backbone.parent, folder)
        card = json.loads((folder / "model_card.json").read_text())
        model = register_export(Job.objects.create(owner=user, kind="train"), None, "bench model", card, folder)
    if not model.onnx_sha256:
        raise SystemExit(f"the model has no ONNX export: {model.card.get('onnx')}")

    embedder = KerasEmbedder.from_file(model_file(model))
    base, thumbs = search_latency.fixture_templates(embedder, faces="portable", mode="all")
    galleries = {}
    for size in args.sizes:
        gallery = search_latency.make_gallery(user, f"private-{size}", size, base, thumbs, model=model,
                                              digest=embedder.digest, embedder_name=embedder.name, faces="portable")
        galleries[size] = gallery.pk
    print(json.dumps({"user": args.user, "password": password, "model": model.pk, "model_file": str(model_file(model)),
                      "galleries": galleries}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
