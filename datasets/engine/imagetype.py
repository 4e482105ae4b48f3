"""Image format and size from a payload's first bytes, without decoding it."""

from __future__ import annotations

import struct

_PNG = b"\x89PNG\r\n\x1a\n"
# Start-of-frame markers that carry the size (all SOFn except DHT, JPG and DAC).
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def extension(payload: bytes | memoryview) -> str | None:
    """``"jpg"`` or ``"png"`` from the magic bytes, ``None`` for anything else."""
    head = bytes(payload[:8])
    if head[:3] == b"\xff\xd8\xff":
        return "jpg"
    if head == _PNG:
        return "png"
    return None


def dimensions(payload: bytes, ext: str) -> tuple[int, int] | None:
    """``(width, height)`` read from the PNG IHDR or the JPEG SOF segment, or ``None``."""
    if ext == "png":
        if len(payload) >= 24 and payload[12:16] == b"IHDR":
            width, height = struct.unpack_from(">II", payload, 16)
            return width, height
        return None
    pos = 2
    while pos + 4 <= len(payload):
        if payload[pos] != 0xFF:
            return None
        marker = payload[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        (length,) = struct.unpack_from(">H", payload, pos + 2)
        if marker in _SOF and pos + 9 <= len(payload):
            height, width = struct.unpack_from(">HH", payload, pos + 5)
            return width, height
        pos += 2 + length
    return None
