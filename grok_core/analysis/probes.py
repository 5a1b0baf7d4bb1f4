"""Sparse linear probes: a few embedding dimensions, linearly combined, that give cos/sin(2πkx/p).

If the model represents x by the angle 2πkx/p, then some small set of dimensions of its
embedding holds cos and sin of that angle; fitting both and plotting one against the other
places the p numbers on a circle. Before grokking no few dimensions do this and the fit is poor.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..config import ModelConfig
from .fourier import as_tensor


@dataclass
class ProbeResult:
    """A fitted probe: target ≈ features[:, dims] @ weights + bias."""

    dims: list[int]  # chosen feature dimensions, in the order they were picked
    weights: np.ndarray  # [len(dims)]
    bias: float
    r2: float  # share of the target's variance the fit explains
    fit: np.ndarray  # [p] the probe's output for each input value
    target: np.ndarray  # [p]


def _lstsq(X: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, float, torch.Tensor]:
    """Least squares with an intercept: (weights, bias, fit)."""
    A = torch.cat([X, torch.ones(len(t), 1, dtype=X.dtype)], dim=1)  # [n, k + 1]
    sol = torch.linalg.lstsq(A, t[:, None], driver="gelsd").solution[:, 0]
    return sol[:-1], float(sol[-1]), A @ sol


def sparse_probe(features, target, max_dims: int = 8, tol: float = 1e-6) -> ProbeResult:
    """Greedy forward selection (orthogonal matching pursuit) of at most max_dims features.

    features [n, d] (embedding rows, or residual-stream activations per input value), target [n].
    Each round adds the dimension most correlated with what is still unexplained, then refits all
    chosen ones; stops early once R² is within `tol` of 1.
    """
    X = as_tensor(features)  # [n, d]
    t = as_tensor(target)  # [n]
    Xc = X - X.mean(0)
    col_norm = Xc.norm(dim=0)  # [d]
    usable = col_norm > 1e-12 * max(float(col_norm.max()), 1e-300)
    tss = float(((t - t.mean()) ** 2).sum())
    dims: list[int] = []
    weights, bias, fit = torch.zeros(0, dtype=torch.float64), float(t.mean()), torch.full_like(t, float(t.mean()))
    r2 = 0.0
    for _ in range(min(max_dims, int(usable.sum()))):
        score = (Xc.T @ (t - fit)).abs() / torch.where(usable, col_norm, 1.0)  # [d]: correlation with the residual
        score[~usable] = -1.0
        score[dims] = -1.0
        dims.append(int(score.argmax()))
        weights, bias, fit = _lstsq(X[:, dims], t)
        r2 = 1.0 - float(((t - fit) ** 2).sum()) / tss if tss > 0 else 1.0
        if r2 >= 1.0 - tol:
            break
    return ProbeResult(dims=dims, weights=weights.numpy(), bias=bias, r2=r2, fit=fit.numpy(), target=t.numpy())


def circle_probes(params, cfg: ModelConfig, k: int, position: int = 0, max_dims: int = 8) -> tuple[ProbeResult, ProbeResult]:
    """Probes for cos(2πkv/p) and sin(2πkv/p) from the embedding of v at `position` (0: x, 1: y).

    Features: W_E[:p] + W_pos[position], [p, d_model]. The token embedding is shared, so the
    positions differ by a constant the bias absorbs: x and y sit on the same circle.
    """
    p = cfg.p
    feats = as_tensor(params["embed.W_E"])[:p] + as_tensor(params["pos_embed.W_pos"])[position]  # [p, d_model]
    angle = 2 * np.pi * k * np.arange(p) / p
    return sparse_probe(feats, np.cos(angle), max_dims), sparse_probe(feats, np.sin(angle), max_dims)
