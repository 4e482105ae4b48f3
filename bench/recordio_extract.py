"""Benchmark: extracting a 20k-image insightface-layout .rec, ours against MXNet's reader.

Generates the dataset once (with our byte-exact MXNet-compatible writer), then alternates
whole-process runs of ``python -m datasets.engine.cli`` (timed from outside, interpreter
start-up included) with ``recordio_mxnet_baseline.py`` under ``--mxnet_python`` (timed
inside, after ``import mxnet``). Both write the same files, manifest and summary; the
manifests are compared once. The best of ``--repeat`` runs is reported: on a shared
machine the minimum is the figure least disturbed by other load.

    nice python bench/recordio_extract.py --mxnet_python /tmp/mxnet-venv/bin/python

The last line of output is JSON: ours_rec_per_s, mxnet_rec_per_s, speedup, records, bytes.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import shutil
import statistics
import struct
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from datasets.engine.recordio import MAGIC_BYTES  # noqa: E402
from datasets.engine.writer import IndexedRecordWriter  # noqa: E402

BASELINE = Path(__file__).with_name("recordio_mxnet_baseline.py")


def _jpeg_pool(count: int, seed: int) -> list[bytes]:
    """Distinct 112x112 JPEGs of roughly the size of aligned face crops (~5-7 KB)."""
    from PIL import Image, ImageDraw, ImageFilter

    rng = random.Random(seed)
    pool = []
    for _ in range(count):
        img = Image.new("RGB", (112, 112), tuple(rng.randrange(256) for _ in range(3)))
        draw = ImageDraw.Draw(img)
        for _ in range(12):
            x, y = rng.randrange(112), rng.randrange(112)
            r = rng.randrange(5, 30)
            draw.ellipse((x - r, y - r, x + r, y + r), fill=tuple(rng.randrange(256) for _ in range(3)))
        noise = Image.effect_noise((112, 112), 40).convert("RGB")
        img = Image.blend(img.filter(ImageFilter.GaussianBlur(2)), noise, 0.12)
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=90)
        pool.append(buf.getvalue())
    return pool


def _unique(jpeg: bytes, key: int, magic: bool) -> bytes:
    """Make each payload distinct with a JPEG comment; some carry an aligned magic word.

    The record data is a 24-byte IRHeader + payload, so the comment text (payload offset 6)
    starts at data offset 30: two filler bytes put a magic word at offset 32, which makes
    the writer split that record into parts, as MXNet's does.
    """
    text = (b"..%s" % MAGIC_BYTES if magic else b"") + b"key=%d" % key
    return jpeg[:2] + b"\xff\xfe" + struct.pack(">H", len(text) + 2) + text + jpeg[2:]


def _fixture_pool(rec: Path) -> list[bytes]:
    """The MXNet-written face JPEGs of a fixture .rec (read with our own reader)."""
    from datasets.engine.stream import TrainingStream

    return [image for image, _ in TrainingStream(rec)]


def _default_pool_rec() -> Path | None:
    root = Path(os.environ.get("PRIVFACE_FIXTURES", REPO.parent / "shared" / "fixtures"))
    rec = root / "recordio" / "webface_tiny" / "train.rec"
    return rec if rec.is_file() else None


def generate(rec: Path, idx: Path, images: int, identities: int, seed: int, pool_rec: Path | None) -> None:
    pool = _fixture_pool(pool_rec) if pool_rec else _jpeg_pool(64, seed)
    rng = random.Random(seed)
    per_identity = [images // identities + (i < images % identities) for i in range(identities)]
    first_identity_key = images + 1
    with IndexedRecordWriter(rec, idx) as writer:
        writer.write_packed(0, [first_identity_key, first_identity_key + identities], b"", 0)
        key = 1
        ranges = []
        for identity, count in enumerate(per_identity):
            ranges.append((key, key + count))
            for _ in range(count):
                payload = _unique(rng.choice(pool), key, magic=key % 1000 == 0)
                writer.write_packed(key, float(identity), payload, key)
                key += 1
        for identity, (start, end) in enumerate(ranges):
            writer.write_packed(first_identity_key + identity, [start, end], b"", 0)


def _manifest(out: Path) -> set[tuple[str, str]]:
    with open(out / "manifest.jsonl") as f:
        return {(row["path"], row["sha256"]) for row in map(json.loads, f)}


def run_ours(rec: Path, idx: Path, out: Path) -> float:
    cmd = [
        sys.executable,
        "-m",
        "datasets.engine.cli",
        "--rec_file",
        str(rec),
        "--idx_file",
        str(idx),
        "--output_dir",
        str(out),
        "--quiet",
    ]
    start = time.perf_counter()
    subprocess.run(cmd, cwd=REPO, check=True)
    return time.perf_counter() - start


def run_mxnet(python: str, rec: Path, idx: Path, out: Path) -> float:
    done = subprocess.run(
        [python, str(BASELINE), str(rec), str(idx), str(out)], check=True, capture_output=True, text=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])["seconds"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=20_000)
    parser.add_argument("--identities", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/privface-recordio-bench"))
    parser.add_argument(
        "--jpeg_pool_rec",
        type=Path,
        help="take the JPEGs from this .rec (default: the webface_tiny fixture, else Pillow-made ones)",
    )
    parser.add_argument("--mxnet_python", help="python of a venv with mxnet 1.9.1 + numpy 1.23.5")
    args = parser.parse_args()

    work = args.workdir
    work.mkdir(parents=True, exist_ok=True)
    pool_rec = args.jpeg_pool_rec or _default_pool_rec()
    name = f"train{args.images}-{'faces' if pool_rec else 'pillow'}"
    rec, idx = work / f"{name}.rec", work / f"{name}.idx"
    if not rec.exists() or not idx.exists():
        generate(rec, idx, args.images, args.identities, seed=0, pool_rec=pool_rec)
    mxnet = args.mxnet_python if args.mxnet_python and os.path.exists(args.mxnet_python) else None
    if args.mxnet_python and mxnet is None:
        print(f"--mxnet_python {args.mxnet_python} not found: baseline skipped", file=sys.stderr)

    ours_s: list[float] = []
    mxnet_s: list[float] = []
    out_ours, out_mx = work / "out-ours", work / "out-mxnet"
    for attempt in range(args.repeat):
        # Alternate who goes first, and settle the disk before each timed run, so neither
        # side keeps inheriting the other's write-back.
        order = ["ours", "mxnet"] if attempt % 2 == 0 else ["mxnet", "ours"]
        for side in order:
            if side == "mxnet" and not mxnet:
                continue
            out = out_ours if side == "ours" else out_mx
            shutil.rmtree(out, ignore_errors=True)
            os.sync()
            time.sleep(0.5)
            if side == "ours":
                ours_s.append(run_ours(rec, idx, out))
            else:
                mxnet_s.append(run_mxnet(mxnet, rec, idx, out))
        if attempt == 0 and mxnet and _manifest(out_ours) != _manifest(out_mx):
            sys.exit("ours and mxnet wrote different files or hashes")
        print(
            f"run {attempt + 1}: ours {ours_s[-1]:.3f} s"
            + (f", mxnet {mxnet_s[-1]:.3f} s" if mxnet else ", mxnet skipped"),
            file=sys.stderr,
        )
    for out in (out_ours, out_mx):
        shutil.rmtree(out, ignore_errors=True)

    ours_rate = args.images / min(ours_s)
    result = {
        "records": args.images,
        "bytes": rec.stat().st_size,
        "ours_s": [round(s, 3) for s in ours_s],
        "ours_rec_per_s": round(ours_rate),
        "mxnet_s": [round(s, 3) for s in mxnet_s] if mxnet else None,
        "mxnet_rec_per_s": round(args.images / min(mxnet_s)) if mxnet else None,
        "speedup": round(ours_rate / (args.images / min(mxnet_s)), 2) if mxnet else None,
        # Each round runs both back to back, so their ratio shares that moment's load.
        "speedup_paired_median": round(statistics.median(m / o for o, m in zip(ours_s, mxnet_s, strict=True)), 2)
        if mxnet
        else None,
        "baseline": "measured" if mxnet else "skipped (no --mxnet_python)",
        "cpus": os.cpu_count(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
