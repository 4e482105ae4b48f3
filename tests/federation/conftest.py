from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "recordio" / "webface_tiny"


@pytest.fixture(scope="session")
def webface_tiny() -> Path:
    if not (FIXTURES / "train.rec").is_file():
        pytest.fail(f"fixture missing: {FIXTURES} (shared/fixtures must be beside the repository)")
    return FIXTURES


def small_config(webface_tiny: Path, output_dir: Path, **overrides):
    """A run that takes about a minute on two cores: 3 clients, 56 px, 64-d embeddings."""
    from federation.engine.config import FederatedConfig

    values = dict(rec_file=str(webface_tiny / "train.rec"), idx_file=str(webface_tiny / "train.idx"),
                  num_clients=3, num_rounds=2, image_size=56, embedding_size=64, batch_size=8, seed=3,
                  head_type="softmax", optimizer="adam", lr=1e-3, output_dir=str(output_dir))
    values.update(overrides)
    return FederatedConfig(**values)
