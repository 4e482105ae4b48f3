"""Byte format of everything that crosses the wire in encrypted search.

    b"PFHE" | version u8 | header length u32 | JSON header | section count u32
    | (section length u64 | section bytes)*

The header says what the payload is (`kind`) and carries only public metadata;
sections are SEAL-serialised objects. Readers check the kind, so a private key
file can never be mistaken for a public context. The header's `sha256` (of the
section bytes) lets readers refuse a payload damaged in transit or at rest: SEAL
itself loads a key with a flipped coefficient byte without complaint.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import tempfile
from collections.abc import Callable
from typing import Any

MAGIC = b"PFHE"
VERSION = 1
MAX_HEADER = 64 * 1024
MAX_SECTIONS = 1 << 16

# sealapi only saves/loads through file paths; RAM-backed /dev/shm keeps that cheap.
_TMP_DIR = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None


class PayloadError(ValueError):
    """Malformed, truncated or wrong-kind payload."""


def sections_digest(sections: list[bytes]) -> str:
    digest = hashlib.sha256()
    for section in sections:
        digest.update(struct.pack("<Q", len(section)))
        digest.update(section)
    return digest.hexdigest()


def pack(kind: str, header: dict[str, Any], sections: list[bytes]) -> bytes:
    head = json.dumps({"kind": kind, **header, "sha256": sections_digest(sections)}, sort_keys=True).encode()
    if len(head) > MAX_HEADER:
        raise PayloadError("header too large")
    parts = [MAGIC, struct.pack("<BI", VERSION, len(head)), head, struct.pack("<I", len(sections))]
    for section in sections:
        parts += [struct.pack("<Q", len(section)), section]
    return b"".join(parts)


def unpack(data: bytes, kind: str, *, require_digest: bool = False) -> tuple[dict[str, Any], list[bytes]]:
    """Parse a payload, insisting it is of `kind` and intact (its sha256, which is checked
    and then left out of the header returned; ``require_digest``: refuse one without)."""
    view = memoryview(data)
    try:
        if bytes(view[:4]) != MAGIC:
            raise PayloadError("not a PrivFace HE payload")
        version, head_len = struct.unpack_from("<BI", view, 4)
        if version != VERSION or head_len > MAX_HEADER:
            raise PayloadError(f"unsupported version {version} or header size")
        pos = 9 + head_len
        header = json.loads(bytes(view[9:pos]))
        (count,) = struct.unpack_from("<I", view, pos)
        pos += 4
        if count > MAX_SECTIONS:
            raise PayloadError("too many sections")
        sections = []
        for _ in range(count):
            (size,) = struct.unpack_from("<Q", view, pos)
            pos += 8
            if pos + size > len(view):
                raise PayloadError("truncated section")
            sections.append(bytes(view[pos : pos + size]))
            pos += size
    except (struct.error, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PayloadError(f"malformed payload: {exc}") from exc
    if pos != len(view):
        raise PayloadError("trailing bytes")
    if not isinstance(header, dict) or header.get("kind") != kind:
        found = header.get("kind") if isinstance(header, dict) else None
        raise PayloadError(f"expected a {kind!r} payload, got {found!r}")
    digest = header.pop("sha256", None)
    if digest is None and require_digest:
        raise PayloadError("no sha256 in its header: send HEClient.public_context()")
    if digest is not None and digest != sections_digest(sections):
        raise PayloadError("the payload is damaged (its sha256 does not match)")
    return header, sections


def seal_save(obj: Any) -> bytes:
    """Bytes of a sealapi object (or Serializable) via its path-based save()."""
    fd, path = tempfile.mkstemp(dir=_TMP_DIR)
    os.close(fd)
    try:
        obj.save(path)
        with open(path, "rb") as f:
            return f.read()
    finally:
        os.unlink(path)


def seal_load(load: Callable[[str], None], data: bytes) -> None:
    """Feed bytes to a sealapi path-based load, e.g. `lambda p: ct.load(ctx, p)`.

    SEAL validates the object against the context while loading, so corrupt
    or mismatched input raises instead of producing garbage.
    """
    fd, path = tempfile.mkstemp(dir=_TMP_DIR)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        try:
            load(path)
        except (ValueError, RuntimeError, IndexError, OverflowError, MemoryError) as exc:
            # pybind11 maps SEAL's std::logic_error/invalid_argument/bad_alloc to these.
            raise PayloadError(f"invalid SEAL object: {exc}") from exc
    finally:
        os.unlink(path)
