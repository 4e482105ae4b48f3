"""Benchmark encrypted 1:N face search against plaintext search and a TenSEAL baseline.

    nice .venv/bin/python bench/he_search.py --gallery_size 100000 --dim 512 --json

Gallery: random unit vectors. Queries: noisy copies of random gallery entries,
so plaintext search has a real top-1 that the encrypted search must agree with.
The baseline is the straightforward TenSEAL route (`enc_query.mm(chunk)` per
gallery chunk); it is timed on a sample of chunks and scaled to the gallery.
The last output line is JSON.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from inference.engine.gallery import Gallery  # noqa: E402
from inference.engine.he_client import HEClient  # noqa: E402
from inference.engine.he_layout import SearchProfile, block_count, rotation_count, shard_ranges  # noqa: E402
from inference.engine.he_params import DEFAULT_PRESET, PRESETS  # noqa: E402
from inference.engine.he_server import load_public_context, prepare_shard, score_query  # noqa: E402


def make_data(n: int, dim: int, queries: int, noise: float, seed: int) -> tuple[Gallery, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    gallery = Gallery.from_arrays(rng.standard_normal((n, dim)), [f"id{i}" for i in range(n)])
    truth = rng.integers(0, n, size=queries)
    jitter = rng.standard_normal((queries, dim))
    jitter *= noise / np.linalg.norm(jitter, axis=1, keepdims=True)
    return gallery, gallery.embeddings[truth] + jitter, truth


def _shard_worker(gallery: Gallery, profile: SearchProfile, blocks: tuple[int, int], conn: Any) -> None:
    shard = prepare_shard(gallery, profile, *blocks)
    conn.send("ready")
    while (msg := conn.recv()) is not None:
        context_bytes, query = msg
        conn.send(score_query(load_public_context(context_bytes), shard, query))


class ParallelServer:
    """One process per shard (fork), as several search workers would run."""

    def __init__(self, gallery: Gallery, profile: SearchProfile, ranges: list[tuple[int, int]]):
        ctx = mp.get_context("fork")
        self.conns, self.procs = [], []
        for blocks in ranges:
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_shard_worker, args=(gallery, profile, blocks, child), daemon=True)
            proc.start()
            self.conns.append(parent)
            self.procs.append(proc)
        for conn in self.conns:
            conn.recv()

    def score(self, context_bytes: bytes, query: bytes) -> list[bytes]:
        for conn in self.conns:
            conn.send((context_bytes, query))
        return [conn.recv() for conn in self.conns]

    def close(self) -> None:
        for conn in self.conns:
            conn.send(None)
        for proc in self.procs:
            proc.join()


def run_baseline(gallery: Gallery, queries: np.ndarray, sample_chunks: int) -> dict[str, Any]:
    """TenSEAL's own vector-matrix product, with the usual tutorial parameters."""
    import tenseal as ts

    ctx = ts.context(ts.SCHEME_TYPE.CKKS, 8192, coeff_mod_bit_sizes=[60, 40, 40, 60])
    ctx.global_scale = 2**40
    ctx.generate_galois_keys()
    chunk = 8192 // 2
    n_chunks = -(-len(gallery) // chunk)
    enc = ts.ckks_vector(ctx, (queries[0] / np.linalg.norm(queries[0])).tolist())
    times, max_err = [], 0.0
    for c in range(min(sample_chunks, n_chunks)):
        rows = gallery.embeddings[c * chunk : (c + 1) * chunk].astype(np.float64)
        matrix = rows.T.tolist()
        t0 = time.perf_counter()
        result = enc.mm(matrix)
        times.append(time.perf_counter() - t0)
        got = np.array(result.decrypt())
        max_err = max(max_err, float(np.abs(got - rows @ (queries[0] / np.linalg.norm(queries[0]))).max()))
    # The last chunk may be partial; the sampled chunks are full ones (or the whole gallery).
    per_chunk = statistics.median(times)
    return {
        "baseline_s": per_chunk * n_chunks,
        "baseline_chunks_timed": len(times),
        "baseline_chunks": n_chunks,
        "baseline_upload_bytes": len(enc.serialize()),
        "baseline_context_bytes": len(ctx.serialize(save_secret_key=False)),
        "baseline_max_abs_error": max_err,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gallery_size", type=int, default=10_000)
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--preset", choices=sorted(PRESETS), default=DEFAULT_PRESET)
    ap.add_argument("--shards", type=int, default=1, help="gallery shards (block ranges)")
    ap.add_argument("--workers", type=int, default=1, help=">1: one process per shard")
    ap.add_argument("--noise", type=float, default=0.5, help="query jitter norm (gallery rows are unit)")
    ap.add_argument("--baseline_chunks", type=int, default=1, help="TenSEAL chunks to time (0 = skip)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true", help="print the JSON summary as the last line")
    args = ap.parse_args(argv)
    if args.workers > 1:
        args.shards = args.workers

    load_before = os.getloadavg()[0]  # the 2-core dev box is shared: record contention
    params = PRESETS[args.preset]
    gallery, queries, truth = make_data(args.gallery_size, args.dim, args.queries, args.noise, args.seed)
    profile = SearchProfile.for_gallery(len(gallery), args.dim, params)
    ranges = shard_ranges(len(gallery), params.slots, args.shards)

    t0 = time.perf_counter()
    client = HEClient(profile)
    context_bytes = client.public_context()
    keygen_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    if args.workers > 1:
        server = ParallelServer(gallery, profile, ranges)
    else:
        shards = [prepare_shard(gallery, profile, a, b) for a, b in ranges]
    prep_s = time.perf_counter() - t0

    enc_t, srv_t, srv_cpu, dec_t, upload, response = [], [], [], [], 0, 0
    agree, truth_hits, max_err = 0, 0, 0.0
    for q, true_idx in zip(queries, truth, strict=True):
        t0 = time.perf_counter()
        payload = client.encrypt_query(q)
        enc_t.append(time.perf_counter() - t0)
        t0, c0 = time.perf_counter(), time.process_time()
        if args.workers > 1:
            results = server.score(context_bytes, payload)
        else:
            context = load_public_context(context_bytes)  # cached after the first query
            results = [score_query(context, shard, payload) for shard in shards]
        srv_t.append(time.perf_counter() - t0)
        srv_cpu.append(time.process_time() - c0)  # less sensitive to other jobs than wall time
        t0 = time.perf_counter()
        scores = client.decrypt_scores(results, len(gallery))
        enc_top1 = int(np.argmax(scores))
        dec_t.append(time.perf_counter() - t0)
        plain = gallery.scores(q)
        agree += enc_top1 == int(np.argmax(plain))
        truth_hits += enc_top1 == int(true_idx)
        max_err = max(max_err, float(np.abs(scores - plain).max()))
        upload, response = len(payload), sum(len(r) for r in results)
    if args.workers > 1:
        server.close()

    summary: dict[str, Any] = {
        "gallery_size": len(gallery),
        "dim": args.dim,
        "queries": args.queries,
        "preset": args.preset,
        "poly_degree": params.poly_degree,
        "coeff_bits": list(params.coeff_bits),
        "giant_step": profile.giant_step,
        "blocks": block_count(len(gallery), params.slots),
        "rotations_per_query": sum(rotation_count(profile.dim_pad, b - a, profile.giant_step) for a, b in ranges),
        "shards": len(ranges),
        "workers": args.workers,
        "server_s": statistics.median(srv_t),
        "server_p90_s": float(np.percentile(srv_t, 90)),
        # CPU seconds of this process: meaningful only with --workers 1.
        "server_cpu_s": statistics.median(srv_cpu),
        "client_encrypt_s": statistics.median(enc_t),
        "client_decrypt_s": statistics.median(dec_t),
        "keygen_s": keygen_s,
        "prepare_s": prep_s,
        "upload_bytes": upload,
        "response_bytes": response,
        "context_bytes": len(context_bytes),
        "top1_agreement": agree / args.queries,
        "top1_true_identity": truth_hits / args.queries,
        "max_abs_score_error": max_err,
    }
    if args.baseline_chunks > 0:
        summary.update(run_baseline(gallery, queries, args.baseline_chunks))
        summary["speedup"] = summary["baseline_s"] / summary["server_s"]
    summary["loadavg_1m"] = [load_before, os.getloadavg()[0]]
    summary["cpus"] = os.cpu_count()
    for key, value in summary.items():
        print(f"{key:>24}: {value}")
    if args.json:
        print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
