"""MLP neurons on the grid: surfaces over (x, y), waves at fixed x, and neurons that show the loops.

After grokking, a neuron's pre-activation is roughly cos(wx + φ) + cos(wy + φ) for one key
frequency w = 2πk/p; fixing x and sweeping y gives a wave, and two neurons of the same frequency
but different phases trace an ellipse when plotted against each other over y.
"""

from __future__ import annotations

import numpy as np

from ..config import ModelConfig
from .fourier import wave_spectrum


def neuron_grid(cache, cfg: ModelConfig, hook: str = "blocks.0.mlp.hook_post") -> np.ndarray:
    """Activations of every neuron at the last position over the grid: [p(x), p(y), d_mlp] (the cache's dtype).

    hook "blocks.0.mlp.hook_pre" (before the ReLU) or "blocks.0.mlp.hook_post" (after it). A view
    of the cached tensor where possible, so it costs no copy.
    """
    a = cache[hook]
    a = a.detach().cpu().numpy() if hasattr(a, "detach") else np.asarray(a)
    return a.reshape(cfg.p, cfg.p, -1)


def wave(grid, x: int) -> np.ndarray:
    """Every neuron as y sweeps 0..p-1 with x fixed: [p(y), d_mlp]."""
    return np.asarray(grid)[int(x)]


def scatter_grid(grid, neurons, x: int = 0) -> np.ndarray:
    """The chosen neurons over y at fixed x, one row each: [len(neurons), p(y)] (pairs make the scatters)."""
    return np.asarray(grid)[int(x)][:, list(neurons)].T


def wave_frequencies(grid, x: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The wave of every neuron at fixed x in the Fourier basis over y (see wave_spectrum)."""
    return wave_spectrum(wave(grid, x))


def default_neurons(grid, n: int = 7, x: int = 0, min_frac: float = 0.5) -> list[int]:
    """n neurons whose waves at this x draw loops: the strongest of the dominant frequency, spread over phases.

    A neuron belongs to the frequency carrying most (> min_frac) of its wave's variance; the
    dominant frequency is the one whose neurons carry the most variance. Strongest first, a
    neuron is skipped while its phase is within π/(2n) of one already chosen (equal phases draw
    a line, not a loop). Before training no frequency dominates: the strongest waves are used.
    """
    energy, cos, sin = wave_frequencies(grid, x)  # [n_freq, d_mlp] each
    total = energy.sum(0)  # [d_mlp]: the wave's sum of squares about its mean (Parseval)
    best = energy.argmax(0)
    frac = energy[best, np.arange(energy.shape[1])] / np.maximum(total, 1e-300)
    good = (frac > min_frac) & (total > 1e-9 * max(float(total.max()), 1e-300))
    order = [int(i) for i in np.argsort(-total)]  # strongest waves first
    if not good.any():
        return order[:n]
    per_k = np.bincount(best[good], weights=total[good], minlength=energy.shape[0])
    k = int(per_k.argmax())
    members = [i for i in order if good[i] and best[i] == k]
    phase = np.arctan2(sin[k], cos[k])  # [d_mlp]
    chosen: list[int] = []
    for i in members:
        if not chosen or np.abs(np.angle(np.exp(1j * (phase[i] - phase[chosen])))).min() > np.pi / (2 * n):
            chosen.append(i)
        if len(chosen) == n:
            return chosen
    rest = [i for i in members + order if i not in chosen]
    return (chosen + list(dict.fromkeys(rest)))[:n]
