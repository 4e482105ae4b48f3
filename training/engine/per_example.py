"""Per-example gradient norms and clipped gradient sums, one rule per tapped layer type.

Input: a tap (the layer's input ``x`` and output ``y``) and ``g``, the gradient of the summed
loss at ``y``. Row i of ``g`` is example i's own output gradient because no layer mixes
examples (no BatchNorm). Each rule returns the per-example squared norm of the layer's weight
gradient, shape (B,), and a function that, given clip factors ``c`` (B,), returns
``sum_i c_i * grad_i`` for each weight, so no second backward pass is needed
("book-keeping" ghost clipping). GroupNorm and PReLU instead tap per-example copies of their
weights, so ``g`` is already the per-example weight gradient.

Per layer the rule keeps whichever is smaller until the clip factors are known: the
per-example weight gradients (small convolutions, norms) or the layer's input and output
gradient (dense layers: ``||x_i^T g_i||^2 = ||x_i||^2 ||g_i||^2``, the ghost norm; and wide
convolutions, whose norms then come from Gram matrices over output positions).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import tensorflow as tf

from training.engine import dp_layers
from training.engine.taps import Tap

ClippedSum = Callable[[tf.Tensor], list[tuple[tf.Variable, tf.Tensor]]]
Rule = Callable[[Tap, tf.Tensor], tuple[tf.Tensor, ClippedSum]]


def _sum_sq(t: tf.Tensor) -> tf.Tensor:
    """Squared L2 norm of each row (axis 0 is the example)."""
    return tf.reduce_sum(tf.square(t), axis=list(range(1, t.shape.rank)))


def _weighted_sum(c: tf.Tensor, per_example: tf.Tensor) -> tf.Tensor:
    return tf.tensordot(c, per_example, axes=1)


def _materialized(weights_and_grads: list[tuple[tf.Variable, tf.Tensor]]) -> tuple[tf.Tensor, ClippedSum]:
    """Rule result from per-example gradients ``(B, *weight.shape)`` held until clipping."""
    sq = tf.add_n([_sum_sq(g) for _, g in weights_and_grads])

    def clipped(c: tf.Tensor) -> list[tuple[tf.Variable, tf.Tensor]]:
        return [(w, _weighted_sum(c, g)) for w, g in weights_and_grads]

    return sq, clipped


def _pad_for(x: tf.Tensor, kernel_size: tuple[int, int], strides: tuple[int, int], padding: str) -> tf.Tensor:
    """Pads ``x`` the way TensorFlow's SAME does (extra pixel at the end); VALID needs none."""
    if padding == "valid":
        return x
    pads = [[0, 0]]
    for size, k, s in zip(x.shape[1:3], kernel_size, strides, strict=True):
        total = max((-(-size // s) - 1) * s + k - size, 0)
        pads.append([total // 2, total - total // 2])
    return tf.pad(x, pads + [[0, 0]])


def _over_offsets(
    x: tf.Tensor,
    out_hw: tuple[int, int],
    kernel_size: tuple[int, int],
    strides: tuple[int, int],
    padding: str,
    fn: Callable[[tf.Tensor], tf.Tensor],
) -> list[tf.Tensor]:
    """``fn`` of the input pixels each kernel offset multiplies ((B, Ho, Wo, Cin) each).

    Offsets run one after the other (control dependencies): left free, the executor cuts
    all k*k slices first, and k*k copies of a 112x112x64 batch is a lot of memory. Strides
    become plain slices of a (B, H/s, s, W/s, s, C) view: strided slices are slow on CPU.
    """
    x = _pad_for(x, kernel_size, strides, padding)
    (ho, wo), (sh, sw) = out_hw, strides
    if (sh, sw) != (1, 1):
        hs, ws = -(-int(x.shape[1]) // sh), -(-int(x.shape[2]) // sw)
        x = tf.pad(x, [[0, 0], [0, hs * sh - int(x.shape[1])], [0, ws * sw - int(x.shape[2])], [0, 0]])
        x = tf.reshape(x, (-1, hs, sh, ws, sw, int(x.shape[-1])))
    results: list[tf.Tensor] = []
    for a in range(kernel_size[0]):
        for b in range(kernel_size[1]):
            with tf.control_dependencies(results[-1:]):
                if (sh, sw) == (1, 1):
                    shifted = x[:, a : a + ho, b : b + wo, :]
                else:
                    shifted = x[:, a // sh : a // sh + ho, a % sh, b // sw : b // sw + wo, b % sw, :]
                results.append(fn(shifted))
    return results


def _fold_batch_into_channels(t: tf.Tensor) -> tf.Tensor:
    """(B, H, W, C) -> (1, H, W, B*C), example-major channels."""
    return tf.reshape(tf.transpose(t, [1, 2, 0, 3]), (1, int(t.shape[1]), int(t.shape[2]), -1))


def _bias_grads(layer, g: tf.Tensor) -> list[tuple[tf.Variable, tf.Tensor]]:
    if not layer.use_bias:
        return []
    return [(layer.bias, tf.reduce_sum(g, axis=list(range(1, g.shape.rank - 1))))]


# How per-example kernels of k x k (or strided) convolutions are computed: "auto" loops over
# the examples on CPU and uses one batched matmul per kernel offset where a GPU is visible.
CONV_KERNELS = "auto"  # or "loop", "offsets" (tests run both)


def _loop_over_examples() -> bool:
    if CONV_KERNELS == "auto":
        return not tf.config.list_logical_devices("GPU")
    return CONV_KERNELS == "loop"


def _per_example_kernels(layer, x: tf.Tensor, g: tf.Tensor, norms_only: bool = False) -> tf.Tensor:
    """Each example's kernel gradient (B, k, k, Cin, Cout), or only its squared norm (B,).

    1x1 convolutions without stride are one batched matmul. Otherwise, on CPU, TensorFlow's
    own filter gradient one example at a time (``map_fn``) costs about 1.2x the batch's single
    filter gradient at 112x112x64, against 1.9x for one batched matmul per kernel offset (each
    offset also copies a shifted slice of the input). On a GPU the loop would be B kernel
    launches per layer, so the offsets stay there (k*k).
    """
    if tuple(layer.kernel_size) == (1, 1) and tuple(layer.strides) == (1, 1):
        kernel = tf.einsum("bhwi,bhwo->bio", x, g)  # one batched matmul, no offsets to loop over
        return _sum_sq(kernel) if norms_only else tf.reshape(kernel, (-1, *layer.kernel.shape))
    if _loop_over_examples():
        shape = tf.constant([int(d) for d in layer.kernel.shape], tf.int32)
        strides, padding = (1, *layer.strides, 1), layer.padding.upper()

        def one(xg: tuple[tf.Tensor, tf.Tensor]) -> tf.Tensor:
            kernel = tf.compat.v1.nn.conv2d_backprop_filter(xg[0][None], shape, xg[1][None], strides, padding)
            return _sum_sq(kernel[None])[0] if norms_only else kernel

        return tf.map_fn(one, (x, g), fn_output_signature=x.dtype)
    k, s, out_hw = tuple(layer.kernel_size), tuple(layer.strides), (int(g.shape[1]), int(g.shape[2]))

    def per_offset(xs: tf.Tensor) -> tf.Tensor:
        kernel = tf.einsum("bhwi,bhwo->bio", xs, g)
        return _sum_sq(kernel) if norms_only else kernel

    results = _over_offsets(x, out_hw, k, s, layer.padding, per_offset)
    return tf.add_n(results) if norms_only else tf.reshape(tf.stack(results, axis=1), (-1, *layer.kernel.shape))


def conv2d_rule(t: Tap, g: tf.Tensor) -> tuple[tf.Tensor, ClippedSum]:
    layer, x = t.layer, t.inputs
    k, s = tuple(layer.kernel_size), tuple(layer.strides)
    ho, wo = int(g.shape[1]), int(g.shape[2])
    cin, cout = int(x.shape[-1]), int(g.shape[-1])
    positions = ho * wo
    params = k[0] * k[1] * cin * cout
    biases = _bias_grads(layer, g)
    if params <= x.shape[1] * x.shape[2] * cin + positions * cout:
        # Per-example kernels are no bigger than what recomputing would keep: hold them.
        return _materialized([(layer.kernel, _per_example_kernels(layer, x, g)), *biases])
    # Wide layer: hold x and g, clip via one weighted filter gradient at the end.
    g_flat = tf.reshape(g, (-1, positions, cout))
    if positions * positions <= params:
        # Ghost norm: ||sum_t p_t g_t^T||^2 = sum_{t,u} (p_t . p_u)(g_t . g_u), p_t = input patch.
        def gram(xs: tf.Tensor) -> tf.Tensor:
            patch = tf.reshape(xs, (-1, positions, cin))
            return tf.matmul(patch, patch, transpose_b=True)

        patch_gram = tf.add_n(_over_offsets(x, (ho, wo), k, s, layer.padding, gram))
        sq = tf.reduce_sum(patch_gram * tf.matmul(g_flat, g_flat, transpose_b=True), axis=[1, 2])
    else:
        sq = _per_example_kernels(layer, x, g, norms_only=True)
    bias_sq = tf.add_n([_sum_sq(b) for _, b in biases]) if biases else 0.0

    def clipped(c: tf.Tensor) -> list[tuple[tf.Variable, tf.Tensor]]:
        scaled = g * tf.reshape(c, (-1, 1, 1, 1))
        shape = tf.constant([int(d) for d in layer.kernel.shape], tf.int32)
        kernel = tf.compat.v1.nn.conv2d_backprop_filter(
            x, shape, scaled, strides=(1, *s, 1), padding=layer.padding.upper()
        )
        return [(layer.kernel, kernel)] + [(w, _weighted_sum(c, b)) for w, b in biases]

    return sq + bias_sq, clipped


def depthwise_rule(t: Tap, g: tf.Tensor) -> tuple[tf.Tensor, ClippedSum]:
    layer, x = t.layer, t.inputs
    k, s = tuple(layer.kernel_size), tuple(layer.strides)
    ho, wo = int(g.shape[1]), int(g.shape[2])
    if (ho, wo) == (1, 1) and layer.padding == "valid":
        # Global depthwise conv (MobileFaceNet's GDConv): one offset per kernel pixel.
        kernel = x[:, : k[0], : k[1], :] * g
    else:
        # With the batch folded into the channels, the ordinary depthwise filter gradient
        # is the per-example one: a depthwise conv keeps channels apart. Several times
        # faster than one slice-multiply-reduce per kernel offset.
        channels = int(x.shape[-1])
        x_folded = _fold_batch_into_channels(x)
        folded = tf.nn.depthwise_conv2d_backprop_filter(
            x_folded,
            tf.stack([k[0], k[1], tf.shape(x_folded)[-1], 1]),
            _fold_batch_into_channels(g),
            strides=(1, *s, 1),
            padding=layer.padding.upper(),
        )
        kernel = tf.transpose(tf.reshape(folded, (k[0], k[1], -1, channels)), [2, 0, 1, 3])
    kernel = tf.reshape(kernel, (-1, *layer.kernel.shape))
    return _materialized([(layer.kernel, kernel), *_bias_grads(layer, g)])


def dense_rule(t: Tap, g: tf.Tensor) -> tuple[tf.Tensor, ClippedSum]:
    layer, x = t.layer, t.inputs
    if x.shape.rank != 2:
        # Sequence input: sum over positions per example, no ghost shortcut.
        positions = math.prod(int(d) for d in x.shape[1:-1])
        x3 = tf.reshape(x, (-1, positions, int(x.shape[-1])))
        kernel = tf.einsum("bti,bto->bio", x3, tf.reshape(g, (-1, positions, int(g.shape[-1]))))
        return _materialized([(layer.kernel, kernel), *_bias_grads(layer, g)])
    # Ghost norm: the per-example kernel gradient x_i^T g_i is rank one.
    g_sq = _sum_sq(g)
    sq = _sum_sq(x) * g_sq + (g_sq if layer.use_bias else 0.0)

    def clipped(c: tf.Tensor) -> list[tuple[tf.Variable, tf.Tensor]]:
        scaled = g * c[:, None]
        grads = [(layer.kernel, tf.matmul(x, scaled, transpose_a=True))]
        return grads + ([(layer.bias, tf.reduce_sum(scaled, axis=0))] if layer.use_bias else [])

    return sq, clipped


def cosine_dense_rule(t: Tap, g: tf.Tensor) -> tuple[tf.Tensor, ClippedSum]:
    """Exact per-example norms for cos_ij = x^_i . W_j / ||W_j|| with respect to raw W.

    Example i's gradient for column j is g_ij (I - w^_j w^_j^T) x^_i / ||W_j||, whose squared
    norm is g_ij^2 (||x^_i||^2 - cos_ij^2) / ||W_j||^2. Ghost-clipping the normalised weights
    instead (||x^_i||^2 ||g_i||^2) would be wrong by the factor 1/||W_j||, which is not 1.
    """
    layer, x_hat, cosine = t.layer, t.inputs, t.output
    kernel = tf.convert_to_tensor(layer.kernel)
    # Same floor as tf.math.l2_normalize, so the rule matches the forward pass exactly.
    col_sq = tf.maximum(tf.reduce_sum(tf.square(kernel), axis=0), 1e-12)
    orthogonal = tf.maximum(_sum_sq(x_hat)[:, None] - tf.square(cosine), 0.0)
    sq = tf.reduce_sum(tf.square(g) * orthogonal / col_sq, axis=1)

    def clipped(c: tf.Tensor) -> list[tuple[tf.Variable, tf.Tensor]]:
        grad_normalized = tf.matmul(x_hat, g * c[:, None], transpose_a=True)
        with tf.GradientTape() as tape:
            tape.watch(kernel)
            normalized = tf.math.l2_normalize(kernel, axis=0)
        return [(layer.kernel, tape.gradient(normalized, kernel, output_gradients=grad_normalized))]

    return sq, clipped


def per_example_weights_rule(t: Tap, g: list[tf.Tensor]) -> tuple[tf.Tensor, ClippedSum]:
    """Layers that fed per-example copies of their weights (GroupNorm, PReLU): ``g`` already
    holds each example's weight gradient."""
    return _materialized([(w, tf.reshape(gw, (-1, *w.shape))) for w, gw in zip(t.inputs, g, strict=True)])


# Subclasses first: the first isinstance match wins.
RULES: list[tuple[type, Rule]] = [
    (dp_layers.Conv2D, conv2d_rule),
    (dp_layers.DepthwiseConv2D, depthwise_rule),
    (dp_layers.Dense, dense_rule),
    (dp_layers.CosineDense, cosine_dense_rule),
    (dp_layers.GroupNorm, per_example_weights_rule),
    (dp_layers.PReLU, per_example_weights_rule),
]


def rule_for(layer) -> Rule:
    for cls, rule in RULES:
        if isinstance(layer, cls):
            return rule
    raise TypeError(f"no per-example gradient rule for {type(layer).__name__}")
