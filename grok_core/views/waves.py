"""Views 3 and 4, neuron waves and the scatter grid: activations with x fixed, and how pure the waves are."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..analysis.fourier import noise_share, wave_purity
from ..config import ModelConfig
from ..model import forward_last
from .level import Level, level


def x_slice(params, cfg: ModelConfig, x: int) -> dict[str, np.ndarray]:
    """Activations for 'x + y =' with x fixed and every y: [p, ...] per hook (p problems: cheap), read-only."""
    ys = torch.arange(cfg.p)
    cache: dict = {}
    with torch.no_grad():
        forward_last(params, cfg, torch.full_like(ys, int(x)), ys, cache=cache)
    out = {k: v.numpy() for k, v in cache.items()}
    for v in out.values():
        v.flags.writeable = False  # shared between sessions by the app's cache
    return out


@dataclass(frozen=True)
class WavePurity:
    """How close the waves (columns of [p(y), n]) are to pure waves over y (analysis.fourier.wave_purity).

    k, share: per wave; mean: the mean share of the live ones; freqs: their distinct frequencies;
    noise: what white noise's strongest frequency carries on average (the floor to compare with).
    """

    k: np.ndarray  # [n] strongest frequency (0: flat)
    share: np.ndarray  # [n] the share of the variance it carries
    mean: float
    freqs: tuple[int, ...]
    noise: float

    @property
    def level(self) -> Level:
        return level(self.mean)

    @property
    def freq_words(self) -> str:
        return f"frequency {self.freqs[0]}" if len(self.freqs) == 1 else "one frequency per neuron"


def purity(waves: np.ndarray, cfg: ModelConfig) -> WavePurity:
    """waves [p(y), n] -> WavePurity."""
    k, share = wave_purity(waves)
    alive = k > 0
    mean = float(share[alive].mean()) if alive.any() else 0.0
    return WavePurity(k, share, mean, tuple(sorted(set(k[alive].tolist()))), noise_share(cfg.n_frequencies))
