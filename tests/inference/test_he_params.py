"""128-bit security is enforced for every parameter set, on both sides."""

from __future__ import annotations

import pytest

from inference.engine import he_wire
from inference.engine.he_client import PUBLIC_CONTEXT, HEClient
from inference.engine.he_layout import SearchProfile
from inference.engine.he_params import (
    MAX_COEFF_BITS_128,
    PRESETS,
    HEParams,
    InsecureParametersError,
    check_security,
    seal_context,
)
from inference.engine.he_server import load_public_context


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_are_128_bit_secure(name: str) -> None:
    params = PRESETS[name]
    check_security(params)
    assert sum(params.coeff_bits) <= MAX_COEFF_BITS_128[params.poly_degree]
    assert seal_context(params).parameters_set()


@pytest.mark.parametrize(
    "params",
    [
        HEParams(8192, (60, 60, 60, 40), 33, 23),  # 220 > 218 bits
        HEParams(4096, (55, 55), 30, 20),  # 110 > 109 bits
        HEParams(2048, (30, 30), 10, 10),  # 60 > 54 bits
        HEParams(65536, (60, 60), 33, 23),  # degree not in the table
        HEParams(8192, (60,), 33, 23),  # no special prime for rotations
        HEParams(8192, (40, 60), 33, 23),  # product scale overflows the data prime
    ],
)
def test_insecure_or_unusable_parameters_are_refused(params: HEParams) -> None:
    with pytest.raises(InsecureParametersError):
        check_security(params)
    with pytest.raises(InsecureParametersError):
        HEClient(SearchProfile(params, 128, 16))


def test_server_refuses_public_context_claiming_insecure_parameters() -> None:
    client = HEClient(SearchProfile(PRESETS["ckks-4096"], 128, 16))
    header, sections = he_wire.unpack(client.public_context(), PUBLIC_CONTEXT)
    header.pop("kind")
    header["profile"]["params"]["coeff_bits"] = [60, 60]  # 120 > 109 bits at 4096
    forged = he_wire.pack(PUBLIC_CONTEXT, header, sections)
    with pytest.raises(InsecureParametersError):
        load_public_context(forged)
