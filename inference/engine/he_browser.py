"""The browser's wire format for remote encrypted search (node-seal = SEAL 4.1 in WebAssembly).

The browser sends the same he_wire payloads as the CLI (``public_context`` with the
gallery's profile and one Galois-key section; ``query`` with key id, dimension and one
ciphertext section) with ``"format": "seal-4.1"`` in the header and its sections as
*uncompressed* SEAL 4.1 objects. The server turns them into the CLI's payloads (sections
rewritten to TenSEAL's SEAL version by seal_compat), so the existing checks (128-bit
parameters, Galois keys for exactly the profile's steps, no secret key) and the existing
worker code score them. Scores go back in the CLI's ``score_set`` with every ciphertext
re-saved uncompressed as SEAL 4.1.

The packing is the server's (he_layout: gallery entries in the real and imaginary parts of
each slot). node-seal decodes real slots only, so the browser reads the imaginary half
from the ciphertext times X^(N/2), which multiplies slot j by i^(3^j), i.e. by +-i (see
frontend/src/private/layout.ts).
"""

from __future__ import annotations

from inference.engine import he_wire, protocol, seal_compat
from inference.engine.he_client import PUBLIC_CONTEXT, QUERY, SCORES
from inference.engine.he_layout import SearchProfile

BROWSER_FORMAT = "seal-4.1"
FORMAT_KEY = "format"


class UnknownFormat(he_wire.PayloadError):
    """A payload whose header names a format this server does not speak."""


def payload_format(data: bytes, kind: str) -> str | None:
    """The header's ``format`` (None: the CLI's TenSEAL payload); PayloadError if not `kind`,
    UnknownFormat for a format other than seal-4.1."""
    header, _ = he_wire.unpack(data, kind)
    value = header.get(FORMAT_KEY)
    if value is not None and value != BROWSER_FORMAT:
        raise UnknownFormat(f"unknown payload format {str(value)[:32]!r}; only {BROWSER_FORMAT!r}")
    return value


def _to_server(section: bytes, kind: str, what: str) -> bytes:
    try:
        if seal_compat.version_of(section) != seal_compat.BROWSER_VERSION:
            raise seal_compat.SealFormatError("its header is not SEAL 4.1")
        return seal_compat.convert(section, kind, seal_compat.server_version())
    except seal_compat.SealFormatError as exc:
        raise he_wire.PayloadError(f"{what}: {exc}") from None


def context_from_browser(data: bytes) -> bytes:
    """The browser's public context as the CLI's payload; refuses any section that parses as
    a secret key (its layout is a plaintext's) before anything is loaded."""
    header, sections = he_wire.unpack(data, PUBLIC_CONTEXT, require_digest=True)
    if header.pop(FORMAT_KEY, None) != BROWSER_FORMAT:
        raise he_wire.PayloadError(f"not a {BROWSER_FORMAT!r} public context")
    if any(seal_compat.parses_as(s, "secret_key") for s in sections):
        raise he_wire.PayloadError("this context holds a secret key: send only the Galois keys")
    converted = [_to_server(s, "galois_keys", "the Galois key section") for s in sections]
    return he_wire.pack(PUBLIC_CONTEXT, {"profile": header.get("profile")}, converted)


def query_from_browser(data: bytes) -> bytes:
    header, sections = he_wire.unpack(data, QUERY)
    if header.pop(FORMAT_KEY, None) != BROWSER_FORMAT:
        raise he_wire.PayloadError(f"not a {BROWSER_FORMAT!r} query")
    if len(sections) != 1:
        raise he_wire.PayloadError("a query has exactly one ciphertext section")
    return he_wire.pack(QUERY, header, [_to_server(sections[0], "ciphertext", "the query ciphertext")])


def scores_to_browser(container: bytes, profile: SearchProfile) -> bytes:
    """A score_set whose ciphertexts node-seal can load (uncompressed, SEAL 4.1 headers)."""
    from tenseal import sealapi

    from inference.engine.he_params import seal_context

    ctx = seal_context(profile.params)
    header, payloads = protocol.unpack_score_set(container)
    out = []
    for payload in payloads:
        scores_header, sections = he_wire.unpack(payload, SCORES)
        converted = []
        for section in sections:
            ct = sealapi.Ciphertext()
            he_wire.seal_load(lambda p, ct=ct: ct.load(ctx, p), section)
            plain = seal_compat.save_uncompressed(ct)
            converted.append(seal_compat.convert(plain, "ciphertext", seal_compat.BROWSER_VERSION))
        out.append(he_wire.pack(SCORES, scores_header, converted))
    return he_wire.pack(protocol.SCORE_SET, {**header, FORMAT_KEY: BROWSER_FORMAT}, out)
