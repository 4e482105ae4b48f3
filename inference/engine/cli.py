"""``enroll`` and ``inference``: galleries and encrypted 1:N search from the command line.

``run.py enroll`` builds a local gallery in ``$PRIVFACE_VAR_DIR/galleries-cli/<NAME>/``
(templates, labels and thumbnails AES-GCM encrypted at rest with a key file made on
first use in that folder, mode 0600). ``run.py inference`` searches it with the full
CKKS protocol in one process (client keys, server scoring on public material only,
client decryption), or with ``--server URL --token T`` against a PrivFace server: the
key pair is made here and the secret key never leaves this machine.

No Django is imported: this runs where only the engine is installed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import sys
import time
from functools import partial
from pathlib import Path
from urllib.parse import quote

from privface_core.errors import UserError

REPO = Path(__file__).resolve().parents[2]
GALLERY_JSON = "gallery.json"
KEY_FILE = "key"
DATA = "data"
BINDING = "cli"
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
REFERENCE = "reference"


def galleries_root() -> Path:
    return Path(os.environ.get("PRIVFACE_VAR_DIR") or REPO / "var") / "galleries-cli"


def gallery_dir(name: str) -> Path:
    if not NAME.match(name or ""):
        raise UserError(f"--gallery {name!r}: use letters, digits, '.', '_' or '-' (at most 100)")
    return galleries_root() / name


def _embedder(model: str | None, gallery: dict | None = None):
    """--model (or the gallery's own embedder): 'reference' or a trained Keras backbone file
    (an exported ``backbone.keras``; its model card beside it gives privacy and threshold)."""
    from inference.engine.embedders import KerasEmbedder, reference_by_name, reference_l2_embedder

    gallery_embedder = (gallery or {}).get("embedder", {}).get("name")
    if not model:
        model = (gallery or {}).get("model_path") or gallery_embedder or REFERENCE
    if model == REFERENCE:  # dlib's ResNet under its Euclidean rule; an older gallery keeps its own
        embedder = reference_by_name(gallery_embedder) or reference_l2_embedder()
    elif reference_by_name(model) is not None:
        embedder = reference_by_name(model)
    else:
        path = Path(model)
        if not path.is_file():
            raise UserError(f"--model {model}: neither 'reference' nor a Keras model file")
        embedder = KerasEmbedder.from_file(path.resolve())
    if gallery_embedder and embedder.name != gallery_embedder:
        raise UserError(f"the gallery was enrolled with {gallery_embedder}; {embedder.name} gives incomparable "
                        "templates (the model file changed, or leave out --model)")
    return embedder


def _faces(faces: str | None, embedder) -> str:
    """--faces, or the default: portable for a trained model (its gallery can then be searched from
    the browser), dlib for the reference, whose ResNet reads dlib's chip (portable is refused)."""
    from inference.engine.embedders import reference_by_name

    if reference_by_name(embedder.name) is not None:
        if faces == "portable":
            raise UserError("--faces portable needs a trained --model: the reference embedder (dlib's ResNet) "
                            "reads dlib's face chip")
        return "dlib"
    return faces or "portable"


def _gallery_faces(given: str | None, gallery_faces: str) -> str:
    """The gallery's face pipeline; a different --faces would crop the probe unlike the gallery."""
    if given and given != gallery_faces:
        raise UserError(f"the gallery was enrolled with {gallery_faces} faces; --faces {given} would crop the "
                        "probe differently (leave out --faces)")
    return gallery_faces


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- enroll

def add_enroll_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--gallery", required=True, help="gallery name (folder under $PRIVFACE_VAR_DIR/galleries-cli)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--dataset_path", help="extracted dataset folder: <label>/<key>.jpg (run.py extract output)")
    source.add_argument("--images_dir", help="folder of photos named in --labels")
    source.add_argument("--rec_file", help="RecordIO .rec read in place (with --idx_file)")
    parser.add_argument("--labels", help="CSV `file,identity` (with --images_dir), like fixtures/faces/labels.csv")
    parser.add_argument("--idx_file", help=".idx of --rec_file")
    parser.add_argument("--model", help="'reference' (dlib ResNet under dlib's Euclidean rule, default) or a trained "
                                        "backbone (export/backbone.keras of run.py train, model_card.json beside it)")
    parser.add_argument("--mode", choices=("mean", "all"), default="mean",
                        help="mean: one template per identity (default); all: one per photo")
    parser.add_argument("--aligned", action="store_true",
                        help="112x112 photos are aligned ArcFace crops: skip detection for them (always on for "
                             "--rec_file and --dataset_path, the insightface layout)")
    parser.add_argument("--faces", choices=("dlib", "portable"),
                        help="face detection and alignment: portable (the browser's ONNX pipeline; default with a "
                             "trained model) or dlib (default, and the only one, with the reference embedder)")
    parser.add_argument("--background_dir", help="photos of people NOT enrolled: calibrate the open-set threshold")
    parser.add_argument("--fpir", type=float, default=0.01,
                        help="target false-positive identification rate of the threshold (default 0.01)")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    parser.add_argument("--json", action="store_true", help="print a JSON summary as the last line")


def run_enroll(args: argparse.Namespace) -> int:
    from inference.engine import atrest
    from inference.engine.enroll import (
        PHOTO_SUFFIXES,
        Enrollment,
        csv_identities,
        folder_identities,
        recordio_identities,
    )
    from inference.engine.store import GalleryStore

    folder = gallery_dir(args.gallery)
    if args.images_dir and not args.labels:
        raise UserError("--images_dir needs --labels labels.csv (header file,identity)")
    if args.labels and not args.images_dir:
        raise UserError("--labels goes with --images_dir")
    if args.idx_file and not args.rec_file:
        raise UserError("--idx_file goes with --rec_file")
    if args.dataset_path:
        total, identities = folder_identities(Path(args.dataset_path))
    elif args.images_dir:
        total, identities = csv_identities(Path(args.images_dir), Path(args.labels))
    else:
        for path in (args.rec_file, args.idx_file):
            if path and not Path(path).is_file():
                raise UserError(f"{path}: no such file")
        total, identities = recordio_identities(Path(args.rec_file), Path(args.idx_file) if args.idx_file else None)
    if not 0 < args.fpir < 1:
        raise UserError("--fpir is a rate between 0 and 1 (e.g. 0.01)")
    embedder = _embedder(args.model)
    faces = _faces(args.faces, embedder)
    aligned = args.aligned or not args.images_dir
    background = []
    if args.background_dir:
        root = Path(args.background_dir)
        if not root.is_dir():
            raise UserError(f"--background_dir {root}: not a folder")
        background = [(f"background/{p.name}", partial(p.read_bytes)) for p in sorted(root.rglob("*"))
                      if p.is_file() and p.suffix.lower() in PHOTO_SUFFIXES]
        if not background:
            raise UserError(f"--background_dir {root}: no photos found")
    began = time.perf_counter()

    def on_photo(done: int) -> None:
        if not args.quiet and (done % 10 == 0 or done == total):
            _stderr(f"enrolled {done}" + (f" of {total}" if total else "") + " photos")

    def on_skip(skip) -> None:
        _stderr(f"skipped {skip.name}: {skip.reason}")

    enrollment = Enrollment(embedder, args.mode, on_photo=on_photo, on_skip=on_skip, aligned=aligned, faces=faces)
    enrollment.add_all(identities)
    enrollment.add_background(background)
    data, thumbs = enrollment.result()
    calibration, _ = enrollment.calibrate(data, args.fpir, embedder.default_threshold)

    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = atrest.load_or_create_key_file(folder / KEY_FILE)
    token = secrets.token_hex(6)
    staging, retired = folder / f".staging-{token}", folder / f".old-{token}"
    try:
        GalleryStore(staging, key, BINDING).write(data, thumbs)
        if (folder / DATA).exists():
            os.replace(folder / DATA, retired)
        os.replace(staging, folder / DATA)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(retired, ignore_errors=True)
    summary = {
        "gallery": args.gallery, "path": str(folder), "embedder": embedder.metadata, "mode": args.mode,
        "faces": faces, "identities": len(data.identities), "templates": len(data), "enrolled": enrollment.enrolled,
        "skipped": len(enrollment.skipped), "seconds": round(time.perf_counter() - began, 2),
        "calibration": calibration.to_dict(), "threshold": calibration.threshold,
    }
    if getattr(embedder, "digest", None):
        summary["model_path"] = embedder.path
    # Plain metadata only (no labels, no templates): what `inference` needs before decrypting.
    (folder / GALLERY_JSON).write_text(json.dumps(summary, indent=2) + "\n")
    print(f"gallery {args.gallery}: {summary['identities']} identities, {summary['templates']} templates from "
          f"{summary['enrolled']} photos ({summary['skipped']} skipped), encrypted in {folder}")
    print(_threshold_line(calibration.to_dict()))
    if args.json:
        print(json.dumps(summary))
    return 0


def _threshold_line(cal: dict) -> str:
    if cal["threshold"] is None:
        return "threshold: none (too few identities to calibrate and the model has no default)"

    def pct(value) -> str:
        return "n/a" if value is None else f"{100 * value:.2f} %"

    return (f"threshold {cal['threshold']} ({cal['method']}, FPIR target {pct(cal['fpir_target'])} at "
            f"{cal['gallery_size']} templates): estimated FPIR {pct(cal['fpir'])} (95 % bound "
            f"{pct(cal['fpir_upper'])}) from {cal['impostor_pairs']} impostor pairs, FNIR {pct(cal['fnir'])} "
            f"from {cal['genuine_pairs']} genuine pairs")


# -------------------------------------------------------------------------- inference

def add_inference_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--query_image", required=True, help="photo to search (JPEG, PNG, WebP or BMP)")
    parser.add_argument("--gallery", required=True, help="gallery name (local, or on --server)")
    parser.add_argument("--model", help="embedder; default: the one the gallery was enrolled with")
    parser.add_argument("--top_k", type=int, default=5, help="identities to show (default 5)")
    parser.add_argument("--threshold", type=float,
                        help="match threshold (cosine); default: the gallery's calibrated one, else the embedder's")
    parser.add_argument("--aligned", action="store_true",
                        help="the query is a 112x112 aligned ArcFace crop: skip detection")
    parser.add_argument("--faces", choices=("dlib", "portable"),
                        help="face pipeline of the probe; default (and the only one accepted): the gallery's")
    parser.add_argument("--json", action="store_true", help="print the result as JSON on the last line")
    parser.add_argument("--server", help="search a gallery on this PrivFace server (e.g. http://127.0.0.1:8000)")
    parser.add_argument("--token", help="API token for --server (default: $PRIVFACE_TOKEN)")
    parser.add_argument("--preset", default="ckks-8192", help="CKKS parameter set for local search (default ckks-8192)")


def _probe(path: str, embedder, aligned: bool = False, faces: str = "dlib"):
    from inference.engine.faces import align_face_bytes

    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise UserError(f"--query_image {path}: {exc.strerror or exc}") from None
    face = align_face_bytes(data, aligned=aligned, faces=faces)
    return face, embedder.embed(face)


def _check_search_args(args: argparse.Namespace) -> None:
    if args.top_k < 1:
        raise UserError("--top_k must be at least 1")
    if args.threshold is not None and not -1.0 <= args.threshold <= 1.0:
        raise UserError("--threshold is a cosine score between -1 and 1")
    if not Path(args.query_image).is_file():
        raise UserError(f"--query_image {args.query_image}: no such file")


def _local(args: argparse.Namespace) -> dict:
    from inference.engine import atrest
    from inference.engine.gallery import Gallery, squared_norms, to_scores
    from inference.engine.he_client import HEClient
    from inference.engine.he_server import load_public_context, prepare_shard, score_query
    from inference.engine.protocol import profile_for
    from inference.engine.store import GalleryStore

    folder = gallery_dir(args.gallery)
    if not (folder / GALLERY_JSON).is_file() or not (folder / KEY_FILE).is_file():
        raise UserError(f"no gallery {args.gallery!r} in {folder.parent}: run `run.py enroll --gallery "
                        f"{args.gallery} ...` first")
    _check_search_args(args)
    meta = json.loads((folder / GALLERY_JSON).read_text())
    embedder = _embedder(args.model, meta)
    faces = _gallery_faces(args.faces, meta.get("faces", "dlib"))  # galleries from before --faces are dlib
    began = time.perf_counter()
    face, probe = _probe(args.query_image, embedder, args.aligned, faces)
    gallery = GalleryStore(folder / DATA, atrest.load_or_create_key_file(folder / KEY_FILE), BINDING).read()
    profile = profile_for(len(gallery), gallery.dim, args.preset)

    t = time.perf_counter()
    client = HEClient(profile)  # the key holder
    public, query = client.public_context(), client.encrypt_query(probe, normalise=embedder.score_rule == "cosine")
    encrypt_s = time.perf_counter() - t

    t = time.perf_counter()  # the server's side: public context, query ciphertext, its own templates
    shard = prepare_shard(Gallery(gallery.embeddings, tuple(gallery.labels)), profile)
    prepare_s = time.perf_counter() - t
    t = time.perf_counter()
    scores_payload = score_query(load_public_context(public), shard, query)
    server_s = time.perf_counter() - t

    t = time.perf_counter()
    scores = to_scores(client.decrypt_scores([scores_payload], len(gallery)), probe,
                       squared_norms(gallery.embeddings), gallery.score_rule)
    decrypt_s = time.perf_counter() - t
    threshold = args.threshold if args.threshold is not None else meta.get("threshold", embedder.default_threshold)
    return _result(args, face, scores, gallery.labels, threshold, embedder.metadata, {
        "upload_bytes": len(query), "context_bytes": len(public), "response_bytes": len(scores_payload),
        "shards": 1, "server_seconds": round(server_s, 4), "server_prepare_seconds": round(prepare_s, 4),
        "client_encrypt_seconds": round(encrypt_s, 4), "client_decrypt_seconds": round(decrypt_s, 4),
        "total_seconds": round(time.perf_counter() - began, 4)}, mode="local")


class _Api:
    """Minimal JSON/bytes client for the PrivFace API (stdlib only)."""

    def __init__(self, base: str, token: str):
        self.base, self.token = base.rstrip("/"), token

    def call(self, method: str, path: str, body: bytes | None = None) -> tuple[bytes, dict]:
        import urllib.error
        import urllib.request

        headers = {"Authorization": f"Token {self.token}", "Accept": "application/json, application/octet-stream"}
        if body is not None:
            headers["Content-Type"] = "application/octet-stream"
        request = urllib.request.Request(self.base + path, data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return response.read(), dict(response.headers)
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                detail = json.loads(raw).get("detail") or raw.decode(errors="replace")
            except (ValueError, AttributeError):
                detail = raw.decode(errors="replace")[:200]
            raise UserError(f"{method} {path}: HTTP {exc.code}: {detail}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise UserError(f"cannot reach {self.base}: {getattr(exc, 'reason', exc)}") from None

    def json(self, method: str, path: str, body: bytes | None = None):
        raw, _ = self.call(method, path, body)
        try:
            return json.loads(raw)
        except ValueError:
            raise UserError(f"{method} {path}: the server did not answer JSON") from None


MODEL_FILES = ("backbone.keras", "model_card.json")
MAX_MODEL_DOWNLOAD_BYTES = 1 << 30


def model_cache_root() -> Path:
    return Path(os.environ.get("PRIVFACE_VAR_DIR") or REPO / "var") / "models-cli"


def _fetch_model(api: _Api, gallery: dict) -> Path:
    """The gallery's trained model from the server's registry (the key holder embeds, so it
    needs the file), cached by digest: a later search with it downloads nothing."""
    import io
    import zipfile

    from inference.engine.embedders import file_digest

    name = gallery["embedder"]["name"]
    digest = name.removeprefix("keras:")
    if not re.fullmatch(r"[0-9a-f]{16,64}", digest):
        raise UserError(f"gallery {gallery['name']!r}: the server names an unknown embedder {name!r}")
    cached = model_cache_root() / digest / "backbone.keras"
    if cached.is_file() and file_digest(cached).startswith(digest):
        return cached
    model = gallery["embedder"].get("model") or {}
    if not model.get("id"):
        raise UserError(f"gallery {gallery['name']!r} uses {name}, which is not in your model registry: pass its "
                        "backbone.keras as --model")
    raw, _ = api.call("GET", f"/api/models/{int(model['id'])}/download/")
    if len(raw) > MAX_MODEL_DOWNLOAD_BYTES:
        raise UserError(f"model {model['id']}: the download is larger than {MAX_MODEL_DOWNLOAD_BYTES >> 20} MiB")
    folder = cached.parent
    folder.mkdir(parents=True, exist_ok=True)
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            for member in MODEL_FILES:  # only these two names: nothing else of the archive is written
                if member in archive.namelist():
                    (folder / f"{member}.part").write_bytes(archive.read(member))
    except (zipfile.BadZipFile, KeyError, OSError) as exc:
        raise UserError(f"model {model['id']}: the server's download is not a model archive ({exc})") from None
    part = folder / "backbone.keras.part"
    if not part.is_file() or not file_digest(part).startswith(digest):
        part.unlink(missing_ok=True)
        raise UserError(f"model {model['id']}: the downloaded backbone is not the file the gallery was enrolled "
                        f"with ({name})")
    for member in MODEL_FILES:
        if (folder / f"{member}.part").is_file():
            (folder / f"{member}.part").replace(folder / member)
    _stderr(f"model {model.get('name') or model['id']} downloaded to {folder}")
    return cached


def _remote_embedder(model: str | None, gallery: dict, api: _Api):
    """The server's gallery names its embedder; a trained one is the --model given here or
    the gallery's model fetched from the registry, and must be the same file (same digest)."""
    name = gallery["embedder"]["name"]
    if name.startswith("keras:") and not model:
        model = str(_fetch_model(api, gallery))
    return _embedder(model, {"embedder": {"name": name}})


def _remote(args: argparse.Namespace) -> dict:
    from inference.engine import he_wire
    from inference.engine.gallery import to_scores
    from inference.engine.he_client import HEClient
    from inference.engine.he_layout import SearchProfile
    from inference.engine.protocol import unpack_score_set

    token = args.token or os.environ.get("PRIVFACE_TOKEN")
    if not token:
        raise UserError("--server needs --token (or PRIVFACE_TOKEN): `run.py createuser` prints one")
    _check_search_args(args)
    api = _Api(args.server, token)
    found = api.json("GET", f"/api/galleries/?name={quote(args.gallery)}").get("results") or []
    if not found:
        raise UserError(f"no gallery {args.gallery!r} on {args.server}")
    gallery = found[0]
    if not gallery.get("he_profile"):
        raise UserError(f"gallery {args.gallery!r} has no templates yet (status {gallery['status']})")
    embedder = _remote_embedder(args.model, gallery, api)
    faces = _gallery_faces(args.faces, gallery.get("faces", "dlib"))
    began = time.perf_counter()
    face, probe = _probe(args.query_image, embedder, args.aligned, faces)

    t = time.perf_counter()
    client = HEClient(SearchProfile.from_dict(gallery["he_profile"]))  # the secret key stays here
    public, query = client.public_context(), client.encrypt_query(probe, normalise=embedder.score_rule == "cosine")
    encrypt_s = time.perf_counter() - t
    key_id = api.json("POST", "/api/he/contexts/", public)["key_id"]
    if key_id != client.key_id:
        raise UserError("the server answered another key id for our public context")
    raw, headers = api.call("POST", f"/api/galleries/{gallery['id']}/encrypted-search/?key_id={key_id}", query)
    try:
        header, payloads = unpack_score_set(raw)
    except he_wire.PayloadError as exc:
        raise UserError(f"the server's answer is not a score set: {exc}") from None
    labels = api.json("GET", f"/api/galleries/{gallery['id']}/labels/")
    if labels["version"] != header["version"] or labels["entries"] != header["entries"]:
        raise UserError(f"gallery {args.gallery!r} changed during the search; run it again")
    t = time.perf_counter()
    scores = client.decrypt_scores(payloads, header["entries"])
    if labels.get("score", "cosine") != embedder.score_rule:
        raise UserError(f"gallery {args.gallery!r} scores by {labels.get('score', 'cosine')}, {embedder.name} by "
                        f"{embedder.score_rule}")
    scores = to_scores(scores, probe, labels.get("sq_norms"), embedder.score_rule)
    decrypt_s = time.perf_counter() - t
    threshold = args.threshold if args.threshold is not None else gallery.get("threshold",
                                                                              gallery["embedder"].get("default_threshold"))
    server_s = float(headers.get("X-Server-Seconds") or 0)
    return _result(args, face, scores, labels["labels"], threshold, embedder.metadata, {
        "upload_bytes": len(query), "context_bytes": len(public), "response_bytes": len(raw),
        "shards": len(payloads), "server_seconds": server_s, "client_encrypt_seconds": round(encrypt_s, 4),
        "client_decrypt_seconds": round(decrypt_s, 4), "total_seconds": round(time.perf_counter() - began, 4)},
        mode="server")


def _result(args, face, scores, labels, threshold, embedder: dict, server: dict, mode: str) -> dict:
    from inference.engine.protocol import matches_json, rank

    matches = matches_json(rank(scores, labels, args.top_k, threshold))
    return {"gallery": args.gallery, "matches": matches, "matched": bool(matches), "threshold": threshold,
            "top_k": args.top_k, "aligned": True, "faces_found": face.n_faces, "embedder": embedder,
            "mode": mode, "server": server}


def run_inference(args: argparse.Namespace) -> int:
    result = _remote(args) if args.server else _local(args)
    if args.json:
        print(json.dumps(result))
        return 0
    if result["faces_found"] > 1:
        _stderr(f"{result['faces_found']} faces found; searched the largest")
    threshold = result["threshold"]
    if not result["matches"]:
        print(f"no match in gallery {args.gallery}" + (f" (threshold {threshold})" if threshold is not None else ""))
        return 0
    print(f"matches in gallery {args.gallery}" + (f" (threshold {threshold})" if threshold is not None else "") + ":")
    for i, match in enumerate(result["matches"], start=1):
        print(f"{i:3d}. {match['identity']}  {match['score']:.4f}")
    return 0
