"""The trainer on webface_tiny: learning, DP with a target epsilon, budget stop, resume, cancel, export."""

import json
import math
import threading

import numpy as np
import pytest

from tests.training.tiny_models import tiny_face_backbone
from training.engine import checkpoint
from training.engine.accounting import PrivacyAccountant
from training.engine.config import ConfigError, TrainConfig
from training.engine.export import load_backbone
from training.engine.trainer import Callbacks, train


class Recorder(Callbacks):
    def __init__(self) -> None:
        self.steps: list[tuple[int, int]] = []
        self.epochs: list[tuple[int, dict]] = []

    def on_step(self, step, total_steps, metrics):
        self.steps.append((step, total_steps))

    def on_epoch(self, epoch, metrics):
        self.epochs.append((epoch, metrics))


class Cancelled(Exception):
    pass


def cancel_at(call: int):
    calls = []

    def check():
        calls.append(1)
        if len(calls) == call:
            raise Cancelled()

    return check


def tiny_config(data, out, **overrides) -> TrainConfig:
    """32x32 inputs and a few-thousand-parameter backbone: an epoch takes well under a second."""
    values = dict(image_size=32, embedding_size=16, head="softmax", epochs=3, batch_size=8, lr=0.1,
                  output_dir=str(out), seed=0)
    if data is not None:
        values.update(rec_file=str(data / "train.rec"), idx_file=str(data / "train.idx"))
    values.update(overrides)
    return TrainConfig(**values)


def run(config, **kwargs):
    return train(config, backbone_factory=tiny_face_backbone, **kwargs)


@pytest.fixture(scope="module")
def learned(webface_tiny, tmp_path_factory):
    out = tmp_path_factory.mktemp("nondp")
    recorder = Recorder()
    config = tiny_config(webface_tiny, out, epochs=8, eval_bin=str(webface_tiny / "lfw_tiny.bin"))
    return run(config, callbacks=recorder), recorder, out


def test_non_dp_training_learns(learned):
    result, recorder, _ = learned
    losses = [m["loss"] for m in result.history]
    assert losses[-1] < losses[0] / 3
    assert result.history[-1]["train_accuracy"] >= 0.7  # chance is 0.1
    assert result.epsilon is None and result.stopped == "completed"
    assert result.steps == result.total_steps == 8 * math.ceil(70 / 8)  # 10 % held out: 70 of 80 train
    assert [e for e, _ in recorder.epochs] == list(range(1, 9))
    assert recorder.steps == [(s, result.steps) for s in range(1, result.steps + 1)]
    assert result.verification is not None and result.verification["pairs"] == 20


def test_export_and_model_card(learned, webface_tiny):
    result, _, out = learned
    card = json.loads((out / "export" / "model_card.json").read_text())
    stamped = {"created": card["created"], "framework": card["framework"]}
    assert card == json.loads(json.dumps(result.model_card)) | stamped
    assert card["data"] | {"path": None} == {
        "name": "webface_tiny", "format": "recordio", "path": None, "idx_file": str(webface_tiny / "train.idx"),
        "images": 80, "identities": 10, "train_images": 70, "holdout_images": 10,
    }
    assert card["dp"] == {"enabled": False}
    assert card["model"]["embedding_size"] == 16 and card["model"]["training_head"] == "softmax"
    assert card["parameters"]["epochs"] == 8 and "seed" not in card["parameters"]
    assert card["verification"]["bin"] == "lfw_tiny.bin" and 0 <= card["verification"]["accuracy"] <= 1
    assert card["membership_inference"]["members"] == card["membership_inference"]["nonmembers"] == 10
    assert {"tensorflow", "keras", "numpy", "dp-accounting"} <= set(card["framework"])
    assert card["created"].endswith("+00:00")
    lines = (out / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == list(range(1, 9))
    assert json.loads((out / "labels.json").read_text()) == {"classes": list(range(10))}
    backbone = load_backbone(out / "export" / "backbone.keras")
    assert backbone.output_shape == (None, 16)  # the embedding: no classification head
    embeddings = backbone.predict(np.zeros((2, 32, 32, 3), "float32"), verbose=0)
    assert embeddings.shape == (2, 16) and np.all(np.isfinite(embeddings))


def test_dp_with_target_epsilon_stays_within_it(webface_tiny_folder, tmp_path):
    recorder = Recorder()
    config = tiny_config(
        None, tmp_path, dataset_path=str(webface_tiny_folder), head="arcface",
        use_dp=True, target_epsilon=4.0, delta=1e-3, l2_norm_clip=1.0,
    )
    result = run(config, callbacks=recorder)
    assert result.stopped == "completed" and result.steps == math.ceil(3 * 70 / 8)
    assert 0.99 * 4.0 <= result.epsilon <= 4.0
    assert [m["epsilon"] for _, m in recorder.epochs] == sorted(m["epsilon"] for _, m in recorder.epochs)
    assert all("clipped_fraction" in m for _, m in recorder.epochs)
    dp = result.model_card["dp"]
    assert dp["enabled"] and dp["epsilon"] == result.epsilon and dp["delta"] == 1e-3
    assert dp["noise_multiplier"] == result.noise_multiplier > 0 and dp["accountant"] == "rdp"
    assert dp["sample_rate"] == pytest.approx(8 / 70) and dp["steps"] == result.steps and dp["l2_norm_clip"] == 1.0
    assert result.model_card["data"]["format"] == "folder"


def test_a_fixed_noise_with_a_target_stops_at_the_budget(webface_tiny, tmp_path):
    config = tiny_config(webface_tiny, tmp_path, use_dp=True, noise_multiplier=0.8, target_epsilon=3.0, delta=1e-3)
    result = run(config)
    assert result.stopped == "privacy_budget" and result.steps < result.total_steps
    assert result.epsilon <= 3.0
    one_more = PrivacyAccountant("rdp")
    one_more.step(0.8, 8 / 70, result.steps + 1)
    assert one_more.get_epsilon(1e-3) > 3.0  # it took every step the budget allowed
    again = run(tiny_config(webface_tiny, tmp_path, use_dp=True, noise_multiplier=0.8, target_epsilon=3.0,
                            delta=1e-3, epochs=5, resume=True))
    assert again.steps == result.steps  # a stopped run stays stopped


def test_resume_continues_with_the_same_steps(webface_tiny, tmp_path):
    dp = dict(use_dp=True, noise_multiplier=1.0, delta=1e-3, head="arcface")
    whole = run(tiny_config(webface_tiny, tmp_path / "whole", **dp))
    with pytest.raises(Cancelled):
        run(tiny_config(webface_tiny, tmp_path / "cut", **dp), cancel_check=cancel_at(13))  # mid epoch 2
    assert checkpoint.load(tmp_path / "cut")[1]["step"] == 9  # epoch 1 only
    resumed = run(tiny_config(webface_tiny, tmp_path / "cut", resume=True, **dp))
    assert resumed.steps == whole.steps == 27
    assert resumed.epsilon == whole.epsilon
    assert [m["step"] for m in resumed.history] == [m["step"] for m in whole.history]
    (a, _), (b, _) = checkpoint.load(tmp_path / "whole"), checkpoint.load(tmp_path / "cut")
    for x, y in zip(a, b, strict=True):
        np.testing.assert_allclose(x, y, atol=1e-4)  # same batches, flips and noise


def test_cancel_between_steps_raises_the_callers_exception(webface_tiny, tmp_path):
    recorder = Recorder()
    with pytest.raises(Cancelled):
        run(tiny_config(webface_tiny, tmp_path), callbacks=recorder, cancel_check=cancel_at(3))
    assert [s for s, _ in recorder.steps] == [1, 2]
    assert not any(t.name == "prefetch" and t.is_alive() for t in threading.enumerate())
    with pytest.raises(ConfigError, match="--resume found no checkpoint"):
        run(tiny_config(webface_tiny, tmp_path, resume=True))


def test_output_dir_with_a_checkpoint_needs_resume_and_the_same_settings(learned, webface_tiny):
    _, _, out = learned
    with pytest.raises(ConfigError, match="--output_dir .* already holds a checkpoint") as err:
        run(tiny_config(webface_tiny, out, epochs=8))
    assert err.value.field == "output_dir"
    with pytest.raises(ConfigError, match="--batch_size differs from the checkpoint"):
        run(tiny_config(webface_tiny, out, epochs=8, batch_size=4, resume=True))


def test_batch_larger_than_the_training_set_is_refused(webface_tiny, tmp_path):
    with pytest.raises(ConfigError, match=r"--batch_size must be at most the number of training images \(70\)"):
        run(tiny_config(webface_tiny, tmp_path, batch_size=100))


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"epochs": 0}, "epochs"),
        ({"model": "resnet"}, "model"),
        ({"use_dp": True}, "use_dp"),
        ({"noise_multiplier": 1.0}, "noise_multiplier"),
        ({"use_dp": True, "target_epsilon": -1.0}, "target_epsilon"),
        ({"delta": 1.0}, "delta"),
        ({"lr_steps": (5,)}, "lr_steps"),
        ({"idx_file": None}, "idx_file"),
        ({"dataset_path": "x"}, "dataset_path"),
        ({"holdout_fraction": 0.9}, "holdout_fraction"),
    ],
)
def test_bad_settings_name_their_field(webface_tiny, tmp_path, overrides, field):
    with pytest.raises(ConfigError) as err:
        tiny_config(webface_tiny, tmp_path, **overrides).validate()
    assert err.value.field == field and str(err.value).startswith(f"--{field} ")


def test_config_choices_match_the_engine_and_round_trip():
    from training.engine import accounting, config, heads, models

    assert config.BACKBONES == models.BACKBONES and config.HEADS == heads.HEADS
    assert config.ACCOUNTANTS == accounting.ACCOUNTANTS
    original = TrainConfig(dataset_path="d", lr_steps=(3, 6), devices=("/gpu:0",), extra={"job": 7})
    assert TrainConfig.from_dict(json.loads(json.dumps(original.to_dict()))) == original


def test_learning_rate_schedule():
    from training.engine.optim import learning_rate

    cosine = TrainConfig(dataset_path="d", lr=0.1, epochs=10, warmup_epochs=1)
    assert learning_rate(cosine, 0, 100, 10) == pytest.approx(0.01)  # warmup step 1 of 10
    assert learning_rate(cosine, 10, 100, 10) == pytest.approx(0.1)
    assert learning_rate(cosine, 55, 100, 10) == pytest.approx(0.05)
    assert learning_rate(cosine, 100, 100, 10) == pytest.approx(0.0, abs=1e-12)
    step = TrainConfig(dataset_path="d", lr=0.1, epochs=10, lr_schedule="step", lr_steps=(4, 8))
    assert [learning_rate(step, s, 100, 10) for s in (39, 40, 80)] == pytest.approx([0.1, 0.01, 0.001])
