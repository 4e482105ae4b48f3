"""Move SEAL-serialised objects between SEAL 4.1 (node-seal, the browser) and 4.3 (TenSEAL).

SEAL refuses to load an object whose header names another minor version, although 4.1 and
4.3 write the same layout (their save/load code did not change between v4.1.2 and v4.3.0).
`convert` walks an uncompressed object by the sizes its layout gives (the layouts of SEAL
4.1's ``save_members``; every nested object starts with its own 16-byte SEALHeader), checks
every field it passes and every header's size, and rewrites only the version bytes of the
headers it found that way. Anything that does not parse as the kind asked for is refused
with one line: it never searches bytes for a header pattern.

Layouts (little endian; H = a SEALHeader whose ``size`` covers the object it opens):

    Modulus              H | value u64
    EncryptionParameters H | scheme u8 | degree u64 | n u64 | n x Modulus | plain Modulus
    DynArray<u64>        H | count u64 | count x u64
    Plaintext, SecretKey H | parms_id 4 x u64 | coeff_count u64 | scale f64 | DynArray
    Ciphertext, PublicKey H | parms_id | ntt u8 | size u64 | degree u64 | moduli u64 | scale f64
                         | correction u64 | DynArray | [PRNG info if the DynArray holds one
                           polynomial: a seeded ciphertext]
    PRNG info            H | prng type u8 | seed 64 bytes
    KSwitchKeys (Galois, relinearisation) H | parms_id | n u64 | n x (m u64 | m x PublicKey)

Plaintext and SecretKey (Ciphertext and PublicKey) share one layout: the caller says which
kind it expects, and the loader on the other side checks the rest.
"""

from __future__ import annotations

import struct
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tenseal import sealapi

MAGIC = 0xA15E
HEADER = struct.Struct("<HBBBBHQ")  # magic, header size, major, minor, compression, reserved, size
HEADER_SIZE = 0x10
# Minor versions of SEAL 4 whose layouts are identical (checked against the sources).
COMPATIBLE = {(4, 1), (4, 3)}
BROWSER_VERSION = (4, 1)  # node-seal 7.0.0
COMPRESSION = {0: "none", 1: "zlib", 2: "zstd"}
PRNG_TYPES = {1, 2}  # blake2xb, shake256
PRNG_SEED_BYTES = 64
MAX_MODULI = 64  # SEAL_COEFF_MOD_COUNT_MAX
MAX_DEGREE = 131072  # SEAL_POLY_MOD_DEGREE_MAX
KINDS = ("modulus", "parms", "plaintext", "secret_key", "ciphertext", "public_key", "galois_keys",
         "relin_keys")


class SealFormatError(ValueError):
    """Bytes that are not an uncompressed SEAL 4.1/4.3 object of the kind expected."""


class _Walker:
    def __init__(self, data: bytes, kind: str):
        self.data = data
        self.kind = kind
        self.pos = 0
        self.headers: list[int] = []
        self.version: tuple[int, int] | None = None

    def fail(self, what: str) -> SealFormatError:
        return SealFormatError(f"not an uncompressed SEAL {self.kind}: {what} at byte {self.pos}")

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise self.fail("truncated")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def u8(self) -> int:
        return self.take(1)[0]

    def u64(self) -> int:
        return struct.unpack("<Q", self.take(8))[0]

    def f64(self) -> float:
        return struct.unpack("<d", self.take(8))[0]

    def header(self) -> int:
        """Check the SEALHeader at pos; returns where the object it opens must end."""
        start = self.pos
        magic, size_byte, major, minor, compr, reserved, size = HEADER.unpack(self.take(HEADER_SIZE))
        if magic != MAGIC or size_byte != HEADER_SIZE:
            raise self.fail("no SEAL header")
        if (major, minor) not in COMPATIBLE:
            raise self.fail(f"SEAL version {major}.{minor} is not one of 4.1 and 4.3")
        if self.version is not None and (major, minor) != self.version:
            raise self.fail(f"nested header of version {major}.{minor} inside {self.version[0]}.{self.version[1]}")
        if compr != 0:
            raise self.fail(f"compressed ({COMPRESSION.get(compr, compr)}); save it with compression none")
        if reserved != 0 or size < HEADER_SIZE:
            raise self.fail(f"invalid header (size {size})")
        if start + size > len(self.data):
            raise self.fail(f"truncated (its header says {size} bytes)")
        self.version = (major, minor)
        self.headers.append(start)
        return start + size

    def close(self, end: int) -> None:
        if self.pos != end:
            raise self.fail(f"object ends at byte {self.pos}, its header says {end}")

    def modulus(self) -> None:
        end = self.header()
        self.u64()
        self.close(end)

    def parms(self) -> None:
        end = self.header()
        if self.u8() > 3:
            raise self.fail("unknown scheme")
        if self.u64() > MAX_DEGREE:
            raise self.fail("poly_modulus_degree is invalid")
        count = self.u64()
        if count > MAX_MODULI:
            raise self.fail("too many coefficient moduli")
        for _ in range(count + 1):  # the coefficient moduli, then the plain modulus
            self.modulus()
        self.close(end)

    def dynarray(self, bound: int) -> int:
        end = self.header()
        count = self.u64()
        if count > bound:
            raise self.fail(f"array of {count} values where at most {bound} fit")
        self.take(8 * count)
        self.close(end)
        return count

    def plaintext(self) -> None:
        end = self.header()
        self.take(32)  # parms_id
        coeff_count = self.u64()
        self.f64()  # scale
        if self.dynarray(coeff_count) != coeff_count:
            raise self.fail("coefficient count does not match its data")
        self.close(end)

    def ciphertext(self) -> None:
        end = self.header()
        self.take(32)  # parms_id
        self.u8()  # is_ntt_form
        size, degree, moduli = self.u64(), self.u64(), self.u64()
        if degree > MAX_DEGREE or moduli > MAX_MODULI or size > 16:
            raise self.fail("ciphertext dimensions are invalid")
        self.f64()  # scale
        self.u64()  # correction factor (SEAL 4)
        count = self.dynarray(size * degree * moduli)
        if count == degree * moduli and count:
            self.prng_info()  # seeded: the second polynomial is regenerated from the seed
        elif count != size * degree * moduli:
            raise self.fail("ciphertext data does not match its dimensions")
        self.close(end)

    def prng_info(self) -> None:
        end = self.header()
        if self.u8() not in PRNG_TYPES:
            raise self.fail("unknown PRNG type")
        self.take(PRNG_SEED_BYTES)
        self.close(end)

    def kswitch_keys(self) -> None:
        end = self.header()
        self.take(32)  # parms_id
        outer = self.u64()
        if outer > (end - self.pos) // 8:
            raise self.fail("too many keys for the object's size")
        for _ in range(outer):
            inner = self.u64()
            if inner > MAX_MODULI:
                raise self.fail("too many key components")
            for _ in range(inner):
                self.ciphertext()
        self.close(end)

    def walk(self) -> None:
        read = {"modulus": self.modulus, "parms": self.parms, "plaintext": self.plaintext,
                "secret_key": self.plaintext, "ciphertext": self.ciphertext, "public_key": self.ciphertext,
                "galois_keys": self.kswitch_keys, "relin_keys": self.kswitch_keys}.get(self.kind)
        if read is None:
            raise SealFormatError(f"unknown SEAL object kind {self.kind!r}; one of {', '.join(KINDS)}")
        read()
        if self.pos != len(self.data):
            raise self.fail(f"{len(self.data) - self.pos} trailing bytes")


def parse(data: bytes, kind: str) -> tuple[tuple[int, int], list[int]]:
    """(SEAL version, offsets of every header) of an uncompressed object of `kind`; raises
    SealFormatError unless the whole of `data` is exactly one such object."""
    walker = _Walker(bytes(data), kind)
    walker.walk()
    assert walker.version is not None
    return walker.version, walker.headers


def parses_as(data: bytes, kind: str) -> bool:
    try:
        parse(data, kind)
    except SealFormatError:
        return False
    return True


def version_of(data: bytes) -> tuple[int, int]:
    """Version in the outer SEALHeader (not validated beyond the magic)."""
    if len(data) < HEADER_SIZE or HEADER.unpack_from(data)[0] != MAGIC:
        raise SealFormatError("not a SEAL object: no SEAL header")
    _, _, major, minor, *_ = HEADER.unpack_from(data)
    return major, minor


def convert(data: bytes, kind: str, to: tuple[int, int]) -> bytes:
    """The same object with every header (outer and nested) saying SEAL version `to`."""
    if to not in COMPATIBLE:
        raise SealFormatError(f"cannot write SEAL version {to[0]}.{to[1]}")
    _, offsets = parse(data, kind)
    out = bytearray(data)
    for offset in offsets:
        out[offset + 3], out[offset + 4] = to
    return bytes(out)


@lru_cache(maxsize=1)
def server_version() -> tuple[int, int]:
    """The SEAL version TenSEAL's sealapi writes (read from an object it saved)."""
    from tenseal import sealapi

    from inference.engine import he_wire

    return version_of(he_wire.seal_save(sealapi.Modulus(17)))


def save_uncompressed(ct: sealapi.Ciphertext) -> bytes:
    """A TenSEAL ciphertext in SEAL's uncompressed layout (sealapi saves only with zstd, whose
    stream hides the nested headers); CKKS ciphertexts have correction factor 1."""
    import numpy as np

    array = ct.dyn_array()
    at = array.at
    count = array.size()
    if count != ct.size() * ct.poly_modulus_degree() * ct.coeff_modulus_size():
        raise SealFormatError("ciphertext data does not match its dimensions")
    values = np.fromiter((at(i) for i in range(count)), dtype="<u8", count=count).tobytes()
    major, minor = server_version()

    def head(size: int) -> bytes:
        return HEADER.pack(MAGIC, HEADER_SIZE, major, minor, 0, 0, size)

    dyn = head(HEADER_SIZE + 8 + len(values)) + struct.pack("<Q", count) + values
    meta = struct.pack("<4Q", *ct.parms_id()) + struct.pack(
        "<BQQQdQ", int(ct.is_ntt_form()), ct.size(), ct.poly_modulus_degree(), ct.coeff_modulus_size(),
        ct.scale, 1)
    return head(HEADER_SIZE + len(meta) + len(dyn)) + meta + dyn
