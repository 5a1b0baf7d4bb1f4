"""Per-series references, read once on the last checkpoint so every step shows the same things."""

from __future__ import annotations

import numpy as np

from ..analysis import fourier, neurons
from ..config import ModelConfig

HOOK_POST = "blocks.0.mlp.hook_post"


def key_frequencies(params, cfg: ModelConfig, grid: dict) -> list[int]:
    """The trained model's key frequencies (analysis.fourier.key_frequencies on the full grid)."""
    return [int(k) for k in fourier.key_frequencies(params, cfg, grid)]


def display_frequency(key_freqs: list[int]) -> int:
    """The key frequency the views show by default: the lowest, because with only p samples a wave of a high
    frequency (say 51) looks jagged and aliased, while a low one (say 8) is visibly a smooth wave."""
    return min(key_freqs) if key_freqs else 1


def neuron_frequencies(grid: dict, cfg: ModelConfig) -> np.ndarray:
    """Each MLP neuron's main frequency [d_mlp] (0 for a flat neuron)."""
    return np.asarray(fourier.neuron_frequencies(grid[HOOK_POST].reshape(cfg.p, cfg.p, -1))[0])


def showcase_neurons(grid: dict, cfg: ModelConfig, display_k: int, n: int) -> list[int]:
    """n neurons that show the algorithm: among those well explained by display_k, the most active at x = 0
    (a ReLU neuron silent for most y draws a flat line), spread over phases by neurons.default_neurons."""
    g = neurons.neuron_grid(grid, cfg)  # [p, p, d_mlp]
    best_k, frac = fourier.neuron_frequencies(g)
    cand = np.flatnonzero((best_k == display_k) & (frac > 0.5))
    if len(cand) < n:
        return [int(i) for i in neurons.default_neurons(g, n=n)]
    cand = cand[np.argsort(-g[0][:, cand].var(axis=0))][: 3 * n]
    return [int(cand[i]) for i in neurons.default_neurons(g[:, :, cand], n=n)]
