"""View 6, surfaces and spectra: one neuron over the grid, its 2-D spectrum, its parts at frequency k."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..analysis import fourier
from ..config import ModelConfig
from ..model import grid_attention, grid_neuron
from .level import Level, level

RESID_MID = "blocks.0.hook_resid_mid"


def neuron_surface(params, cfg: ModelConfig, mid: dict, neuron: int) -> np.ndarray:
    """Neuron `neuron` over the whole grid [p(x), p(y)], from the attention half of the grid (`mid`)."""
    a = grid_neuron(params, cfg, mid[RESID_MID], int(neuron))
    return a.numpy().reshape(cfg.p, cfg.p).astype(np.float64)


@dataclass(frozen=True)
class SpectrumReading:
    surface: np.ndarray  # [p, p]
    coefs: np.ndarray  # [p, p] its 2-D Fourier coefficients
    top: list[dict]  # the 8 largest terms: name, coef, frac
    parts: list[tuple[str, np.ndarray]]  # the surface minus its mean, then its 4 largest components at k
    identity: dict  # the trig identity's four surfaces (fourier.decompose)
    k_share: float  # the variance in the 8 terms of frequency k

    @property
    def level(self) -> Level:
        return level(self.k_share)


def spectrum_at(surface: np.ndarray, neuron: int, k: int) -> SpectrumReading:
    dec = fourier.decompose(surface, int(k))
    biggest = sorted(dec["terms"], key=lambda n: -dec["frac"].get(n, 0.0))[:4]
    parts = [(f"neuron #{neuron} − mean", surface - surface.mean())]
    parts += [(f"{n} ({dec['frac'].get(n, 0.0):.0%})", np.asarray(dec["terms"][n])) for n in biggest]
    return SpectrumReading(surface, np.asarray(fourier.fourier_2d(surface)), list(fourier.top_terms(surface, n=8)),
                           parts, dec["identity"], float(sum(dec["frac"].values())))


def frames_over_training(series, neuron: int, n_frames: int = 16) -> list[tuple[int, np.ndarray]]:
    """The neuron's surface at n_frames checkpoints spread over training (one attention pass each)."""
    idx = np.unique(np.linspace(0, len(series.steps) - 1, n_frames).round().astype(int))
    out = []
    for i in idx:
        params = series.params_at(int(series.steps[i]))
        out.append((int(series.steps[i]), neuron_surface(params, series.model_cfg,
                                                         grid_attention(params, series.model_cfg), neuron)))
    return out
