"""Biometric templates at rest: AES-256-GCM files. Django-free (the CLI uses it too).

File format (every gallery file, see docs/search.md):

    b"PFAR" | version u8 (1) | key fingerprint (8 bytes) | nonce (12 bytes) | ciphertext + 16-byte tag

The associated data is ``b"PFAR1|" + context``; the context names the gallery, its
version folder and the file's role, so a file copied into another gallery, another
version or another role fails authentication instead of being read as data. The key
fingerprint (HMAC of a constant under the key) only tells "wrong key" from "damaged
file" in the error message; it reveals nothing about the key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
import tempfile
from pathlib import Path

from privface_core.errors import UserError

MAGIC = b"PFAR"
VERSION = 1
KEY_BYTES = 32
NONCE_BYTES = 12
FINGERPRINT_BYTES = 8
HEADER_BYTES = len(MAGIC) + 1 + FINGERPRINT_BYTES + NONCE_BYTES
HKDF_SALT = b"privface-template-key"
HKDF_INFO = b"privface templates at rest v1"


class AtRestError(UserError):
    """A gallery file cannot be decrypted: wrong key, damaged or moved file.

    Not the user's fault on the web (the operator changed TEMPLATE_KEY, or the disk
    is damaged), hence 500; the CLI prints it as one line like every UserError.
    """

    http_status = 500


def parse_key(text: str) -> bytes:
    """A 32-byte key from 64 hex digits or (URL-safe) base64."""
    text = text.strip()
    if len(text) == 2 * KEY_BYTES:
        try:
            return bytes.fromhex(text)
        except ValueError:
            pass
    try:
        key = base64.urlsafe_b64decode(text.replace("+", "-").replace("/", "_") + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != KEY_BYTES:
        raise ValueError("TEMPLATE_KEY must be 32 bytes: 64 hex digits or base64 (e.g. `openssl rand -hex 32`)")
    return key


def derive_key(secret: str) -> bytes:
    """The default template key: HKDF-SHA256 of the Django SECRET_KEY."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=HKDF_SALT, info=HKDF_INFO).derive(secret.encode())


def new_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


def fingerprint(key: bytes) -> bytes:
    return hmac.new(key, b"privface key fingerprint", hashlib.sha256).digest()[:FINGERPRINT_BYTES]


def label_token(key: bytes, label: str) -> str:
    """File-name-safe keyed hash of an identity label (names must not appear on disk)."""
    return hmac.new(key, b"label\0" + label.encode(), hashlib.sha256).hexdigest()[:32]


def _aad(context: str) -> bytes:
    return b"PFAR1|" + context.encode()


def seal(key: bytes, data: bytes, context: str) -> bytes:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = secrets.token_bytes(NONCE_BYTES)
    body = AESGCM(key).encrypt(nonce, data, _aad(context))
    return MAGIC + bytes([VERSION]) + fingerprint(key) + nonce + body


def unseal(key: bytes, blob: bytes, context: str) -> bytes:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if len(blob) < HEADER_BYTES + 16 or blob[:4] != MAGIC:
        raise AtRestError(f"{context}: not an encrypted gallery file")
    if blob[4] != VERSION:
        raise AtRestError(f"{context}: unsupported gallery file version {blob[4]}")
    if not hmac.compare_digest(blob[5 : 5 + FINGERPRINT_BYTES], fingerprint(key)):
        raise AtRestError(f"{context}: encrypted with another key (was TEMPLATE_KEY or SECRET_KEY changed?)")
    nonce = blob[5 + FINGERPRINT_BYTES : HEADER_BYTES]
    try:
        return AESGCM(key).decrypt(nonce, blob[HEADER_BYTES:], _aad(context))
    except InvalidTag:
        raise AtRestError(f"{context}: gallery file is damaged or belongs elsewhere") from None


def write_file(path: Path, key: bytes, data: bytes, context: str) -> None:
    """Encrypt to ``path`` atomically (temp file + fsync + rename), mode 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(seal(key, data, context))
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_file(path: Path, key: bytes, context: str) -> bytes:
    return unseal(key, Path(path).read_bytes(), context)


def load_or_create_key_file(path: Path) -> bytes:
    """The key in ``path`` (hex), made on first use with mode 0600 (the CLI's galleries)."""
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(new_key().hex() + "\n")
    try:
        return parse_key(path.read_text())
    except ValueError:
        raise AtRestError(f"{path}: not a gallery key file") from None
