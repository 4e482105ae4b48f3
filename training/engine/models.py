"""Face-embedding backbones for 112x112 aligned faces: MobileFaceNet and IResNet-18/50.

Inputs are (B, 112, 112, 3) images scaled to [-1, 1] ((pixel / 255 - 0.5) / 0.5, as
insightface); outputs are (B, embedding_size) embeddings, not normalised (heads and
matchers normalise).

``dp=True`` swaps every BatchNorm for GroupNorm: batch statistics mix examples, which
breaks per-example clipping (and so the privacy guarantee). All weighted layers come from
``dp_layers`` so DP-SGD can clip them per example either way.
"""

from __future__ import annotations

import keras

from training.engine import dp_layers

BACKBONES = ("mobilefacenet", "iresnet18", "iresnet50")
INPUT_SHAPE = (112, 112, 3)
_IRESNET_BLOCKS = {"iresnet18": (2, 2, 2, 2), "iresnet50": (3, 4, 14, 3)}
# PyTorch's PReLU starts at 0.25; Keras' default of 0 would start as a plain ReLU.
_PRELU_INIT = keras.initializers.Constant(0.25)


def _norm(x, dp: bool, scale: bool = True):
    if dp:
        return dp_layers.GroupNorm(32, epsilon=1e-5, scale=scale)(x)
    # PyTorch's momentum 0.1 is Keras' 0.9.
    return keras.layers.BatchNormalization(epsilon=1e-5, momentum=0.9, scale=scale)(x)


def _prelu(x):
    return dp_layers.PReLU(shared_axes=[1, 2], alpha_initializer=_PRELU_INIT)(x)


def _conv(x, filters: int, kernel: int, stride: int = 1, depthwise: bool = False):
    """Bias-free convolution padded like PyTorch's ``padding=kernel // 2`` (symmetric).

    Keras' "same" pads the extra pixel only at the end when striding, which would shift
    the sampling grid by one pixel relative to insightface's models.
    """
    if kernel > 1 and stride > 1:
        x = keras.layers.ZeroPadding2D(kernel // 2)(x)
        padding = "valid"
    else:
        padding = "same"
    if depthwise:
        return dp_layers.DepthwiseConv2D(kernel, strides=stride, padding=padding, use_bias=False)(x)
    return dp_layers.Conv2D(filters, kernel, strides=stride, padding=padding, use_bias=False)(x)


def _conv_block(x, filters: int, kernel: int, stride: int, dp: bool, depthwise: bool = False, activation: bool = True):
    x = _norm(_conv(x, filters, kernel, stride, depthwise), dp)
    return _prelu(x) if activation else x


def _bottleneck(x, expansion: int, filters: int, stride: int, dp: bool):
    """MobileNetV2 inverted residual with PReLU, as in MobileFaceNet."""
    inputs = x
    x = _conv_block(x, expansion * int(x.shape[-1]), 1, 1, dp)
    x = _conv_block(x, int(x.shape[-1]), 3, stride, dp, depthwise=True)
    x = _conv_block(x, filters, 1, 1, dp, activation=False)  # linear bottleneck
    if stride == 1 and int(inputs.shape[-1]) == filters:
        x = keras.layers.Add()([inputs, x])
    return x


def mobilefacenet(embedding_size: int = 512, dp: bool = False, input_size: int = 112) -> keras.Model:
    """MobileFaceNet (Chen et al., 2018), table 1, with an ``embedding_size`` linear output."""
    inputs = keras.Input((input_size, input_size, 3))
    x = _conv_block(inputs, 64, 3, 2, dp)  # 56x56
    x = _conv_block(x, 64, 3, 1, dp, depthwise=True)
    # (expansion t, channels c, repeats n, first stride s)
    for t, c, n, s in [(2, 64, 5, 2), (4, 128, 1, 2), (2, 128, 6, 1), (4, 128, 1, 2), (2, 128, 2, 1)]:
        for i in range(n):
            x = _bottleneck(x, t, c, s if i == 0 else 1, dp)
    x = _conv_block(x, 512, 1, 1, dp)  # 7x7x512
    # Global depthwise conv (7x7, valid): a learned spatial weighting instead of average pooling.
    x = _norm(dp_layers.DepthwiseConv2D(int(x.shape[1]), padding="valid", use_bias=False)(x), dp)
    x = keras.layers.Flatten()(x)
    x = dp_layers.Dense(embedding_size, use_bias=False)(x)
    x = _norm(x, dp)
    return keras.Model(inputs, x, name="mobilefacenet")


def _ibasic_block(x, planes: int, stride: int, dp: bool):
    """insightface's IBasicBlock: BN-conv-BN-PReLU-conv(stride)-BN, plus shortcut, no final ReLU."""
    shortcut = x
    if stride != 1 or int(x.shape[-1]) != planes:
        shortcut = _norm(_conv(x, planes, 1, stride), dp)
    x = _norm(x, dp)
    x = _conv_block(x, planes, 3, 1, dp)
    x = _norm(_conv(x, planes, 3, stride), dp)
    return keras.layers.Add()([x, shortcut])


def iresnet(
    depth: int = 50, embedding_size: int = 512, dp: bool = False, dropout: float = 0.0, input_size: int = 112
) -> keras.Model:
    """IResNet-18/50 as in insightface's arcface_torch (Duta et al. improved residuals)."""
    name = f"iresnet{depth}"
    if name not in _IRESNET_BLOCKS:
        raise ValueError(f"IResNet depth must be 18 or 50, got {depth}")
    inputs = keras.Input((input_size, input_size, 3))
    x = _conv_block(inputs, 64, 3, 1, dp)  # 112x112x64
    for planes, blocks in zip((64, 128, 256, 512), _IRESNET_BLOCKS[name], strict=True):
        for i in range(blocks):
            x = _ibasic_block(x, planes, 2 if i == 0 else 1, dp)
    x = _norm(x, dp)  # 7x7x512
    x = keras.layers.Flatten()(x)
    if dropout:
        x = keras.layers.Dropout(dropout)(x)  # independent masks per example: DP-safe
    x = dp_layers.Dense(embedding_size, use_bias=True)(x)
    # insightface freezes this BatchNorm1d's scale at 1.
    x = _norm(x, dp, scale=False)
    return keras.Model(inputs, x, name=name)


def build_backbone(
    name: str = "mobilefacenet", embedding_size: int = 512, dp: bool = False, input_size: int = 112
) -> keras.Model:
    """``mobilefacenet`` (default), ``iresnet18`` or ``iresnet50``; ``dp`` selects GroupNorm.

    ``input_size`` other than 112 (e.g. 56 for quick experiments) shrinks the last feature
    map (7x7 at 112); MobileFaceNet's global depthwise conv follows it, IResNet's
    flattened Dense layer changes size.
    """
    if name == "mobilefacenet":
        return mobilefacenet(embedding_size, dp, input_size)
    if name in _IRESNET_BLOCKS:
        return iresnet(int(name.removeprefix("iresnet")), embedding_size, dp, input_size=input_size)
    raise ValueError(f"backbone must be one of {', '.join(BACKBONES)}, got {name!r}")
