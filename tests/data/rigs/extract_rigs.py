"""Extract rest skeletons of the CC0 Mesh2Motion rigs into small JSON fixtures (standard library + numpy).

Usage (from the repository root):
    python tests/data/rigs/extract_rigs.py ../shared/data/characters/mesh2motion_cc0.tar.xz

Writes, next to this script:
- mesh2motion_human.json: every bone of `rigs/rig-human.blend` (the Mesh2Motion human rig, deform bones
  and control bones), read straight from the .blend: the file's SDNA describes the `Bone` struct, whose
  `arm_head`, `arm_tail`, `arm_roll` and `arm_mat` are Blender's armature-space rest data.
- kenney_human.json: the skin joints of `retarget-rigs/human-kenney.glb`. glTF is Y up; Blender's glTF
  exporter keeps each bone's own axes on its node (children lie along the node's +Y), so a bone's rest
  matrix in Blender armature space is C @ world_gltf with C taking glTF (x, y, z) to Blender (x, -z, y).
  Bone lengths come from the child along +Y (the farthest one), or the leaf's `_end` node.

Each JSON holds {"source", "bones": [{name, parent, head, tail, roll, matrix}]} in armature space
(metres, Z up), parents before children, and loads with retarget.rest_skeleton.RestSkeleton.from_dict.
"""

from __future__ import annotations

import argparse
import json
import re
import struct
import sys
import tarfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))

from retarget.rest_skeleton import RestSkeleton  # noqa: E402

BLEND_MEMBER = "rigs/rig-human.blend"
GLB_MEMBER = "retarget-rigs/human-kenney.glb"


def _read_member(archive: Path, name: str) -> bytes:
    with tarfile.open(archive, "r:xz") as tar:
        for m in tar.getmembers():
            if m.name.lstrip("./") == name:
                f = tar.extractfile(m)
                assert f is not None
                return f.read()
    raise SystemExit(f"{name} not found in {archive}")


def read_blend_bones(data: bytes) -> list[dict[str, object]]:
    """Bones of every armature in an uncompressed Blender 5.x .blend (large block headers)."""
    if not data.startswith(b"BLENDER17-01v"):
        raise SystemExit("expected an uncompressed Blender 5 .blend (header BLENDER17-01v...)")
    off = 17
    blocks = []
    while True:
        code = data[off : off + 4]
        sdna = struct.unpack("<i", data[off + 4 : off + 8])[0]
        old, length, nr = struct.unpack("<QqQ", data[off + 8 : off + 32])
        blocks.append((code, sdna, old, length, nr, off + 32))
        if code == b"ENDB":
            break
        off += 32 + length
    p = base = next(b for b in blocks if b[0] == b"DNA1")[5]
    assert data[p : p + 4] == b"SDNA"
    p += 4

    def align(q: int) -> int:
        return base + ((q - base + 3) & ~3)

    def strings(tag: bytes, q: int) -> tuple[list[str], int]:
        assert data[q : q + 4] == tag, tag
        n = struct.unpack("<i", data[q + 4 : q + 8])[0]
        q += 8
        out = []
        for _ in range(n):
            e = data.index(b"\0", q)
            out.append(data[q:e].decode())
            q = e + 1
        return out, align(q)

    names, p = strings(b"NAME", p)
    types, p = strings(b"TYPE", p)
    assert data[p : p + 4] == b"TLEN"
    tlen = struct.unpack(f"<{len(types)}h", data[p + 4 : p + 4 + 2 * len(types)])
    p = align(p + 4 + 2 * len(types))
    assert data[p : p + 4] == b"STRC"
    n = struct.unpack("<i", data[p + 4 : p + 8])[0]
    p += 8
    structs = []
    for _ in range(n):
        t, nf = struct.unpack("<hh", data[p : p + 4])
        fields = [struct.unpack("<hh", data[p + 4 + 4 * i : p + 8 + 4 * i]) for i in range(nf)]
        structs.append((t, fields))
        p += 4 + 4 * nf
    bone_sdna = next(i for i, (t, _) in enumerate(structs) if types[t] == "Bone")
    layout: dict[str, int] = {}
    pos = 0
    for ft, fn in structs[bone_sdna][1]:
        m = re.match(r"([*(]*)(\w+)((?:\[\d+\])*)", names[fn])
        assert m is not None
        count = int(np.prod([int(d) for d in re.findall(r"\[(\d+)\]", m.group(3))] or [1]))
        layout[m.group(2)] = pos
        pos += (8 if m.group(1) else tlen[ft]) * count
    size = tlen[structs[bone_sdna][0]]
    assert pos == size

    def floats(q: int, field: str, count: int) -> list[float]:
        return list(struct.unpack(f"<{count}f", data[q + layout[field] : q + layout[field] + 4 * count]))

    by_addr = {}
    for code, sdna, old, _length, nr, q0 in blocks:
        if code != b"DATA" or sdna != bone_sdna:
            continue
        for k in range(nr):
            q = q0 + k * size
            name = data[q + layout["name"] : q + layout["name"] + 64].split(b"\0")[0].decode()
            parent = struct.unpack("<Q", data[q + layout["parent"] : q + layout["parent"] + 8])[0]
            mat = np.array(floats(q, "arm_mat", 16)).reshape(4, 4).T  # column-major in the file
            by_addr[old + k * size] = {
                "name": name,
                "parent_addr": parent,
                "head": floats(q, "arm_head", 3),
                "tail": floats(q, "arm_tail", 3),
                "roll": floats(q, "arm_roll", 1)[0],
                "matrix": mat.tolist(),
            }
    bones = []
    for b in by_addr.values():
        parent = by_addr.get(int(b.pop("parent_addr")))  # type: ignore[call-overload]
        b["parent"] = None if parent is None else parent["name"]
        bones.append(b)
    return bones


def read_glb_bones(data: bytes) -> list[dict[str, object]]:
    """Skin joints of a .glb as Blender armature-space rest bones (see module docstring)."""
    length = struct.unpack("<I", data[12:16])[0]
    gltf = json.loads(data[20 : 20 + length])
    nodes = gltf["nodes"]
    skin = gltf["skins"][0]
    joints = set(skin["joints"])
    parent_of = {c: i for i, n in enumerate(nodes) for c in n.get("children", [])}

    def local(i: int) -> np.ndarray:
        n = nodes[i]
        m = np.eye(4)
        if "matrix" in n:
            return np.array(n["matrix"]).reshape(4, 4).T
        x, y, z, w = n.get("rotation", [0, 0, 0, 1])
        r = np.array(
            [
                [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
                [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
                [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
            ]
        )
        m[:3, :3] = r * np.array(n.get("scale", [1, 1, 1]))
        m[:3, 3] = n.get("translation", [0, 0, 0])
        return m

    def world(i: int) -> np.ndarray:
        m = local(i)
        while i in parent_of:
            i = parent_of[i]
            m = local(i) @ m
        return m

    conv = np.eye(4)
    conv[:3, :3] = [[1, 0, 0], [0, 0, -1], [0, 1, 0]]
    bones = []
    for i in sorted(joints):
        n = nodes[i]
        w = conv @ world(i)
        rot = w[:3, :3] / np.linalg.norm(w[:3, :3], axis=0)
        ys = [local(c)[:3, 3] for c in n.get("children", [])]
        along = [float(v[1]) for v in ys if v[1] > 0.5 * np.linalg.norm(v)]
        if along:
            length_ = max(along)
        else:
            parent = parent_of.get(i)
            length_ = 0.5 * float(np.linalg.norm(local(i)[:3, 3])) if parent is not None else 0.1
        m = np.eye(4)
        m[:3, :3] = rot
        m[:3, 3] = w[:3, 3]
        parent = parent_of.get(i)
        bones.append(
            {
                "name": n["name"],
                "parent": nodes[parent]["name"] if parent in joints else None,
                "head": m[:3, 3].tolist(),
                "tail": (m[:3, 3] + rot[:, 1] * length_).tolist(),
                "matrix": m.tolist(),
            }
        )
    return bones


def write(bones: list[dict[str, object]], source: str, path: Path) -> None:
    rest = RestSkeleton.from_dict({"bones": bones})
    out = rest.to_dict()
    out["source"] = source
    raw = {str(b["name"]): b for b in bones}
    for b in out["bones"]:
        # Keep what the file says (Blender's own head, tail, roll and arm_mat for the .blend).
        for key in ("head", "tail", "roll", "matrix"):
            if key in raw[b["name"]]:
                b[key] = raw[b["name"]][key]
        b["head"] = [round(v, 6) for v in b["head"]]
        b["tail"] = [round(v, 6) for v in b["tail"]]
        b["roll"] = round(b["roll"], 6)
        b["matrix"] = [[round(v, 7) for v in row] for row in b["matrix"]]
    path.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    print(f"{path.name}: {rest.num_bones} bones")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("archive", type=Path, help="mesh2motion_cc0.tar.xz")
    args = ap.parse_args()
    write(
        read_blend_bones(_read_member(args.archive, BLEND_MEMBER)),
        f"Mesh2Motion (CC0) {BLEND_MEMBER}",
        HERE / "mesh2motion_human.json",
    )
    write(
        read_glb_bones(_read_member(args.archive, GLB_MEMBER)),
        f"Mesh2Motion (CC0) {GLB_MEMBER}",
        HERE / "kenney_human.json",
    )


if __name__ == "__main__":
    main()
