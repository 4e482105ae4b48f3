"""Benchmark: extracting a 20k-image insightface-layout .rec, ours against MXNet's reader.

Generates the dataset once (with our byte-exact MXNet-compatible writer, JPEGs taken from
the webface_tiny fixture), then alternates whole-process runs of ``python -m
datasets.engine.cli`` (timed from outside, interpreter start-up included) with
``recordio_mxnet_baseline.py`` under ``--mxnet_python`` (timed inside, after ``import
mxnet``). Both write the same files, manifest and summary; the manifests are compared
after the first round. Reported: the best of ``--repeat`` rounds for each side
(``speedup``), the median of the per-round ratios (both sides run back to back, so each
ratio shares one moment's load) and the median ratio of CPU seconds spent.

    nice .venv/bin/python bench/recordio_extract.py --mxnet_python /tmp/mxnet-venv/bin/python

The last line of output is JSON: ours_rec_per_s, mxnet_rec_per_s, speedup, records, bytes.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import resource
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


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_ours(rec: Path, idx: Path, out: Path) -> tuple[float, float]:
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
    cpu, start = _children_cpu(), time.perf_counter()
    subprocess.run(cmd, cwd=REPO, check=True)
    return time.perf_counter() - start, _children_cpu() - cpu


def run_mxnet(python: str, rec: Path, idx: Path, out: Path) -> tuple[float, float]:
    done = subprocess.run(
        [python, str(BASELINE), str(rec), str(idx), str(out)], check=True, capture_output=True, text=True
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result["seconds"], result["cpu_seconds"]


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

    times: dict[str, list[tuple[float, float]]] = {"ours": [], "mxnet": []}  # (wall s, CPU s)
    sides = ["ours", "mxnet"] if mxnet else ["ours"]
    runs = work / "runs"
    shutil.rmtree(runs, ignore_errors=True)
    runs.mkdir()
    try:
        for attempt in range(args.repeat):
            # Alternate who goes first, and settle the disk before each timed run so neither
            # side inherits the other's write-back. Outputs are deleted only at the end:
            # deleting 20k files between runs made ext4 file creation in the next run
            # several times slower here, and more so each round.
            for side in sides if attempt % 2 == 0 else sides[::-1]:
                out = runs / f"{side}-{attempt}"
                os.sync()
                time.sleep(0.5)
                if side == "ours":
                    times[side].append(run_ours(rec, idx, out))
                else:
                    times[side].append(run_mxnet(mxnet, rec, idx, out))
            if attempt == 0 and mxnet and _manifest(runs / "ours-0") != _manifest(runs / "mxnet-0"):
                sys.exit("ours and mxnet wrote different files or hashes")
            shown = ", ".join(f"{side} {times[side][-1][0]:.3f} s (CPU {times[side][-1][1]:.3f} s)" for side in sides)
            print(f"run {attempt + 1}: {shown}", file=sys.stderr)
    finally:
        shutil.rmtree(runs, ignore_errors=True)
    print(json.dumps(_report(args.images, rec.stat().st_size, times["ours"], times["mxnet"])))


def _report(images: int, size: int, ours: list[tuple[float, float]], mx: list[tuple[float, float]]) -> dict:
    best = min(wall for wall, _ in ours)
    result = {
        "records": images,
        "bytes": size,
        "ours_rec_per_s": round(images / best),
        "ours_s": [round(wall, 3) for wall, _ in ours],
        "ours_cpu_s": [round(cpu, 3) for _, cpu in ours],
        "baseline": "measured" if mx else "skipped (no --mxnet_python)",
        "cpus": os.cpu_count(),
    }
    if not mx:
        return {**result, "mxnet_rec_per_s": None, "speedup": None}
    mx_best = min(wall for wall, _ in mx)
    return {
        **result,
        "mxnet_rec_per_s": round(images / mx_best),
        "mxnet_s": [round(wall, 3) for wall, _ in mx],
        "mxnet_cpu_s": [round(cpu, 3) for _, cpu in mx],
        "speedup": round(mx_best / best, 2),
        # Each round runs both back to back, so their ratio shares that moment's load.
        "speedup_paired_median": round(statistics.median(m[0] / o[0] for o, m in zip(ours, mx, strict=True)), 2),
        # CPU seconds spent (user + system) depend less on what else the machine runs.
        "cpu_ratio_median": round(statistics.median(m[1] / o[1] for o, m in zip(ours, mx, strict=True)), 2),
    }


if __name__ == "__main__":
    main()
