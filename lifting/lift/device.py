"""Choosing the torch device."""

from __future__ import annotations

import torch

from lifting.errors import MocapError


def resolve_device(name: str) -> torch.device:
    """'auto' picks CUDA when available; 'cpu' or 'cuda[:N]' explicitly. CUDA without a GPU is a user error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise MocapError(
            "CUDA was requested but no CUDA GPU is available to PyTorch; use --device cpu or auto."
        )
    if name != "cpu" and not name.startswith("cuda"):
        raise MocapError(f"Unknown device {name!r}; use auto, cpu or cuda.")
    return torch.device(name)
