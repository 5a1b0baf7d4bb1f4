"""View 5, embeddings and probes: the Fourier norms of W_E, the probe circles, the key frequencies' share."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..analysis import fourier, probes
from ..config import ModelConfig
from .level import Level, level


@dataclass(frozen=True)
class ProbeFit:
    fit: np.ndarray  # [p] the probe's value for each input value
    dims: tuple[int, ...]  # the embedding dimensions it combines
    r2: float  # the share of the true wave's variance it explains


@dataclass(frozen=True)
class EmbeddingReading:
    k: int
    norms: np.ndarray  # [n_frequencies] strength of W_E per frequency, index k-1 = frequency k
    probes: dict[str, tuple[ProbeFit, ProbeFit]]  # "x" / "y" -> (cos probe, sin probe)

    @property
    def r2(self) -> dict[str, tuple[float, float]]:
        return {v: (c.r2, s.r2) for v, (c, s) in self.probes.items()}

    @property
    def r2_mean(self) -> float:
        return float(np.mean([r for pair in self.r2.values() for r in pair]))

    @property
    def fits(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        return {v: (c.fit, s.fit) for v, (c, s) in self.probes.items()}


def embedding_at(params, cfg: ModelConfig, k: int) -> EmbeddingReading:
    """Fourier norms of W_E per frequency, and the cos/sin probes of frequency k for x and for y."""
    norms = np.asarray(fourier.embedding_freq_norms(params, cfg, position=0))
    out = {}
    for pos, var in enumerate(("x", "y")):
        cos, sin = probes.circle_probes(params, cfg, int(k), position=pos)
        out[var] = tuple(ProbeFit(np.asarray(r.fit), tuple(int(d) for d in r.dims), float(r.r2)) for r in (cos, sin))
    return EmbeddingReading(int(k), norms, out)


@dataclass(frozen=True)
class KeyShare:
    """How much of the embedding's strength the key frequencies hold, against their fair share."""

    share: float  # of the squared norms
    fair: float  # the share they would have if every frequency were equal
    n_keys: int

    @property
    def level(self) -> Level:
        return level(self.share, cuts=(2 * self.fair, 0.8))


def key_share(reading: EmbeddingReading, key_freqs: list[int]) -> KeyShare:
    return KeyShare(fourier.share_of(reading.norms, key_freqs), len(key_freqs) / len(reading.norms), len(key_freqs))
