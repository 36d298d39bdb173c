"""Build `lifting/video2d/models/pose_landmarker_full.task`, the pose model bundle the detector loads, from the
Apache-2.0 models inside the `mediapipe==0.10.21` wheel.

    python3.11 -m venv /tmp/mp021
    /tmp/mp021/bin/pip install --no-deps mediapipe==0.10.21 numpy==1.26.4 flatbuffers absl-py "protobuf<5" \
        attrs matplotlib
    /tmp/mp021/bin/python tools/make_pose_model.py

MediaPipe's Tasks API (`mediapipe>=0.10.30`, the only MediaPipe with wheels for Python 3.12 and newer) loads a
pose model as a `.task` bundle: a zip of `pose_detector.tflite` and `pose_landmarks_detector.tflite`, each with
TFLite metadata that says how to normalise the input image. Newer wheels ship no models (they are downloaded at
run time, which we may not do); the 0.10.21 wheel ships BlazePose's detector and full landmark model, the ones our
detector has always run, without that metadata. This script adds the metadata (MediaPipe's own metadata writer,
which needs 0.10.21's native metadata module) and writes the bundle byte for byte the same on every run:
input ranges from the legacy graphs (pose_detection_cpu.pbtxt: [-1, 1]; pose_landmark_by_roi_cpu.pbtxt:
[0, 1]), zip entries stored (MediaPipe maps them without unpacking) with a fixed date.
"""

from __future__ import annotations

import argparse
import hashlib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "lifting" / "video2d" / "models" / "pose_landmarker_full.task"
MEDIAPIPE_VERSION = "0.10.21"
# (entry in the bundle, model in the 0.10.21 wheel, input mean, input std): pixels p become (p - mean) / std.
MODELS = (
    ("pose_detector.tflite", "modules/pose_detection/pose_detection.tflite", 127.5, 127.5),
    ("pose_landmarks_detector.tflite", "modules/pose_landmark/pose_landmark_full.tflite", 0.0, 255.0),
)
FIXED_DATE = (1980, 1, 1, 0, 0, 0)


def with_metadata(model: bytes, name: str, mean: float, std: float) -> bytes:
    """The TFLite `model` with metadata for one RGB image input normalised by (p - mean) / std."""
    from mediapipe.tasks.python.metadata.metadata_writers import metadata_writer

    writer = metadata_writer.MetadataWriter.create(bytearray(model))
    writer.add_general_info(name, f"BlazePose from mediapipe=={MEDIAPIPE_VERSION}, input normalisation added")
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
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as bundle:
        for entry, source, mean, std in MODELS:
            data = with_metadata((package / source).read_bytes(), entry.removesuffix(".tflite"), mean, std)
            bundle.writestr(zipfile.ZipInfo(entry, FIXED_DATE), data)
    tmp.replace(out)
    return hashlib.sha256(out.read_bytes()).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-o", "--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    print(f"{args.out}: sha256 {build(args.out)}")


if __name__ == "__main__":
    main()
