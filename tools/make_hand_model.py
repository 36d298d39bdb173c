"""Build `lifting/video2d/models/hand_landmarker.task`, the hand model bundle hand detection loads, from the
Apache-2.0 hand landmark model inside the `mediapipe==0.10.21` wheel.

    python3.11 -m venv /tmp/mp021
    /tmp/mp021/bin/pip install --no-deps mediapipe==0.10.21 numpy==1.26.4 flatbuffers absl-py "protobuf<5" \
        attrs opencv-python-headless
    /tmp/mp021/bin/pip install matplotlib
    /tmp/mp021/bin/python tools/make_hand_model.py

MediaPipe's Tasks API (`mediapipe>=0.10.30`, the runtime we ship against) runs hand landmarks only through its
HandLandmarker: a `.task` bundle of `hand_detector.tflite` (BlazePalm, run on the whole image, whose one detection
becomes the crop the landmark model sees) and `hand_landmarks_detector.tflite`. We do not want the palm detector:
like MediaPipe's holistic graph, we place each hand's crop from the pose's wrist, index and pinky landmarks
(`lifting.video2d.mediapipe_hands.hand_roi`), warp it upright into a 224×224 image of its own, and want the landmark
model to see exactly that image. So the bundle's `hand_detector.tflite` is a model of our own, made here, with
BlazePalm's input and outputs (a 192×192 RGB image in; 2016 SSD anchors × 18 box/keypoint values and 2016 scores
out) that ignores its input and always reports one palm whose hand crop (after the Tasks graph's fixed
expansion: rotation from keypoint 0 to keypoint 2, box × 2.6, shifted half a box towards the fingers) is the
whole image, upright. Two ADD ops of constants (no weights of anyone's). The landmark model is
`hand_landmark_full.tflite` from the 0.10.21 wheel, unchanged but for input-normalisation metadata ([0, 1],
as in the legacy hand_landmark_cpu.pbtxt). The bundle is written byte for byte the same on every run (entries
stored, fixed date).
"""

from __future__ import annotations

import argparse
import hashlib
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "lifting" / "video2d" / "models" / "hand_landmarker.task"
MEDIAPIPE_VERSION = "0.10.21"
LANDMARK_MODEL = "modules/hand_landmark/hand_landmark_full.tflite"
FIXED_DATE = (1980, 1, 1, 0, 0, 0)

# BlazePalm's output layout as MediaPipe's hand detector graph decodes it (hand_detector_graph.cc): SSD anchors
# of a 192×192 input, strides 8, 16, 16, 16, fixed anchor size 1; anchor 0 is the first cell of the stride-8 grid.
PALM_INPUT = 192
NUM_ANCHORS = 2016
NUM_VALUES = (
    18  # box centre x, y, width, height, then 7 keypoints (x, y); keypoint 0 wrist, 2 middle finger MCP
)
ANCHOR0 = 0.5 / (PALM_INPUT / 8)  # centre of anchor 0 in normalised coordinates (x and y)
ROI_SCALE = 2.6  # the graph's expansion of the palm box into the hand crop
ROI_SHIFT_Y = -0.5  # box heights towards the fingers
SCORE_ON, SCORE_OFF = 20.0, -20.0  # logits: the one palm, and no palm at every other anchor


def palm_outputs() -> tuple[np.ndarray, np.ndarray]:
    """The constant detector outputs: regressors (1, 2016, 18) and scores (1, 2016, 1). One palm at anchor 0
    whose expanded crop is the whole input image, upright: box side 1/2.6 (× 2.6 = 1), centre half a box below
    the image centre (shifted back to it), wrist keypoint straight below the middle-finger keypoint (rotation 0)."""
    box = 1.0 / ROI_SCALE
    cx, cy = 0.5, 0.5 - ROI_SHIFT_Y * box
    keypoints = [(0.5, cy + box / 2), (0.5, cy), (0.5, cy - box / 2)] + [(0.5, cy)] * 4
    values = [cx, cy, box, box]
    values += [v for point in keypoints for v in point]
    regressors = np.zeros((1, NUM_ANCHORS, NUM_VALUES), np.float32)
    for i, v in enumerate(values):
        offset = 0.0 if i in (2, 3) else ANCHOR0  # sizes are not offset by the anchor's centre
        regressors[0, 0, i] = (v - offset) * PALM_INPUT
    scores = np.full((1, NUM_ANCHORS, 1), SCORE_OFF, np.float32)
    scores[0, 0, 0] = SCORE_ON
    return regressors, scores


def fixed_palm_model(regressors: np.ndarray, scores: np.ndarray) -> bytes:
    """A TFLite model with BlazePalm's input and outputs whose outputs are `regressors` and `scores`
    (constant + 0, so that an op produces each output)."""
    import flatbuffers
    from mediapipe.tasks.metadata import schema_py_generated as tfl

    def buffer(values: np.ndarray | None = None) -> object:
        b = tfl.BufferT()
        if values is not None:
            b.data = np.frombuffer(np.ascontiguousarray(values, dtype=np.float32).tobytes(), np.uint8)
        return b

    def tensor(shape: tuple[int, ...], name: str, index: int) -> object:
        t = tfl.TensorT()
        t.shape, t.type, t.buffer, t.name = list(shape), tfl.TensorType.FLOAT32, index, name.encode()
        return t

    model = tfl.ModelT()
    model.version = 3
    model.description = b"fixed palm: one hand crop covering the whole input"
    code = tfl.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = tfl.BuiltinOperator.ADD
    code.version = 1
    model.operatorCodes = [code]
    model.buffers = [
        buffer(),
        buffer(),
        buffer(regressors),
        buffer(scores),
        buffer(np.zeros(1)),
        buffer(),
        buffer(),
    ]
    graph = tfl.SubGraphT()
    graph.name = b"main"
    graph.tensors = [
        tensor((1, PALM_INPUT, PALM_INPUT, 3), "input_1", 1),
        tensor(regressors.shape, "regressors_const", 2),
        tensor(scores.shape, "scores_const", 3),
        tensor((1,), "zero", 4),
        tensor(regressors.shape, "regressors", 5),
        tensor(scores.shape, "classificators", 6),
    ]
    graph.inputs, graph.outputs = [0], [4, 5]
    graph.operators = []
    for constant, out in ((1, 4), (2, 5)):
        op = tfl.OperatorT()
        op.opcodeIndex, op.inputs, op.outputs = 0, [constant, 3], [out]
        op.builtinOptionsType, op.builtinOptions = tfl.BuiltinOptions.AddOptions, tfl.AddOptionsT()
        graph.operators.append(op)
    model.subgraphs = [graph]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def with_metadata(model: bytes, name: str, description: str, mean: float, std: float) -> bytes:
    """The TFLite `model` with metadata for one RGB image input normalised by (p - mean) / std."""
    from mediapipe.tasks.python.metadata.metadata_writers import metadata_writer

    writer = metadata_writer.MetadataWriter.create(bytearray(model))
    writer.add_general_info(name, description)
    writer.add_image_input(norm_mean=[mean], norm_std=[std])
    content, _ = writer.populate()
    return bytes(content)


def build(out: Path) -> str:
    """Write the bundle to `out`; returns its sha256."""
    import mediapipe

    if mediapipe.__version__ != MEDIAPIPE_VERSION:
        raise SystemExit(
            f"needs mediapipe=={MEDIAPIPE_VERSION} (found {mediapipe.__version__}); see the docstring"
        )
    package = Path(mediapipe.__file__).parent
    detector = with_metadata(
        fixed_palm_model(*palm_outputs()),
        "hand_detector",
        "fixed palm: the hand crop is the whole input image (crops are placed from the pose)",
        127.5,
        127.5,
    )
    landmarks = with_metadata(
        (package / LANDMARK_MODEL).read_bytes(),
        "hand_landmarks_detector",
        f"hand landmark full from mediapipe=={MEDIAPIPE_VERSION}, input normalisation added",
        0.0,
        255.0,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as bundle:
        bundle.writestr(zipfile.ZipInfo("hand_detector.tflite", FIXED_DATE), detector)
        bundle.writestr(zipfile.ZipInfo("hand_landmarks_detector.tflite", FIXED_DATE), landmarks)
    tmp.replace(out)
    return hashlib.sha256(out.read_bytes()).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-o", "--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    print(f"{args.out}: sha256 {build(args.out)}")


if __name__ == "__main__":
    main()
