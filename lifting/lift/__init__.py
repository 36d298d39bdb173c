"""Keypoints2D → Motion3D: the temporal model, its checkpoints, lifting, constant bone lengths, per-clip refinement. Torch inference; never imports learn/ or app/."""
