"""Baseline for bench/recordio_extract.py: the same extraction through MXNet's own reader.

Runs under a separate interpreter that has mxnet 1.9.1 + numpy 1.23.5 (mxnet does not
import with newer numpy). Written the way insightface's data code reads a .rec
(``MXIndexedRecordIO.read_idx`` + ``recordio.unpack``), writing the same files, manifest and
summary as our extractor, into a staging dir renamed at the end. Prints one JSON line with
the seconds spent after ``import mxnet`` (its import time is not the reader's speed).

Usage: python recordio_mxnet_baseline.py REC IDX OUTPUT_DIR
"""

import hashlib
import json
import os
import resource
import sys
import time

import mxnet as mx


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    rec_path, idx_path, out = sys.argv[1:4]
    start = time.perf_counter()
    cpu_start = _cpu()
    staging = out + ".partial"
    os.mkdir(staging)
    rec = mx.recordio.MXIndexedRecordIO(idx_path, rec_path, "r")
    header, _ = mx.recordio.unpack(rec.read_idx(0))
    if header.flag > 0:
        image_keys = range(1, int(header.label[0]))
        identity_keys = range(int(header.label[0]), int(header.label[1]))
    else:
        image_keys, identity_keys = sorted(rec.keys), range(0)
    made = set()
    counts = {}
    with open(os.path.join(staging, "manifest.jsonl"), "w") as manifest:
        for key in image_keys:
            header, img = mx.recordio.unpack(rec.read_idx(key))
            labels = [float(header.label)] if header.flag == 0 else [float(v) for v in header.label]
            label = int(labels[0])
            ext = "jpg" if img[:3] == b"\xff\xd8\xff" else "png"
            if label not in made:
                os.makedirs(os.path.join(staging, str(label)), exist_ok=True)
                made.add(label)
            relpath = f"{label}/{key}.{ext}"
            with open(os.path.join(staging, relpath), "wb") as f:
                f.write(img)
            digest = hashlib.sha256(img).hexdigest()
            manifest.write(
                json.dumps(
                    {
                        "key": key,
                        "labels": labels,
                        "id": header.id,
                        "id2": header.id2,
                        "path": relpath,
                        "sha256": digest,
                    }
                )
                + "\n"
            )
            counts[label] = counts.get(label, 0) + 1
    for key in identity_keys:
        mx.recordio.unpack(rec.read_idx(key))
    rec.close()
    with open(os.path.join(staging, "summary.json"), "w") as f:
        json.dump(
            {
                "images": sum(counts.values()),
                "identities": len(counts),
                "per_identity": {str(k): v for k, v in sorted(counts.items())},
            },
            f,
        )
    os.rename(staging, out)
    seconds, cpu = time.perf_counter() - start, _cpu() - cpu_start
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu, "images": sum(counts.values())}))


if __name__ == "__main__":
    main()
