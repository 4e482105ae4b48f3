"""Nothing handed to the search server carries the secret key."""

from __future__ import annotations

import numpy as np
import pytest

from inference.engine import he_wire
from inference.engine.he_client import PUBLIC_CONTEXT, QUERY, HEClient
from inference.engine.he_params import seal_context
from inference.engine.he_server import load_public_context, prepare_shard, score_query

from .he_fixtures import random_gallery, small_profile


@pytest.fixture(scope="module")
def setup() -> tuple:
    gallery = random_gallery(200)
    profile = small_profile(gallery)
    return gallery, profile, HEClient(profile)


def _loads_as_secret_key(client: HEClient, data: bytes) -> bool:
    from tenseal import sealapi

    secret = sealapi.SecretKey()
    ctx = seal_context(client.profile.params)
    try:
        he_wire.seal_load(lambda p: secret.load(ctx, p), data)
    except he_wire.PayloadError:
        return False
    return True


def test_public_context_holds_only_galois_keys(setup: tuple) -> None:
    _, profile, client = setup
    header, sections = he_wire.unpack(client.public_context(), PUBLIC_CONTEXT)
    assert set(header) == {"kind", "profile"}
    assert len(sections) == 1  # the Galois keys for steps 1 and b, nothing else
    assert not _loads_as_secret_key(client, sections[0])
    context = load_public_context(client.public_context())
    assert not context.has_secret_key()
    assert context.profile == profile
    # Control: the real secret key section does load as one, so the check has teeth.
    _, private_sections = he_wire.unpack(client.export_private(), "private_key")
    assert _loads_as_secret_key(client, private_sections[0])


def test_query_payload_is_one_ciphertext_without_key(setup: tuple) -> None:
    gallery, _, client = setup
    header, sections = he_wire.unpack(client.encrypt_query(gallery.embeddings[0]), QUERY)
    assert set(header) == {"kind", "key_id", "dim"}
    assert len(sections) == 1
    assert not _loads_as_secret_key(client, sections[0])


def test_server_refuses_private_key_and_foreign_queries(setup: tuple) -> None:
    gallery, profile, client = setup
    with pytest.raises(he_wire.PayloadError):
        load_public_context(client.export_private())
    other = HEClient(profile)
    context = load_public_context(client.public_context())
    shard = prepare_shard(gallery, profile)
    with pytest.raises(he_wire.PayloadError):
        score_query(context, shard, other.encrypt_query(gallery.embeddings[0]))
    with pytest.raises(he_wire.PayloadError):
        score_query(context, shard, client.public_context())


def test_private_key_round_trip_keeps_key_id(setup: tuple) -> None:
    gallery, profile, client = setup
    restored = HEClient.from_private(client.export_private())
    assert restored.key_id == client.key_id
    shard = prepare_shard(gallery, profile)
    scores = score_query(
        load_public_context(client.public_context()), shard, client.encrypt_query(gallery.embeddings[7])
    )
    np.testing.assert_allclose(
        restored.decrypt_scores([scores], len(gallery)), gallery.scores(gallery.embeddings[7]), atol=1e-3
    )


def test_truncated_payload_is_rejected(setup: tuple) -> None:
    _, _, client = setup
    data = client.public_context()
    with pytest.raises(he_wire.PayloadError):
        he_wire.unpack(data[:-10], PUBLIC_CONTEXT)
    with pytest.raises(he_wire.PayloadError):
        he_wire.unpack(b"XXXX" + data[4:], PUBLIC_CONTEXT)
