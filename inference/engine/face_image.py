"""Untrusted image bytes -> RGB array, refusing bombs, garbage and non-images.

Uploads come from anyone, so the checks run in the cheapest order: magic bytes
(no decoder touched), then Pillow's header parse (size known, pixels not yet
decoded), then the decode itself. Pillow is imported lazily: the web process
must not pay for it at start.
"""

from __future__ import annotations

import io
import warnings

import numpy as np

from privface_core.errors import UserError

# 64 MP is above any phone camera in common use (a 50 MP RGB decode is 150 MB);
# anything bigger is refused before a single pixel is decoded.
MAX_IMAGE_PIXELS = 64_000_000

# Magic bytes -> Pillow format name. Only formats a camera or a face dataset
# produces; everything else (GIF, TIFF, PSD, SVG, text ...) is a 415.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"BM", "BMP"),
)


class BadImage(UserError):
    """Bytes that claim to be an image but cannot (or must not) be decoded."""

    http_status = 400


class UnsupportedImageType(UserError):
    """Not one of the accepted image types."""

    http_status = 415


def sniff_format(data: bytes) -> str | None:
    """Pillow format name from the magic bytes, or None when not an accepted type."""
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    for magic, fmt in _MAGIC:
        if data.startswith(magic):
            return fmt
    return None


def load_image(data: bytes, max_pixels: int = MAX_IMAGE_PIXELS) -> np.ndarray:
    """Decode an uploaded photo to an (H, W, 3) uint8 RGB array, EXIF orientation applied.

    Raises UnsupportedImageType (415) for anything but JPEG/PNG/WebP/BMP by magic
    bytes, BadImage (400) for undecodable bytes or more than ``max_pixels`` pixels.
    The pixel limit is checked from the header, so a bomb is never allocated.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    if not data:
        raise BadImage("the uploaded file is empty")
    fmt = sniff_format(data)
    if fmt is None:
        raise UnsupportedImageType("not a supported image: upload a JPEG, PNG, WebP or BMP photo")
    try:
        # Pillow's own bomb check only warns between 1x and 2x its limit; make it an error,
        # and keep its global MAX_IMAGE_PIXELS untouched (other code shares the process).
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data), formats=(fmt,))
            width, height = img.size
            if width * height > max_pixels:
                raise BadImage(f"image is {width}x{height} pixels; the limit is {max_pixels // 1_000_000} megapixels")
            img.load()
            img = ImageOps.exif_transpose(img)
            rgb = img.convert("RGB")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise BadImage(f"image is too large: the limit is {max_pixels // 1_000_000} megapixels") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError) as err:
        # Truncated or corrupt files surface as any of these depending on the codec.
        raise BadImage(f"could not read the {fmt} image: it is damaged or not really a {fmt}") from err
    return np.array(rgb, dtype=np.uint8)
