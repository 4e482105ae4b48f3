"""Tiny models that exercise every per-example rule (and every conv code path)."""

import keras

from training.engine import dp_layers, heads


def tiny_backbone(seed: int = 0) -> keras.Model:
    keras.utils.set_random_seed(seed)
    x = inputs = keras.Input((8, 8, 3))
    x = keras.layers.ZeroPadding2D(1)(x)  # PyTorch-style symmetric padding, as the real models
    x = dp_layers.Conv2D(4, 3, strides=2, padding="valid", use_bias=True)(x)  # 4x4x4; per-example kernels held
    x = dp_layers.GroupNorm(2)(x)
    x = dp_layers.PReLU(shared_axes=[1, 2], alpha_initializer=keras.initializers.Constant(0.25))(x)
    x = dp_layers.Conv2D(4, 3, padding="same", use_bias=False)(x)  # wide: norms materialised, sum recomputed
    x = dp_layers.DepthwiseConv2D(3, strides=2, padding="same", use_bias=True)(x)  # 2x2x4
    x = dp_layers.Conv2D(32, 3, padding="same", use_bias=True)(x)  # wide: Gram-matrix ghost norm
    x = dp_layers.PReLU(alpha_initializer=keras.initializers.Constant(0.1))(x)  # per-pixel alpha
    x = dp_layers.Conv2D(8, 1, use_bias=False)(x)  # 1x1
    x = keras.layers.Reshape((4, 8))(x)
    x = dp_layers.Dense(8, use_bias=True)(x)  # on a sequence: no ghost shortcut
    x = keras.layers.Reshape((2, 2, 8))(x)
    x = dp_layers.DepthwiseConv2D(2, padding="valid", use_bias=False)(x)  # global depthwise (GDConv)
    x = keras.layers.Flatten()(x)
    x = dp_layers.Dense(6, use_bias=True)(x)
    x = dp_layers.GroupNorm(3)(x)
    return keras.Model(inputs, x)


def tiny_model(head: str = "softmax", num_classes: int = 5, seed: int = 0):
    backbone = tiny_backbone(seed)
    head_layer = heads.make_head(head, num_classes)
    head_layer.build((None, 6))
    return backbone, head_layer


def tiny_face_backbone(name: str, embedding_size: int, dp: bool, input_size: int) -> keras.Model:
    """A few-thousand-parameter stand-in for MobileFaceNet with the trainer's factory signature."""
    x = inputs = keras.Input((input_size, input_size, 3))
    for filters in (8, 16):
        x = keras.layers.ZeroPadding2D(1)(x)
        x = dp_layers.Conv2D(filters, 3, strides=2, padding="valid", use_bias=False)(x)
        x = dp_layers.GroupNorm(4)(x)
        x = dp_layers.PReLU(shared_axes=[1, 2], alpha_initializer=keras.initializers.Constant(0.25))(x)
    x = dp_layers.DepthwiseConv2D(int(x.shape[1]), padding="valid", use_bias=False)(x)  # global depthwise
    x = keras.layers.Flatten()(x)
    x = dp_layers.Dense(embedding_size, use_bias=False)(x)
    x = dp_layers.GroupNorm(1)(x)
    return keras.Model(inputs, x, name=f"tiny_{name}")
