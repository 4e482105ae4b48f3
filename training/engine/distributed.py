"""GPU placement: several GPUs through ``tf.distribute.MirroredStrategy``, mixed precision without DP.

With more than one GPU, ``MirroredTrainer`` takes the same steps as ``dp_sgd.Trainer``:
the batch is cut into one equal shard per replica, each replica clips its own examples'
gradients (``clipped_gradient_sum``), the clipped sums are added across replicas, and the
noise is drawn **once**, in cross-replica context, and added to that total. Noise per
replica would add ``sqrt(replicas)`` times the std the accountant assumed.

Shards must have equal shapes, and Poisson batches come in any size, so the batch is padded
with copies of its first example whose loss is multiplied by 0: a zero gradient, clip
factor 1, contributes nothing to the sum (GroupNorm and the heads never mix examples).

Mixed precision (bfloat16 compute, float32 weights; no loss scaling needed) is used for
non-DP runs only: the per-example rules in ``per_example`` assume one dtype throughout,
and bfloat16 per-example norms would make the clipping itself imprecise. On Ampere and
later GPUs float32 matmuls run as TF32 by default, which recovers much of the speed.

Only the CPU path runs in this repository's CI; ``MirroredTrainer`` is checked there on two
logical CPU devices (tests/training/test_distributed.py), not on real GPUs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

import keras
import numpy as np
import tensorflow as tf

from training.engine.dp_sgd import DPConfig, LossFn, clipped_gradient_sum


def gpu_count() -> int:
    return len(tf.config.list_physical_devices("GPU"))


def allow_memory_growth() -> int:
    """Let TensorFlow take GPU memory as it needs it instead of all of it at start-up, so a
    second worker (or the evaluation of another job) can share the card. Only possible before
    TensorFlow first touches the GPUs; later calls change nothing. Returns the GPUs set."""
    done = 0
    for gpu in tf.config.list_physical_devices("GPU"):
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
            done += 1
        except RuntimeError:  # already initialised in this process: keep its setting
            pass
    return done


def make_strategy(devices: list[str] | None = None) -> tf.distribute.Strategy | None:
    """MirroredStrategy over ``devices`` (or all GPUs when there are several); None for one device."""
    if devices:
        return tf.distribute.MirroredStrategy(devices)
    if gpu_count() > 1:
        return tf.distribute.MirroredStrategy()
    return None


@contextmanager
def build_scope(strategy: tf.distribute.Strategy | None, mixed_precision: bool) -> Iterator[None]:
    """Variables created inside are mirrored (with a strategy) and layers take the mixed policy.

    The global dtype policy is restored on exit: a Celery worker runs other jobs afterwards.
    """
    previous = keras.config.dtype_policy()
    if mixed_precision:
        keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        with strategy.scope() if strategy is not None else nullcontext():
            yield
    finally:
        keras.config.set_dtype_policy(previous)


class MirroredTrainer:
    """``dp_sgd.Trainer``'s interface (``train_step``, noise state) over a MirroredStrategy."""

    def __init__(
        self,
        strategy: tf.distribute.Strategy,
        loss_fn: LossFn,
        variables: list,
        optimizer: keras.optimizers.Optimizer,
        dp: DPConfig | None = None,
        seed: int | None = None,
    ) -> None:
        self.strategy, self.loss_fn, self.variables = strategy, loss_fn, list(variables)
        self.optimizer, self.dp = optimizer, dp
        self.replicas = strategy.num_replicas_in_sync
        # Outside the strategy: one generator, sampled once per step in cross-replica context.
        with tf.device(strategy.extended.worker_devices[0]):
            if seed is None:
                self._noise = tf.random.Generator.from_non_deterministic_state()
            else:
                self._noise = tf.random.Generator.from_seed(seed)
        with strategy.scope():
            optimizer.build(self.variables)
        self._step_fn = tf.function(self._step, reduce_retracing=True, autograph=False)

    @property
    def noise_state(self) -> np.ndarray:
        return self._noise.state.numpy()

    def set_noise_state(self, state: np.ndarray) -> None:
        self._noise.state.assign(state)

    def _replica(self, images: tf.Tensor, labels: tf.Tensor, weights: tf.Tensor):
        def weighted(x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
            return self.loss_fn(x, y) * weights  # padding examples: loss 0, gradient 0

        if self.dp is None:
            with tf.GradientTape() as tape:
                losses = weighted(images, labels)
                total = tf.reduce_sum(losses)
            return tape.gradient(total, self.variables), losses, tf.zeros_like(losses)
        return clipped_gradient_sum(weighted, self.variables, images, labels, self.dp.l2_norm_clip)

    def _step(self, images, labels, weights, batch_size: tf.Tensor):
        sums, losses, norms = self.strategy.run(self._replica, args=(images, labels, weights))
        total = [self.strategy.reduce(tf.distribute.ReduceOp.SUM, s, axis=None) for s in sums]
        if self.dp is None:
            grads = [t / tf.cast(batch_size, t.dtype) for t in total]
        else:
            std = self.dp.noise_multiplier * self.dp.l2_norm_clip
            grads = [
                (t + self._noise.normal(tf.shape(t), stddev=std, dtype=t.dtype)) / self.dp.expected_batch_size
                for t in total
            ]
        self.optimizer.apply_gradients(zip(grads, self.variables, strict=True))
        return losses, norms  # per replica; no all-gather: shapes change every step

    def _shards(self, array: np.ndarray):
        parts = np.split(array, self.replicas)
        return self.strategy.experimental_distribute_values_from_function(
            lambda context: tf.constant(parts[context.replica_id_in_sync_group])
        )

    def train_step(self, images, labels) -> dict[str, float]:
        n = len(images)
        if n == 0 and self.dp is None:
            return {"loss": float("nan"), "batch_size": 0, "clipped_fraction": 0.0}
        images, labels = np.asarray(images), np.asarray(labels)
        padded = -(-max(n, 1) // self.replicas) * self.replicas
        # An empty Poisson batch still releases noise: pad it with weight-0 examples too.
        source = images if n else np.zeros((1, *images.shape[1:]), images.dtype)
        source_labels = labels if n else np.zeros((1,), labels.dtype)
        pick = np.concatenate([np.arange(len(source)), np.zeros(padded - len(source), np.int64)])
        weights = (np.arange(padded) < n).astype(np.float32)
        losses, norms = self._step_fn(
            self._shards(source[pick]),
            self._shards(source_labels[pick]),
            self._shards(weights),
            tf.constant(max(n, 1)),
        )
        local = self.strategy.experimental_local_results
        losses = np.concatenate([t.numpy() for t in local(losses)])[:n]
        norms = np.concatenate([t.numpy() for t in local(norms)])[:n]
        clipped = float(np.mean(norms > self.dp.l2_norm_clip)) if self.dp and n else 0.0
        loss = float(np.mean(losses)) if n else float("nan")
        return {"loss": loss, "batch_size": n, "clipped_fraction": clipped}
