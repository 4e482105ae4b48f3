"""An exported backbone as ONNX, so the server (onnxruntime) and the browser
(onnxruntime-web) run the same file with the same runtime.

The graph is written layer by layer from the Keras model with the ``onnx`` package: the
backbones use a small, known set of layers (``models.py``, ``dp_layers``), and converting
them by hand needs no converter pinned to other NumPy/protobuf versions than the project's.
A layer outside that set is a one-line OnnxExportError naming it.

The file's contract (both sides feed it the same bytes):

- input ``image``: (N, 112, 112, 3) **uint8 RGB**, the aligned ArcFace crop as is;
  the embedder's preprocessing ``(x - 127.5) / 128`` is the first node of the graph;
- output ``embedding``: (N, dim) float32, the backbone's raw output (not normalised; the
  embedder L2-normalises, as ``KerasEmbedder._vectors`` does).

Inside, 4-D tensors run channels-first (ONNX's Conv layout); ``Flatten``/``Reshape`` go
back to Keras' channels-last order first, so the flattened features are in Keras' order.
Inference semantics: BatchNorm uses its moving statistics, Dropout is the identity.
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import keras
    import onnx

ONNX_FILE = "backbone.onnx"
OPSET = 17  # onnxruntime >= 1.14 and onnxruntime-web run it; GroupNorm is spelled out, not opset 21's op
IR_VERSION = 8
INPUT_NAME, OUTPUT_NAME = "image", "embedding"
PREPROCESSING = "uint8 RGB crop, (x - 127.5) / 128 inside the graph; output raw, L2-normalise after"
# A registered ONNX file must agree with its Keras model on these (the parity tests ask 0.9999
# on real faces; random inputs here only catch a wrong graph, which scores far lower).
CHECK_MIN_COSINE = 0.9999


class OnnxExportError(ValueError):
    """A backbone that cannot be written as ONNX, or whose ONNX disagrees with it (one line)."""


@dataclass(frozen=True)
class OnnxExport:
    path: Path
    sha256: str
    size: int
    opset: int
    min_cosine: float | None  # Keras vs onnxruntime on the check inputs (None: not checked)
    keras_sha256: str  # the backbone.keras it was made from

    def to_card(self) -> dict[str, Any]:
        return {"file": self.path.name, "sha256": self.sha256, "bytes": self.size, "opset": self.opset,
                "keras_sha256": self.keras_sha256,
                "input": f"{INPUT_NAME} uint8 (N, H, W, 3) RGB", "output": f"{OUTPUT_NAME} float32 (N, dim)",
                "preprocessing": PREPROCESSING, "check_min_cosine": self.min_cosine}


class _Graph:
    """Nodes and initializers being written; tensor names are unique per Keras tensor."""

    def __init__(self) -> None:
        self.nodes: list = []
        self.initializers: list = []
        self._count = 0

    def name(self, hint: str) -> str:
        self._count += 1
        return f"{hint}_{self._count}"

    def const(self, value: np.ndarray, hint: str = "c") -> str:
        from onnx import numpy_helper

        name = self.name(hint)
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def op(self, op_type: str, inputs: list[str], hint: str | None = None, **attrs) -> str:
        from onnx import helper

        out = self.name(hint or op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [out], **attrs))
        return out


@dataclass
class _Tensor:
    name: str
    rank: int
    channels_first: bool  # a 4-D tensor held as NCHW


def _weights(layer) -> list[np.ndarray]:
    return [np.asarray(w, dtype=np.float32) for w in layer.get_weights()]


def _keras_order(g: _Graph, t: _Tensor) -> str:
    return g.op("Transpose", [t.name], perm=[0, 2, 3, 1]) if t.channels_first else t.name


def _per_channel(value: np.ndarray, rank: int) -> np.ndarray:
    """A (C,) vector shaped to broadcast on axis 1 of a rank-``rank`` channels-first tensor."""
    return value.reshape((-1,) + (1,) * (rank - 2)).astype(np.float32)


def _same_pads(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's "same": ceil(size / stride) outputs, the odd pixel padded at the end."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _conv(g: _Graph, layer, x: _Tensor, depthwise: bool) -> _Tensor:
    if not x.channels_first or tuple(layer.dilation_rate) != (1, 1):
        raise OnnxExportError(f"layer {layer.name}: only undilated 2-D convolutions on images convert")
    weights = _weights(layer)
    kernel = weights[0]  # (kh, kw, in, out) or depthwise (kh, kw, in, multiplier)
    kh, kw = kernel.shape[:2]
    sh, sw = layer.strides
    if depthwise:
        channels, mult = kernel.shape[2], kernel.shape[3]
        w = kernel.transpose(2, 3, 0, 1).reshape(channels * mult, 1, kh, kw)
        group = channels
    else:
        if getattr(layer, "groups", 1) != 1:
            raise OnnxExportError(f"layer {layer.name}: grouped convolutions do not convert")
        w = kernel.transpose(3, 2, 0, 1)
        group = 1
    if layer.padding == "same":
        h, wd = layer.input.shape[1], layer.input.shape[2]
        top, bottom = _same_pads(int(h), kh, sh)
        left, right = _same_pads(int(wd), kw, sw)
        pads = [top, left, bottom, right]
    elif layer.padding == "valid":
        pads = [0, 0, 0, 0]
    else:
        raise OnnxExportError(f"layer {layer.name}: padding {layer.padding!r} does not convert")
    inputs = [x.name, g.const(w, "w")]
    if layer.use_bias:
        inputs.append(g.const(weights[1], "b"))
    out = g.op("Conv", inputs, kernel_shape=[kh, kw], strides=[sh, sw], pads=pads, group=group)
    return _Tensor(out, 4, True)


def _affine(g: _Graph, x: _Tensor, scale: np.ndarray, shift: np.ndarray, layer) -> _Tensor:
    if not (x.rank == 2 or (x.rank == 4 and x.channels_first)):
        raise OnnxExportError(f"layer {layer.name}: normalisation converts on (N, C) and image tensors only")
    y = g.op("Mul", [x.name, g.const(_per_channel(scale, x.rank), "scale")])
    return _Tensor(g.op("Add", [y, g.const(_per_channel(shift, x.rank), "shift")]), x.rank, x.channels_first)


def _batch_norm(g: _Graph, layer, x: _Tensor) -> _Tensor:
    if layer.axis not in (-1, x.rank - 1, [-1], [x.rank - 1]):
        raise OnnxExportError(f"layer {layer.name}: BatchNormalization over axis {layer.axis} does not convert")
    def value(variable, default: float) -> np.ndarray:
        return np.full(channels, default) if variable is None else np.asarray(variable, np.float64)

    channels = int(layer.input.shape[-1])
    mean, variance = value(layer.moving_mean, 0.0), value(layer.moving_variance, 1.0)
    gamma, beta = value(layer.gamma, 1.0), value(layer.beta, 0.0)
    # Folded in float64: y = (x - mean) / sqrt(var + eps) * gamma + beta.
    scale = gamma / np.sqrt(variance + layer.epsilon)
    return _affine(g, x, scale, beta - mean * scale, layer)


def _group_norm(g: _Graph, layer, x: _Tensor) -> _Tensor:
    """Statistics per example over each group of consecutive channels (group_norm.py's
    grouping), spelled out in opset-17 ops: Reshape (N, G, -1), mean, variance, back."""
    if not (x.rank == 2 or (x.rank == 4 and x.channels_first)):
        raise OnnxExportError(f"layer {layer.name}: GroupNorm converts on (N, C) and image tensors only")
    channels = int(layer.input.shape[-1])
    groups = layer.effective_groups
    shape = g.op("Shape", [x.name])
    grouped = g.op("Reshape", [x.name, g.const(np.array([0, groups, -1], np.int64), "shape")])
    mean = g.op("ReduceMean", [grouped], axes=[2], keepdims=1)
    centred = g.op("Sub", [grouped, mean])
    variance = g.op("ReduceMean", [g.op("Mul", [centred, centred])], axes=[2], keepdims=1)
    inv_std = g.op("Reciprocal", [g.op("Sqrt", [g.op("Add", [variance, g.const(
        np.array(layer.epsilon, np.float32), "eps")])])])
    normalised = g.op("Reshape", [g.op("Mul", [centred, inv_std]), shape])
    gamma = np.asarray(layer.gamma, np.float32) if layer.scale else np.ones(channels, np.float32)
    beta = np.asarray(layer.beta, np.float32) if layer.center else np.zeros(channels, np.float32)
    return _affine(g, _Tensor(normalised, x.rank, x.channels_first), gamma, beta, layer)


def _prelu(g: _Graph, layer, x: _Tensor) -> _Tensor:
    alpha = _weights(layer)[0]  # the input's shape without the batch, shared axes of size 1
    if x.channels_first:
        alpha = alpha.transpose(2, 0, 1)
    return _Tensor(g.op("PRelu", [x.name, g.const(alpha, "alpha")]), x.rank, x.channels_first)


def _dense(g: _Graph, layer, x: _Tensor) -> _Tensor:
    weights = _weights(layer)
    src = _keras_order(g, x)
    y = g.op("MatMul", [src, g.const(weights[0], "kernel")])
    if layer.use_bias:
        y = g.op("Add", [y, g.const(weights[1], "bias")])
    return _Tensor(y, x.rank, False)


def _reshape(g: _Graph, layer, x: _Tensor, target: tuple[int, ...]) -> _Tensor:
    y = g.op("Reshape", [_keras_order(g, x), g.const(np.array((0, *target), np.int64), "shape")])
    if len(target) == 3:  # back to channels-first for the convolutions that follow
        return _Tensor(g.op("Transpose", [y], perm=[0, 3, 1, 2]), 4, True)
    return _Tensor(y, len(target) + 1, False)


def _zero_padding(g: _Graph, layer, x: _Tensor) -> _Tensor:
    if not x.channels_first:
        raise OnnxExportError(f"layer {layer.name}: ZeroPadding2D converts on images only")
    (top, bottom), (left, right) = layer.padding
    pads = np.array([0, 0, top, left, 0, 0, bottom, right], np.int64)
    return _Tensor(g.op("Pad", [x.name, g.const(pads, "pads")], mode="constant"), 4, True)


def _convert_layer(g: _Graph, layer, inputs: list[_Tensor]) -> _Tensor:
    import keras

    from training.engine.group_norm import GroupNorm

    layers = keras.layers
    if isinstance(layer, layers.Add):
        if len({(t.rank, t.channels_first) for t in inputs}) != 1:
            raise OnnxExportError(f"layer {layer.name}: Add of tensors in different layouts")
        name = inputs[0].name
        for other in inputs[1:]:
            name = g.op("Add", [name, other.name])
        return _Tensor(name, inputs[0].rank, inputs[0].channels_first)
    if len(inputs) != 1:
        raise OnnxExportError(f"layer {layer.name}: {type(layer).__name__} with {len(inputs)} inputs")
    x = inputs[0]
    if isinstance(layer, layers.DepthwiseConv2D):  # before Conv2D: Keras' DepthwiseConv2D is no Conv2D, but be safe
        return _conv(g, layer, x, depthwise=True)
    if isinstance(layer, layers.Conv2D):
        return _conv(g, layer, x, depthwise=False)
    if isinstance(layer, layers.BatchNormalization):
        return _batch_norm(g, layer, x)
    if isinstance(layer, GroupNorm):
        return _group_norm(g, layer, x)
    if isinstance(layer, layers.PReLU):
        return _prelu(g, layer, x)
    if isinstance(layer, layers.Dense):
        return _dense(g, layer, x)
    if isinstance(layer, layers.ZeroPadding2D):
        return _zero_padding(g, layer, x)
    if isinstance(layer, layers.Flatten):
        return _Tensor(g.op("Flatten", [_keras_order(g, x)], axis=1), 2, False)
    if isinstance(layer, layers.Reshape):
        return _reshape(g, layer, x, tuple(int(d) for d in layer.target_shape))
    if isinstance(layer, layers.Dropout):
        return x
    raise OnnxExportError(f"layer {layer.name}: {type(layer).__name__} has no ONNX conversion here")


def to_onnx(model: keras.Model, *, doc: str = "") -> onnx.ModelProto:
    """The ONNX graph of a single-input, single-output functional backbone (see module doc)."""
    import keras
    import onnx
    from onnx import TensorProto, helper

    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise OnnxExportError("only backbones with one input and one output convert")
    in_shape = tuple(model.inputs[0].shape)
    if len(in_shape) != 4 or in_shape[-1] != 3 or None in in_shape[1:]:
        raise OnnxExportError(f"the backbone reads {in_shape[1:]}; an (H, W, 3) image input is needed")
    g = _Graph()
    pixels = g.op("Cast", [INPUT_NAME], to=TensorProto.FLOAT)
    scaled = g.op("Div", [g.op("Sub", [pixels, g.const(np.array(127.5, np.float32), "mid")]),
                          g.const(np.array(128.0, np.float32), "range")])
    tensors: dict[int, _Tensor] = {id(model.inputs[0]): _Tensor(
        g.op("Transpose", [scaled], perm=[0, 3, 1, 2]), 4, True)}
    pending = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    while pending:  # topological order from the layers' own nodes
        progressed = False
        for layer in list(pending):
            nodes = [n for n in layer._inbound_nodes if all(id(t) in tensors or t is model.inputs[0]
                                                            for t in n.input_tensors)]
            if not nodes:
                continue
            if len(layer._inbound_nodes) != 1:
                raise OnnxExportError(f"layer {layer.name} is used more than once; shared layers do not convert")
            node = nodes[0]
            out = _convert_layer(g, layer, [tensors[id(t)] for t in node.input_tensors])
            if len(node.output_tensors) != 1:
                raise OnnxExportError(f"layer {layer.name} has several outputs")
            tensors[id(node.output_tensors[0])] = out
            pending.remove(layer)
            progressed = True
        if not progressed:
            raise OnnxExportError(f"layers not reachable from the input: {', '.join(x.name for x in pending[:5])}")
    result = tensors.get(id(model.outputs[0]))
    if result is None:
        raise OnnxExportError("the backbone's output is not reachable from its input")
    g.nodes.append(helper.make_node("Identity", [_keras_order(g, result)], [OUTPUT_NAME]))
    out_shape = tuple(model.outputs[0].shape)
    graph = helper.make_graph(
        g.nodes, model.name or "backbone",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.UINT8, ["batch", *in_shape[1:]])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["batch", *out_shape[1:]])],
        g.initializers,
    )
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="privface",
                              doc_string=doc or PREPROCESSING)
    proto.ir_version = IR_VERSION
    helper.set_model_props(proto, {"privface.preprocessing": PREPROCESSING, "privface.input": "uint8 NHWC RGB"})
    onnx.checker.check_model(proto, full_check=True)
    return proto


def onnx_session(data: bytes | str | os.PathLike[str]):
    """An onnxruntime CPU session of an ONNX file or its bytes."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    source = data if isinstance(data, bytes) else str(data)
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])


def run_onnx(session, crops: np.ndarray) -> np.ndarray:
    """Raw (N, dim) embeddings of (N, H, W, 3) uint8 crops."""
    crops = np.ascontiguousarray(crops, dtype=np.uint8)
    return np.asarray(session.run([OUTPUT_NAME], {INPUT_NAME: crops})[0], dtype=np.float64)


def run_keras(model: keras.Model, crops: np.ndarray) -> np.ndarray:
    """Raw embeddings the way KerasEmbedder computes them (its preprocessing, float32)."""
    x = (np.asarray(crops).astype(np.float32) - 127.5) / 128.0
    return np.asarray(model.predict_on_batch(x), dtype=np.float64)


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine of two (N, dim) arrays."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1) + 1e-30)


def check_inputs(shape: tuple[int, int], count: int = 4, seed: int = 0) -> np.ndarray:
    """Deterministic face-like uint8 inputs: smooth gradients plus noise, not only noise,
    so normalisation layers see the spread of real crops."""
    rng = np.random.default_rng(seed)
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    base = np.stack([128 + 100 * np.sin(3 * xx + c) * np.cos(2 * yy - c) for c in range(3)], -1)
    out = [np.clip(base * rng.uniform(0.5, 1.2) + rng.normal(0, 25, base.shape), 0, 255) for _ in range(count)]
    return np.stack(out).astype(np.uint8)


def export_onnx(keras_path: str | os.PathLike[str], onnx_path: str | os.PathLike[str] | None = None, *,
                check: bool = True) -> OnnxExport:
    """Write ``backbone.onnx`` next to (or at ``onnx_path`` for) an exported ``backbone.keras``.

    With ``check``, Keras and onnxruntime embed a few deterministic inputs and the file is
    kept only if every cosine is at least CHECK_MIN_COSINE (else OnnxExportError, no file).
    """
    from training.engine.export import load_backbone

    keras_path = Path(keras_path)
    keras_sha256 = hashlib.sha256(keras_path.read_bytes()).hexdigest() if keras_path.is_file() else ""
    target = Path(onnx_path) if onnx_path is not None else keras_path.with_name(ONNX_FILE)
    model = load_backbone(keras_path)
    data = to_onnx(model, doc=f"{PREPROCESSING}; from {keras_path.name}").SerializeToString()
    min_cosine = None
    if check:
        crops = check_inputs(tuple(int(d) for d in model.inputs[0].shape[1:3]))
        min_cosine = float(np.min(cosines(run_keras(model, crops), run_onnx(onnx_session(data), crops))))
        if not min_cosine >= CHECK_MIN_COSINE:
            raise OnnxExportError(f"ONNX disagrees with the Keras model (cosine {min_cosine:.6f} < {CHECK_MIN_COSINE})")
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, target)
    return OnnxExport(target, hashlib.sha256(data).hexdigest(), len(data), OPSET, min_cosine, keras_sha256)
