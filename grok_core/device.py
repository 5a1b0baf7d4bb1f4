"""The one rule for choosing where to train and compute: "auto" means CUDA when a GPU is visible, else the CPU."""

from __future__ import annotations

import torch


def has_cuda() -> bool:
    """Whether a CUDA GPU is visible to this process."""
    return torch.cuda.is_available()


def select_device(name: str | torch.device = "auto") -> torch.device:
    """"auto" → CUDA when available, else the CPU; an explicit "cuda" without a GPU is a clear error."""
    if isinstance(name, torch.device):
        return name
    if name == "auto":
        return torch.device("cuda" if has_cuda() else "cpu")
    if str(name).startswith("cuda") and not has_cuda():
        raise RuntimeError(f"device {name!r} asked for, but no CUDA GPU is available")
    return torch.device(name)


def device_label(device: torch.device) -> str:
    """"cpu", or "cuda (NVIDIA ...)" with the GPU's name, for logs and provenance."""
    return f"cuda ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else str(device)
