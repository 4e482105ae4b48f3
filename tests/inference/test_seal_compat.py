"""SEAL 4.1 <-> 4.3 header conversion (seal_compat) and the browser payloads (he_browser),
on objects TenSEAL makes here; the browser's own objects are checked in
tests/inference_api/test_browser_private_he.py."""

from __future__ import annotations

import numpy as np
import pytest

from inference.engine import he_browser, he_wire, protocol, seal_compat
from inference.engine.he_client import QUERY, HEClient
from inference.engine.he_server import load_public_context, prepare_shard, score_query

from .he_fixtures import random_gallery, small_profile


@pytest.fixture(scope="module")
def setup():
    from tenseal import sealapi

    gallery = random_gallery(300)
    profile = small_profile(gallery)
    client = HEClient(profile)
    ctx = client._ctx
    _, sections = he_wire.unpack(client.encrypt_query(gallery.embeddings[7]), QUERY)
    ct = sealapi.Ciphertext()
    he_wire.seal_load(lambda p: ct.load(ctx, p), sections[0])
    return gallery, profile, client, ct, sections[0]


def test_uncompressed_ciphertext_walks_and_round_trips(setup) -> None:
    _, _, client, ct, _ = setup
    raw = seal_compat.save_uncompressed(ct)
    version, offsets = seal_compat.parse(raw, "ciphertext")
    assert version == seal_compat.server_version() and version != (4, 1)
    assert offsets == [0, 16 + 32 + 1 + 5 * 8]  # the ciphertext and its DynArray
    old = seal_compat.convert(raw, "ciphertext", (4, 1))
    assert seal_compat.version_of(old) == (4, 1)
    changed = [i for i in range(len(raw)) if raw[i] != old[i]]
    assert changed and set(changed) <= {o + 4 for o in offsets}  # only the minor version bytes
    assert seal_compat.convert(old, "ciphertext", version) == raw


def test_tenseal_refuses_41_and_loads_the_converted_object(setup) -> None:
    from tenseal import sealapi

    _, _, client, ct, _ = setup
    raw = seal_compat.save_uncompressed(ct)
    old = seal_compat.convert(raw, "ciphertext", (4, 1))
    fresh = sealapi.Ciphertext()
    with pytest.raises(he_wire.PayloadError, match="version"):
        he_wire.seal_load(lambda p: fresh.load(client._ctx, p), old)
    back = seal_compat.convert(old, "ciphertext", seal_compat.server_version())
    he_wire.seal_load(lambda p: fresh.load(client._ctx, p), back)
    plain_a, plain_b = sealapi.Plaintext(), sealapi.Plaintext()
    client._decryptor.decrypt(ct, plain_a)
    client._decryptor.decrypt(fresh, plain_b)
    assert client._encoder.decode_double(plain_a) == client._encoder.decode_double(plain_b)


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda raw: raw[:-1], "truncated"),
        (lambda raw: raw + b"\0", "trailing"),
        (lambda raw: raw[:5] + b"\x02" + raw[6:], "compressed"),
        (lambda raw: raw[:3] + b"\x03\x00" + raw[5:], "version 3.0"),
        (lambda raw: b"\0" + raw[1:], "no SEAL header"),
    ],
)
def test_malformed_objects_are_refused_in_one_line(setup, damage, message) -> None:
    raw = seal_compat.save_uncompressed(setup[3])
    with pytest.raises(seal_compat.SealFormatError, match=message) as info:
        seal_compat.convert(damage(raw), "ciphertext", (4, 1))
    assert "\n" not in str(info.value)


def test_zstd_output_and_wrong_kinds_are_refused(setup) -> None:
    _, _, _, ct, zstd_section = setup
    with pytest.raises(seal_compat.SealFormatError, match="compressed \\(zstd\\)"):
        seal_compat.parse(zstd_section, "ciphertext")
    raw = seal_compat.save_uncompressed(ct)
    for kind in ("galois_keys", "secret_key", "parms", "modulus"):
        assert not seal_compat.parses_as(raw, kind)
    with pytest.raises(seal_compat.SealFormatError, match="unknown SEAL object kind"):
        seal_compat.parse(raw, "bananas")


def test_browser_query_is_scored_and_the_scores_come_back_as_41(setup) -> None:
    """A query in the browser's format (uncompressed SEAL 4.1) goes through the worker's code
    and its scores come back as SEAL 4.1 ciphertexts that decrypt to the dot products."""
    from tenseal import sealapi

    gallery, profile, client, ct, _ = setup
    section = seal_compat.convert(seal_compat.save_uncompressed(ct), "ciphertext", (4, 1))
    header = {"key_id": client.key_id, "dim": profile.dim, "format": he_browser.BROWSER_FORMAT}
    browser_query = he_wire.pack(QUERY, header, [section])
    assert he_browser.payload_format(browser_query, QUERY) == he_browser.BROWSER_FORMAT
    query = he_browser.query_from_browser(browser_query)
    assert he_browser.payload_format(query, QUERY) is None
    context = load_public_context(client.public_context())
    scores = score_query(context, prepare_shard(gallery, profile), query)
    container = protocol.pack_score_set(1, 1, len(gallery), client.key_id, [(0, 1)], [scores])
    browser = he_browser.scores_to_browser(container, profile)
    head, payloads = protocol.unpack_score_set(browser)
    assert head["format"] == he_browser.BROWSER_FORMAT
    back = []
    for payload in payloads:
        h, sections = he_wire.unpack(payload, "scores")
        assert all(seal_compat.version_of(s) == (4, 1) for s in sections)
        fixed = []
        for s in sections:
            seal_compat.parse(s, "ciphertext")
            loaded = sealapi.Ciphertext()
            he_wire.seal_load(lambda p, c=loaded: c.load(client._ctx, p),
                              seal_compat.convert(s, "ciphertext", seal_compat.server_version()))
            fixed.append(he_wire.seal_save(loaded))
        back.append(he_wire.pack("scores", h, fixed))
    got = client.decrypt_scores(back, len(gallery))
    unit = gallery.embeddings / np.linalg.norm(gallery.embeddings, axis=1, keepdims=True)
    expected = unit @ (gallery.embeddings[7] / np.linalg.norm(gallery.embeddings[7]))
    assert np.abs(got - expected).max() < 1e-3


def test_browser_payloads_with_damaged_sections_are_refused(setup) -> None:
    _, profile, client, _, zstd_section = setup
    header = {"key_id": client.key_id, "dim": profile.dim, "format": he_browser.BROWSER_FORMAT}
    with pytest.raises(he_wire.PayloadError, match="not SEAL 4.1|compressed"):
        he_browser.query_from_browser(he_wire.pack(QUERY, header, [zstd_section]))
    with pytest.raises(he_wire.PayloadError, match="unknown payload format"):
        he_browser.payload_format(he_wire.pack(QUERY, {**header, "format": "seal-9"}, []), QUERY)
