"""face-api's TF.js face models -> one ONNX file each, run by onnxruntime and onnxruntime-web.

Source: the npm package ``@vladmandic/face-api@1.7.15`` (MIT; a frontend devDependency),
``model/<name>-weights_manifest.json`` + ``.bin`` shards: TF.js weight maps, uint8-quantised
(``value = q * scale + min``). The networks are rebuilt here layer by layer from the
package's source (``src/tinyYolov2``, ``src/faceFeatureExtractor``, ``src/faceLandmarkNet``)
with the ``onnx`` helper API, so no TF.js or tf2onnx is needed and the output is a pure
function of the weights: re-running this script writes byte-identical files
(tests/inference/test_portable_faces.py checks it against the committed ones).

- ``tiny_face_detector.onnx``: input ``image`` float32 (1, 416, 416, 3) RGB 0..255 (the photo
  padded to a square at the bottom/right with black and resized); output ``grid`` float32
  (1, 13, 13, 25): per cell 5 anchors x (x, y, w, h, objectness), raw (decode in
  portable_faces.py / faces.ts).
- ``face_landmark_68.onnx``: input ``image`` float32 (1, 112, 112, 3) RGB 0..255 (the face
  box centred in a square); output ``landmarks`` float32 (1, 136): 68 (x, y) pairs relative
  to that square (0..1).

Both graphs do their own normalisation (mean subtraction, / 255) as face-api does.
Run: ``.venv/bin/python -m inference.engine.face_models.convert [--source DIR] [--out DIR]``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DEFAULT_SOURCE = HERE.parents[2] / "frontend" / "node_modules" / "@vladmandic" / "face-api" / "model"
OPSET = 17
IR_VERSION = 8
DETECTOR_FILE = "tiny_face_detector.onnx"
LANDMARK_FILE = "face_landmark_68.onnx"
DETECTOR_SIZE = 416
LANDMARK_SIZE = 112
DETECTOR_MEAN_RGB = (117.001, 114.697, 97.404)  # face-api src/tinyFaceDetector/const.ts
LANDMARK_MEAN_RGB = (122.782, 117.001, 104.298)  # src/faceFeatureExtractor/FaceFeatureExtractor.ts
LEAKY_ALPHA = 0.1  # src/tinyYolov2/leaky.ts: relu(x - 0.1x) + 0.1x


def load_weights(source: Path, model: str) -> dict[str, np.ndarray]:
    """A TF.js weight map (name -> float32 array, TF layout), dequantised as TF.js does."""
    manifest = json.loads((source / f"{model}-weights_manifest.json").read_text())
    weights: dict[str, np.ndarray] = {}
    for group in manifest:
        data = b"".join((source / path).read_bytes() for path in group["paths"])
        offset = 0
        for entry in group["weights"]:
            shape = entry["shape"]
            count = int(np.prod(shape)) if shape else 1
            quant = entry.get("quantization")
            if quant is None:
                if entry["dtype"] != "float32":
                    raise ValueError(f"{model}: {entry['name']} has dtype {entry['dtype']}")
                values = np.frombuffer(data, np.float32, count, offset)
                offset += 4 * count
            elif quant["dtype"] == "uint8":
                q = np.frombuffer(data, np.uint8, count, offset).astype(np.float64)
                values = (q * quant["scale"] + quant["min"]).astype(np.float32)
                offset += count
            else:
                raise ValueError(f"{model}: {entry['name']} is quantised as {quant['dtype']}")
            weights[entry["name"]] = np.asarray(values, np.float32).reshape(shape)
        if offset != len(data):
            raise ValueError(f"{model}: {len(data) - offset} bytes left over in its shards")
    return weights


class _Graph:
    """Collects nodes and initializers with deterministic names."""

    def __init__(self, weights: dict[str, np.ndarray]):
        self.weights = weights
        self.nodes: list = []
        self.inits: list = []
        self._n = 0

    def name(self, hint: str) -> str:
        self._n += 1
        return f"{hint}_{self._n}"

    def const(self, hint: str, value: np.ndarray) -> str:
        from onnx import numpy_helper

        name = self.name(hint)
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def op(self, op_type: str, inputs: list[str], hint: str, **attrs) -> str:
        from onnx import helper

        out = self.name(hint)
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=out, **attrs))
        return out

    # Layers, channels-first. TF kernels: conv HWIO, depthwise HWC1, pointwise 11IO.
    def conv(self, x: str, prefix: str, stride: int, pads: list[int]) -> str:
        w = self.const(f"{prefix}/filters", self.weights[f"{prefix}/filters"].transpose(3, 2, 0, 1))
        b = self.const(f"{prefix}/bias", self.weights[f"{prefix}/bias"])
        return self.op("Conv", [x, w, b], prefix.replace("/", "_"), strides=[stride, stride], pads=pads)

    def separable(self, x: str, prefix: str, stride: int, pads: list[int]) -> str:
        dw = self.weights[f"{prefix}/depthwise_filter"]
        channels = dw.shape[2]
        w_dw = self.const(f"{prefix}/depthwise", dw.transpose(2, 3, 0, 1))
        out = self.op("Conv", [x, w_dw], prefix.replace("/", "_") + "_dw", group=channels,
                      strides=[stride, stride], pads=pads)
        w_pw = self.const(f"{prefix}/pointwise", self.weights[f"{prefix}/pointwise_filter"].transpose(3, 2, 0, 1))
        b = self.const(f"{prefix}/bias", self.weights[f"{prefix}/bias"])
        return self.op("Conv", [out, w_pw, b], prefix.replace("/", "_") + "_pw")

    def normalise(self, x: str, mean: tuple[float, float, float]) -> str:
        centred = self.op("Sub", [x, self.const("mean_rgb", np.array(mean, np.float32))], "centred")
        scaled = self.op("Div", [centred, self.const("scale", np.array(255.0, np.float32))], "scaled")
        return self.op("Transpose", [scaled], "nchw", perm=[0, 3, 1, 2])

    def model(self, doc: str, inp, out):
        import onnx
        from onnx import helper

        graph = helper.make_graph(self.nodes, doc.split(":")[0], [inp], [out], self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                  producer_name="privface face_models/convert.py", doc_string=doc)
        model.ir_version = IR_VERSION
        onnx.checker.check_model(model, full_check=True)
        return model


def _same_pads(size: int, kernel: int, stride: int) -> list[int]:
    """TF 'SAME' padding as ONNX pads (begin h, begin w, end h, end w): the odd pixel goes at the end."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return [total // 2, total // 2, total - total // 2, total - total // 2]


def detector_model(weights: dict[str, np.ndarray]):
    """TinyYolov2Base.runMobilenet with isFirstLayerConv2d, no conv6/conv7 (TinyFaceDetector)."""
    from onnx import TensorProto, helper

    g = _Graph(weights)
    x = g.normalise("image", DETECTOR_MEAN_RGB)
    size = DETECTOR_SIZE
    x = g.op("LeakyRelu", [g.conv(x, "conv0", 1, [0, 0, 0, 0])], "conv0_leaky", alpha=LEAKY_ALPHA)
    size -= 2  # 'valid' 3x3
    for layer in range(1, 6):
        x = g.op("MaxPool", [x], f"pool{layer}", kernel_shape=[2, 2], strides=[2, 2], pads=_same_pads(size, 2, 2))
        size = -(-size // 2)
        x = g.op("LeakyRelu", [g.separable(x, f"conv{layer}", 1, [1, 1, 1, 1])], f"conv{layer}_leaky",
                 alpha=LEAKY_ALPHA)
    x = g.op("MaxPool", [x], "pool6", kernel_shape=[2, 2], strides=[1, 1], pads=_same_pads(size, 2, 1))
    x = g.conv(x, "conv8", 1, [0, 0, 0, 0])
    g.nodes.append(helper.make_node("Transpose", [x], ["grid"], name="grid", perm=[0, 2, 3, 1]))
    cells = size
    inp = helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, DETECTOR_SIZE, DETECTOR_SIZE, 3])
    out = helper.make_tensor_value_info("grid", TensorProto.FLOAT, [1, cells, cells, 25])
    return g.model("tiny_face_detector: face-api 1.7.15 TinyFaceDetector; image float32 (1,416,416,3) RGB "
                   "0..255 -> grid (1,13,13,25) raw", inp, out)


def landmark_model(weights: dict[str, np.ndarray]):
    """FaceFeatureExtractor (4 dense blocks, avg pool) + the fc layer of FaceLandmark68Net."""
    from onnx import TensorProto, helper

    g = _Graph(weights)
    x = g.normalise("image", LANDMARK_MEAN_RGB)
    size = LANDMARK_SIZE
    for block in range(4):
        p = f"dense{block}"
        down = _same_pads(size, 3, 2)
        same = _same_pads(size // 2, 3, 1)
        if block == 0:
            first = g.conv(x, f"{p}/conv0", 2, down)
        else:
            first = g.separable(x, f"{p}/conv0", 2, down)
        size //= 2
        out1 = g.op("Relu", [first], f"{p}_out1")
        out2 = g.separable(out1, f"{p}/conv1", 1, same)
        in3 = g.op("Relu", [g.op("Add", [out1, out2], f"{p}_sum3")], f"{p}_in3")
        out3 = g.separable(in3, f"{p}/conv2", 1, same)
        in4 = g.op("Relu", [g.op("Add", [out1, g.op("Add", [out2, out3], f"{p}_s23")], f"{p}_sum4")], f"{p}_in4")
        out4 = g.separable(in4, f"{p}/conv3", 1, same)
        s34 = g.op("Add", [out3, out4], f"{p}_s34")
        s234 = g.op("Add", [out2, s34], f"{p}_s234")
        x = g.op("Relu", [g.op("Add", [out1, s234], f"{p}_sum")], f"{p}_out")
    x = g.op("AveragePool", [x], "avgpool", kernel_shape=[7, 7], strides=[2, 2])
    x = g.op("Flatten", [x], "features", axis=1)
    w = g.const("fc/weights", weights["fc/weights"])
    b = g.const("fc/bias", weights["fc/bias"])
    g.nodes.append(helper.make_node("Gemm", [x, w, b], ["landmarks"], name="landmarks"))
    inp = helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, LANDMARK_SIZE, LANDMARK_SIZE, 3])
    out = helper.make_tensor_value_info("landmarks", TensorProto.FLOAT, [1, 136])
    return g.model("face_landmark_68: face-api 1.7.15 FaceLandmark68Net; image float32 (1,112,112,3) RGB "
                   "0..255 -> landmarks (1,136) relative (x, y)", inp, out)


def build(source: Path = DEFAULT_SOURCE) -> dict[str, bytes]:
    """file name -> serialised ONNX bytes."""
    if not source.is_dir():
        raise FileNotFoundError(f"{source}: no face-api model folder (npm install in frontend/)")
    return {
        DETECTOR_FILE: detector_model(load_weights(source, "tiny_face_detector_model")).SerializeToString(),
        LANDMARK_FILE: landmark_model(load_weights(source, "face_landmark_68_model")).SerializeToString(),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args(argv)
    for name, data in build(args.source).items():
        (args.out / name).write_bytes(data)
        print(f"{name} {len(data)} bytes sha256 {hashlib.sha256(data).hexdigest()}")


if __name__ == "__main__":
    main()
