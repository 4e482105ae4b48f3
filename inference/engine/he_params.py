"""CKKS parameter sets for encrypted search, and the 128-bit security check.

Only this module decides which parameters are acceptable; the client refuses
to make keys for, and the server refuses to load contexts with, anything that
fails `check_security`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # tenseal is imported lazily: the web process must start fast
    from tenseal import sealapi

# HomomorphicEncryption.org security standard (Albrecht et al., 2018), table 1:
# largest total coefficient-modulus size (bits) per polynomial degree for
# 128-bit classical security with a ternary secret.
MAX_COEFF_BITS_128: dict[int, int] = {
    1024: 27,
    2048: 54,
    4096: 109,
    8192: 218,
    16384: 438,
    32768: 881,
}

# Bits kept free above |score| <= 1 times the product scale, so CKKS noise and
# partial sums never wrap around the data prime.
SCALE_HEADROOM_BITS = 4


class InsecureParametersError(ValueError):
    """The parameters give less than 128-bit security (or cannot work at all)."""


@dataclass(frozen=True)
class HEParams:
    """One CKKS parameter set.

    `coeff_bits` lists the data primes then the special (key-switching) prime.
    Search needs no rescaling: the query (scale 2**query_scale_bits) is
    multiplied by gallery plaintexts (scale 2**gallery_scale_bits) once, so a
    single data prime must hold the product scale.
    """

    poly_degree: int
    coeff_bits: tuple[int, ...]
    query_scale_bits: int
    gallery_scale_bits: int

    @property
    def slots(self) -> int:
        return self.poly_degree // 2

    def to_dict(self) -> dict[str, Any]:
        return {
            "poly_degree": self.poly_degree,
            "coeff_bits": list(self.coeff_bits),
            "query_scale_bits": self.query_scale_bits,
            "gallery_scale_bits": self.gallery_scale_bits,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HEParams:
        try:
            params = cls(
                poly_degree=int(data["poly_degree"]),
                coeff_bits=tuple(int(b) for b in data["coeff_bits"]),
                query_scale_bits=int(data["query_scale_bits"]),
                gallery_scale_bits=int(data["gallery_scale_bits"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InsecureParametersError(f"malformed parameters: {exc}") from exc
        check_security(params)
        return params


def check_security(params: HEParams) -> None:
    """Raise InsecureParametersError unless `params` are 128-bit secure and usable."""
    limit = MAX_COEFF_BITS_128.get(params.poly_degree)
    if limit is None:
        raise InsecureParametersError(f"poly_degree {params.poly_degree} is not in the 128-bit table")
    total = sum(params.coeff_bits)
    if total > limit:
        raise InsecureParametersError(
            f"{total} coefficient-modulus bits exceed the 128-bit limit of {limit} for poly_degree {params.poly_degree}"
        )
    if len(params.coeff_bits) < 2:
        # Rotations need a special prime on top of at least one data prime.
        raise InsecureParametersError("need at least one data prime and a special prime")
    if any(not 20 <= b <= 60 for b in params.coeff_bits):
        raise InsecureParametersError("SEAL primes must be 20..60 bits")
    product_bits = params.query_scale_bits + params.gallery_scale_bits
    if product_bits + SCALE_HEADROOM_BITS > params.coeff_bits[0]:
        raise InsecureParametersError(
            f"product scale 2**{product_bits} does not fit the {params.coeff_bits[0]}-bit data prime with headroom"
        )


# The query scale is the larger one because the baby-step rotations add
# key-switching noise (~2**15 absolute) at the query's scale; the gallery
# scale only has to beat plaintext rounding. Both together fill the data prime.
# Measured in bench/he_search.py (docs/he-search.md): all three cost about the
# same at 100k x 512; 8192 keeps a wide security margin (120 of 218 bits).
PRESETS: dict[str, HEParams] = {
    "ckks-4096": HEParams(4096, (54, 55), 30, 20),
    "ckks-8192": HEParams(8192, (60, 60), 33, 23),
    "ckks-16384": HEParams(16384, (60, 60), 33, 23),
}
DEFAULT_PRESET = "ckks-8192"


@lru_cache(maxsize=8)
def seal_context(params: HEParams) -> sealapi.SEALContext:
    """Build (once per parameter set) the SEAL context; SEAL re-checks 128-bit security."""
    from tenseal import sealapi

    check_security(params)
    parms = sealapi.EncryptionParameters(sealapi.SCHEME_TYPE.CKKS)
    parms.set_poly_modulus_degree(params.poly_degree)
    # CoeffModulus.Create is deterministic, so client and server derive the same primes.
    parms.set_coeff_modulus(sealapi.CoeffModulus.Create(params.poly_degree, list(params.coeff_bits)))
    context = sealapi.SEALContext(parms, True, sealapi.SEC_LEVEL_TYPE.TC128)
    if not context.parameters_set():
        raise InsecureParametersError(context.parameters_error_message())
    return context
