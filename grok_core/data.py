"""The dataset: all p^2 problems "x op y =" in row-major (x, y) order and a seeded train/test split."""

from __future__ import annotations

import numpy as np
import torch


def all_pairs(p: int) -> tuple[torch.Tensor, torch.Tensor]:
    """x, y for every problem, row-major: index = x * p + y."""
    idx = torch.arange(p * p)
    return idx // p, idx % p


def all_tokens(p: int) -> torch.Tensor:
    """[p*p, 3] token ids [x, y, =] with '=' as token p."""
    x, y = all_pairs(p)
    return torch.stack([x, y, torch.full_like(x, p)], dim=1)


def labels(p: int, operation: str = "add") -> torch.Tensor:
    x, y = all_pairs(p)
    if operation == "add":
        return (x + y) % p
    if operation == "subtract":
        return (x - y) % p
    raise ValueError(f"unknown operation {operation!r}")


def split_mask(p: int, frac_train: float, data_seed: int) -> np.ndarray:
    """Boolean [p*p] train mask: a seeded numpy permutation, the first round(frac*p^2) are train.

    For p = 113 and 30% that is 3,831 train / 8,938 test. Nanda's split differs in both ways: a Python
    random.shuffle of the pairs and int(frac*p^2) = 3,830 train (convert.nanda_split_mask rebuilds it).
    """
    n = p * p
    perm = np.random.default_rng(data_seed).permutation(n)
    mask = np.zeros(n, dtype=bool)
    mask[perm[: int(round(frac_train * n))]] = True
    return mask


def mask_to_hex(mask: np.ndarray) -> str:
    return np.packbits(mask.astype(bool)).tobytes().hex()


def mask_from_hex(s: str, n: int) -> np.ndarray:
    bits = np.unpackbits(np.frombuffer(bytes.fromhex(s), dtype=np.uint8))
    if bits.size < n or bits[n:].any():
        raise ValueError(f"split mask has the wrong length for {n} problems")
    return bits[:n].astype(bool)
