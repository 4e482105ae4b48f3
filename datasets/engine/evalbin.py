"""insightface verification ``.bin`` files: ``pickle.dumps((image_bytes_list, issame_list))``.

A ``.bin`` from a user is untrusted, and ``pickle.load`` on it would run whatever the
pickle names. The unpickler here refuses every global lookup, so only plain containers,
bytes and booleans can come out of it; the result's shape is then checked too.
"""

from __future__ import annotations

import io
import json
import os
import pickle
from typing import Any

from datasets.engine.errors import DatasetError
from datasets.engine.extract import Progress
from datasets.engine.imagesink import write_file
from datasets.engine.imagetype import dimensions, extension
from datasets.engine.outdir import MARKER, staging_dir


class _DataOnlyUnpickler(pickle.Unpickler):
    """Unpickler that cannot import: no classes, functions or ``REDUCE`` targets exist."""

    def __init__(self, file: io.BufferedIOBase, path: str) -> None:
        # encoding="bytes": insightface's own .bin files were pickled by Python 2, whose
        # str holds the JPEG bytes.
        super().__init__(file, encoding="bytes")
        self._path = path

    def find_class(self, module: str, name: str) -> Any:
        raise DatasetError(
            f"{self._path}: refused: the pickle asks for {module}.{name}; a .bin may hold only image bytes and booleans"
        )

    def persistent_load(self, pid: Any) -> Any:
        raise DatasetError(f"{self._path}: refused: the pickle uses persistent ids")


def read_bin(path: str | os.PathLike[str]) -> tuple[list[bytes], list[bool]]:
    """Load and check a ``.bin``: 2N images (bytes) and N same/different flags."""
    path = os.fspath(path)
    try:
        f = open(path, "rb")  # noqa: SIM115
    except OSError as err:
        raise DatasetError(f"cannot open {path}: {err.strerror}") from None
    with f:
        if os.fstat(f.fileno()).st_size == 0:
            raise DatasetError(f"{path} is empty (0 bytes): not a .bin verification file")
        try:
            data = _DataOnlyUnpickler(f, path).load()
        except DatasetError:
            raise
        except (
            pickle.UnpicklingError,
            EOFError,
            ValueError,
            TypeError,
            IndexError,
            KeyError,
            AttributeError,
            UnicodeDecodeError,
            MemoryError,
        ) as err:
            raise DatasetError(f"{path} is not a valid .bin verification file ({err})") from None
    if not (isinstance(data, (tuple, list)) and len(data) == 2):
        raise DatasetError(f"{path}: expected a pickled (images, issame) pair, got {type(data).__name__}")
    images, issame = data
    if not isinstance(images, list) or not all(isinstance(b, bytes) for b in images):
        raise DatasetError(f"{path}: the first element must be a list of image bytes")
    if not isinstance(issame, list) or not all(isinstance(v, bool) for v in issame):
        raise DatasetError(f"{path}: the second element must be a list of booleans")
    if len(images) != 2 * len(issame):
        raise DatasetError(f"{path}: {len(images)} images for {len(issame)} pairs (needs exactly 2 per pair)")
    return images, issame


def extract_bin(
    bin_path: str | os.PathLike[str],
    output_dir: str | os.PathLike[str],
    *,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Write ``images/<n>.<ext>``, ``pairs.csv`` and ``summary.json`` (all-or-nothing)."""
    with staging_dir(output_dir) as staging:
        return extract_bin_into(staging, bin_path, progress=progress)


def extract_bin_into(
    root: str, bin_path: str | os.PathLike[str], *, progress: Progress | None = None
) -> dict[str, Any]:
    """Extract into an existing empty directory ``root`` (see ``extract_bin``)."""
    bin_path = os.fspath(bin_path)
    images, issame = read_bin(bin_path)
    os.mkdir(os.path.join(root, "images"))
    names = []
    for n, payload in enumerate(images):
        ext = extension(payload)
        if ext is None:
            raise DatasetError(f"{bin_path}: image {n} (pair {n // 2}) is neither JPEG nor PNG")
        names.append(f"images/{n}.{ext}")
        write_file(os.path.join(root, names[-1]), payload)
        if progress is not None and n % 2:
            progress(n // 2 + 1, len(issame))
    with open(os.path.join(root, "pairs.csv"), "w", encoding="utf-8", newline="") as f:
        f.write("pair,left,right,same\n")
        for pair, same in enumerate(issame):
            f.write(f"{pair},{names[2 * pair]},{names[2 * pair + 1]},{int(same)}\n")
    size = dimensions(images[0], extension(images[0]) or "") if images else None
    summary = {
        "bin_file": os.path.basename(bin_path),
        "pairs": len(issame),
        "same": sum(issame),
        "different": len(issame) - sum(issame),
        "images": len(images),
        "image_size": None if size is None else {"width": size[0], "height": size[1]},
    }
    with open(os.path.join(root, MARKER), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")
    if progress is not None and not issame:
        progress(0, 0)
    return summary
