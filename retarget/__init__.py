"""Motion3D → bone rotations on a target rig. numpy only: it runs inside Blender."""
