"""Whole simulated federated runs on webface_tiny (Flower + Ray, one child process per run)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from federation.engine import privacy
from federation.engine.plan import num_train_per_client
from federation.engine.runner import ROOT, run
from tests.federation.conftest import small_config

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]  # whole runs: a minute or more each


@pytest.fixture(scope="module")
def plain_run(webface_tiny, tmp_path_factory):
    """3 rounds without DP; client 1 raises in round 2."""
    out = tmp_path_factory.mktemp("plain") / "run"
    # 112 px, the ArcFace crop size, so that the export can enroll and search real photos; two local
    # epochs a round, so that each round's few steps move the loss by more than batch-to-batch noise.
    config = small_config(webface_tiny, out, num_rounds=3, eval_bin=str(webface_tiny / "lfw_tiny.bin"),
                          image_size=112, local_epochs=2, extra={"inject_failure": {"client": 1, "round": 2}})
    events: list[dict] = []
    result = run(config, events.append)
    return config, result, events


def rounds(events):
    return [e for e in events if e["type"] == "round"]


def test_it_completes_and_the_loss_falls(plain_run):
    _, result, events = plain_run
    assert result["status"] == "completed" and result["rounds_completed"] == 3
    losses = [r["loss"] for r in rounds(events)]
    assert losses[-1] < losses[0], losses
    assert all(r["update_norm"] > 0 for r in rounds(events))  # every round moved the global model
    assert all(r["verification_accuracy"] is not None for r in rounds(events))


def test_a_client_that_raises_does_not_stop_the_round(plain_run):
    second = rounds(plain_run[2])[1]
    assert (second["sampled"], second["replied"], second["failed"]) == (3, 2, 1)
    failed = [c for c in second["clients"] if c["status"] == "failed"]
    assert failed and "injected failure in round 2" in failed[0]["reason"]
    assert rounds(plain_run[2])[2]["failed"] == 0


def test_a_private_head_never_reaches_the_server(plain_run):
    assert all(r["received"] == ["backbone"] for r in rounds(plain_run[2]))


def test_the_export_loads_as_a_trained_model_and_embeds(plain_run):
    from training.engine.export import load_backbone

    config, result, _ = plain_run
    model = load_backbone(f"{result['export_dir']}/backbone.keras")
    out = model.predict(np.zeros((2, 112, 112, 3), np.float32), verbose=0)
    assert out.shape == (2, 64)
    with open(f"{result['export_dir']}/model_card.json") as f:
        card = json.load(f)
    fed = card["federation"]
    assert fed["head_policy"] == "private" and fed["partition"] == "by_identity" and fed["clients"] == 3
    assert sorted(c["images"] for c in fed["per_client"]) == [24, 24, 32]
    assert card["dp"] == {"enabled": False} and card["membership_inference"]["auc"] is not None


def test_dp_run_cancels_after_a_round_and_resumes_from_the_cli(webface_tiny, tmp_path):
    out = tmp_path / "dp"
    config = small_config(webface_tiny, out, num_rounds=3, use_dp=True, noise_multiplier=1.0,
                          head_type="arcface", optimizer="sgd", lr=0.05)
    events: list[dict] = []
    # Cancel once round 1 is reported: the run stops after the round under way (1 or 2).
    result = run(config, events.append, should_cancel=lambda: bool(rounds(events)))
    assert result["stopped"] == "cancelled" and result["rounds_completed"] in (1, 2)
    assert (out / "export" / "backbone.keras").is_file()

    proc = subprocess.run(
        [sys.executable, "run.py", "federated", "--rec_file", config.rec_file, "--idx_file", config.idx_file,
         "--num_clients", "3", "--num_rounds", "3", "--image_size", "56", "--embedding_size", "64",
         "--batch_size", "8", "--seed", "3", "--head_type", "arcface", "--lr", "0.05", "--use_dp",
         "--noise_multiplier", "1.0", "--output_dir", str(out), "--resume", "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()
    assert any(line.startswith("round 3/3, clients 3/3") and "epsilon" in line for line in lines), lines
    assert not any(line.startswith("round 1/3") for line in lines)  # resumed after the checkpoint
    final = json.loads(lines[-1])
    assert final["rounds_completed"] == 3
    # Each client composed 3 rounds of its local DP-SGD steps; the run reports the worst client.
    sizes = num_train_per_client(json.loads((out / "plan.json").read_text()), config.holdout_fraction)
    expected = max(privacy.sample_level_epsilon(n, 8, 1, 3, 1.0, 1e-5) for n in sizes)
    assert final["epsilon"] == pytest.approx(expected, rel=1e-9)


def test_the_federated_model_enrolls_and_searches_in_the_cli(plain_run, tmp_path):
    import csv

    from tests.inference_api.conftest import run_cli
    from tests.inference_api.helpers import FACES, PROBE, enrollment_photos
    from tests.inference_api.test_cli_trained_model import last_json

    backbone = f"{plain_run[1]['export_dir']}/backbone.keras"
    labels = tmp_path / "labels.csv"
    with open(labels, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["file", "identity"])
        writer.writerows(enrollment_photos(["person_00", "person_01", "person_02"], 3))
    summary = last_json(run_cli("enroll", "--gallery", "fed", "--images_dir", str(FACES), "--labels", str(labels),
                                "--model", backbone, "--quiet", "--json", var_dir=tmp_path))
    assert summary["embedder"]["dim"] == 64 and summary["embedder"]["privacy"]["private"] is False
    assert summary["identities"] == 3
    result = last_json(run_cli("inference", "--gallery", "fed", "--query_image", str(FACES / PROBE[0]),
                               "--threshold", "-1", "--top_k", "3", "--json", var_dir=tmp_path))
    assert {m["identity"] for m in result["matches"]} == {"person_00", "person_01", "person_02"}


def test_secagg_gives_the_plain_fedavg_aggregate_within_quantization_error(webface_tiny, tmp_path):
    from federation.engine.secagg import CLIPPING_RANGE, QUANTIZATION_RANGE
    from training.engine import checkpoint

    out = tmp_path / "secagg"
    config = small_config(webface_tiny, out, num_rounds=1, secagg=True, extra={"record_updates": True})
    events: list[dict] = []
    result = run(config, events.append)
    assert result["status"] == "completed" and result["model_card"]["federation"]["secure_aggregation"] is True
    first = rounds(events)[0]
    assert first["received"] == ["masked-sum"] and first["replied"] == 3
    # What each client sent (recorded on the client by a test hook) against what the server got.
    sent = [np.load(path) for path in sorted((out / "updates").glob("1-*.npz"))]
    assert len(sent) == 3
    weights = np.array([float(s["num_examples"]) for s in sent])
    arrays, state = checkpoint.load(out)
    # Each of the K clients scaled by n_i / max(n) before quantizing: the sum is exact to K steps of
    # 2C / 2^22, over sum(n_i) / max(n) once divided back (twice that, for rounding either way).
    step = 2 * len(sent) * (2 * CLIPPING_RANGE / QUANTIZATION_RANGE) * weights.max() / weights.sum()
    for key, secure in zip(state["keys"], arrays, strict=True):
        plain = sum(w * s[key.replace("/", "_")] for w, s in zip(weights, sent, strict=True)) / weights.sum()
        assert np.max(np.abs(secure - plain)) <= step, key



def test_secagg_with_client_level_dp_clips_each_update_and_charges_user_level_epsilon(webface_tiny, tmp_path):
    out = tmp_path / "secagg-dp"
    config = small_config(webface_tiny, out, num_rounds=1, secagg=True, dp_level="client", noise_multiplier=1.0,
                          l2_norm_clip=0.5, extra={"record_updates": True})
    events: list[dict] = []
    result = run(config, events.append)
    assert result["status"] == "completed"
    assert result["epsilon"] == pytest.approx(privacy.client_level_epsilon(3, 3, 1.0, 1, 1e-5))
    assert result["model_card"]["dp"]["level"] == "client" and result["model_card"]["federation"]["secure_aggregation"]
    sent = [np.load(path) for path in sorted((out / "updates").glob("1-*.npz"))]
    assert len(sent) == 3 and all(float(s["num_examples"]) == 1 for s in sent)  # equal weights
    # Every client's update (what it sent minus the round's starting model) is clipped to C: the
    # three clipped models lie within 2C of each other.
    keys = [k for k in sent[0].files if k != "num_examples"]
    for a in range(3):
        for b in range(a + 1, 3):
            gap = np.sqrt(sum(float(np.sum((sent[a][k] - sent[b][k]) ** 2)) for k in keys))
            assert gap <= 2 * 0.5 + 1e-4
