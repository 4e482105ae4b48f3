"""Run in a fresh process (logical devices must be set before TensorFlow starts): MirroredTrainer on 2 CPUs.

Prints one JSON line: the largest difference between the mirrored DP update and the single-device
clipped sum (noise 0, an odd batch so padding is used), and a whole mirrored training run's result.
"""

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import tensorflow as tf  # noqa: E402

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402
import numpy as np  # noqa: E402

from tests.training.tiny_models import tiny_face_backbone, tiny_model  # noqa: E402
from training.engine.config import TrainConfig  # noqa: E402
from training.engine.distributed import MirroredTrainer, build_scope, make_strategy  # noqa: E402
from training.engine.dp_sgd import DPConfig  # noqa: E402
from training.engine.heads import classification_loss  # noqa: E402
from training.engine.loop import classifier_trainer  # noqa: E402
from training.engine.trainer import train  # noqa: E402

DEVICES = ["/cpu:0", "/cpu:1"]


def update_difference() -> float:
    strategy = make_strategy(DEVICES)
    with build_scope(strategy, False):
        backbone, head = tiny_model("arcface")
        optimizer = keras.optimizers.SGD(1.0)
    variables = backbone.trainable_variables + head.trainable_variables
    before = [v.numpy() for v in variables]
    dp = DPConfig(l2_norm_clip=0.05, noise_multiplier=0.0, expected_batch_size=7.0)
    mirrored = MirroredTrainer(strategy, classification_loss(backbone, head), variables, optimizer, dp, seed=0)
    rng = np.random.default_rng(0)
    images, labels = rng.normal(size=(7, 8, 8, 3)).astype("float32"), rng.integers(0, 5, 7)
    plain_backbone, plain_head = tiny_model("arcface")
    for v, value in zip(plain_backbone.trainable_variables + plain_head.trainable_variables, before, strict=True):
        v.assign(value)
    want = classifier_trainer(plain_backbone, plain_head, keras.optimizers.SGD(1.0), dp).gradients(images, labels)
    mirrored.train_step(images, labels)  # lr 1: the weights move by exactly the update
    after = [v.numpy() for v in variables]
    return max(float(np.max(np.abs((b - a) - w.numpy()))) for b, a, w in zip(before, after, want, strict=True))


def main(data: Path, out: Path) -> None:
    difference = update_difference()
    config = TrainConfig(
        rec_file=str(data / "train.rec"), idx_file=str(data / "train.idx"), image_size=32, embedding_size=16,
        head="arcface", epochs=2, batch_size=8, output_dir=str(out), seed=0, use_dp=True, noise_multiplier=1.0,
        delta=1e-3, devices=tuple(DEVICES),
    )
    result = train(config, backbone_factory=tiny_face_backbone)
    # Without DP: plain mirrored steps, bfloat16 mixed precision, BatchNorm (MobileFaceNet at
    # 32x32) with its precise statistics recomputed on mirrored variables.
    plain = train(
        TrainConfig(
            rec_file=str(data / "train.rec"), idx_file=str(data / "train.idx"), image_size=32, embedding_size=16,
            head="softmax", optimizer="adam", lr=1e-3, epochs=2, batch_size=8, output_dir=str(out) + "-plain",
            seed=0, mixed_precision=True, devices=tuple(DEVICES),
        )
    )
    exported = keras.saving.load_model(Path(plain.export_dir) / "backbone.keras", compile=False)
    embedding = exported(np.zeros((1, 32, 32, 3), "float32"), training=False)
    print(json.dumps({"difference": difference, "steps": result.steps, "epsilon": result.epsilon,
                      "devices": result.model_card["training"]["devices"],
                      "plain_steps": plain.steps, "plain_mixed": plain.model_card["training"]["mixed_precision"],
                      "plain_loss": [h["loss"] for h in plain.history],
                      "plain_accuracy": plain.history[-1]["train_accuracy"],
                      "export_dtype": str(keras.ops.convert_to_numpy(embedding).dtype),
                      "policy_after": keras.config.dtype_policy().name}))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
