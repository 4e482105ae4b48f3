"""Precise BatchNorm statistics: recompute the moving mean and variance with the final weights.

BatchNorm's moving averages trail the weights: each one mixes the batch statistics of the
last ~``1 / (1 - momentum)`` steps, taken while the weights were still changing. Early in a
run, or on a small dataset, the network in inference mode then sees statistics of a network
that no longer exists, and its outputs can collapse (on webface_tiny: 100 % training-mode
accuracy, chance in inference mode after 40 steps). Before each evaluation the trainer runs
the backbone in training mode over some training batches without updating any weight, with
the momentum set so that the moving statistics become the plain average of those batches'
statistics ("precise BN", Wu & Johnson 2021). DP models use GroupNorm and have nothing to do.
"""

from __future__ import annotations

from collections.abc import Iterable

import keras
import numpy as np


def batch_norm_layers(model: keras.layers.Layer) -> list[keras.layers.BatchNormalization]:
    found, stack = [], [model]
    while stack:
        layer = stack.pop()
        if isinstance(layer, keras.layers.BatchNormalization):
            found.append(layer)
        stack.extend(getattr(layer, "layers", ()))
    return found


def recalibrate(model: keras.Model, batches: Iterable[np.ndarray]) -> int:
    """Set every BatchNorm layer's moving statistics to the mean over ``batches``; returns the batch count.

    Runs eagerly: Keras reads ``momentum`` when the layer is called, which a compiled
    function would have fixed at tracing time.
    """
    layers = batch_norm_layers(model)
    if not layers:
        return 0
    saved = [layer.momentum for layer in layers]
    count = 0
    try:
        for images in batches:
            if len(images) == 0:
                continue
            count += 1
            for layer in layers:
                layer.momentum = (count - 1) / count  # moving = running mean of the batch statistics
            model(images, training=True)
    finally:
        for layer, momentum in zip(layers, saved, strict=True):
            layer.momentum = momentum
    return count
