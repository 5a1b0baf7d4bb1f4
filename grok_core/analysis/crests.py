"""Crests: surfaces over (x, y) that depend only on (x + y) mod p, and where they peak.

The model computes cos(w(x + y − c)) for every answer c: the logit for c, and the MLP output read
along c's unembedding direction, are stripes along the diagonals x + y ≡ s, highest at s = c.
Here: how much of a surface is such a function of x + y, where its crest lies, and the points on it.
"""

from __future__ import annotations

import numpy as np

from ..config import ModelConfig
from ..model import grid_readout
from .fourier import as_tensor, to_numpy


def diagonal_sum_index(p: int) -> np.ndarray:
    """[p, p] array of (x + y) mod p: which diagonal each grid cell lies on."""
    r = np.arange(p)
    return (r[:, None] + r[None, :]) % p


def diagonal_profile(surface) -> np.ndarray:
    """Mean of the surface along each diagonal x + y ≡ s (mod p): [p], index s."""
    S = to_numpy(surface)
    p = S.shape[0]
    return np.bincount(diagonal_sum_index(p).ravel(), weights=S.ravel(), minlength=p) / p


def diagonal_fraction(surface) -> float:
    """Share of the surface's variance that is a function of (x + y) mod p alone (0..1).

    The best such function is the mean along each diagonal; 1.0 means pure diagonal stripes.
    """
    S = to_numpy(surface)
    centred = S - S.mean()
    total = float((centred**2).sum())
    if total == 0:
        return 0.0
    along = diagonal_profile(centred)[diagonal_sum_index(S.shape[0])]  # [p, p]: the x + y part
    return float((along**2).sum() / total)


def crest(surface) -> int:
    """The c where the surface's (x + y) mod p profile peaks: its crest lies along x + y ≡ c."""
    return int(np.argmax(diagonal_profile(surface)))


def crest_points(c: int, p: int, n: int | None = None) -> list[tuple[int, int]]:
    """All (x, y) in the grid with x + y ≡ c (mod p), in order of x.

    That walks down the line x + y = c from (0, c) to (c, 0), then the line x + y = c + p from
    (c + 1, p − 1) to (p − 1, c + 1). With n, n points spread evenly along that walk.
    """
    xs = np.arange(p)
    if n is not None and n < p:
        xs = np.unique(np.round(np.linspace(0, p - 1, max(n, 1))).astype(int))
    return [(int(x), int((c - x) % p)) for x in xs]


def _answer_direction(params, c: int):
    """W_U[:, c] minus the mean column: the part of answer c's logit that softmax does not ignore."""
    W_U = as_tensor(params["unembed.W_U"]).float()  # [d_model, p]
    return W_U[:, c] - W_U.mean(1)


def logit_surface(cache, params, cfg: ModelConfig, c: int) -> np.ndarray:
    """The logit for answer c over the grid, [p(x), p(y)], minus the mean logit of each problem.

    Subtracting the mean over answers removes what softmax ignores, leaving the part that decides c.
    `cache` needs only "blocks.0.hook_resid_mid" (from `model.grid_attention` or `grid_cache`): the
    MLP is read along the one direction, never for every answer.
    """
    resid_mid = as_tensor(cache["blocks.0.hook_resid_mid"]).float()  # [p*p, d_model]
    return grid_readout(params, cfg, resid_mid, _answer_direction(params, c)).reshape(cfg.p, cfg.p).numpy()


def mlp_out_surface(cache, params, cfg: ModelConfig, c: int) -> np.ndarray:
    """The MLP output read along answer c's unembedding direction, [p(x), p(y)].

    The direction is W_U[:, c] minus the mean column (centred like logit_surface): the MLP's
    direct contribution to the logit of c relative to the other answers. `cache` as for logit_surface.
    """
    resid_mid = as_tensor(cache["blocks.0.hook_resid_mid"]).float()
    along = grid_readout(params, cfg, resid_mid, _answer_direction(params, c), mlp_only=True)
    return along.reshape(cfg.p, cfg.p).numpy()
