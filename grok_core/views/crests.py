"""View 7, crests: surfaces that depend only on x + y, and where their crest x + y ≡ c lies."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..analysis import crests
from ..config import ModelConfig
from .level import Level, level
from .surfaces import neuron_surface

SOURCES = ("logit", "mlp_out", "neuron")
CREST_FRACTION = 0.3  # below this share of variance on the diagonals the strongest one is not called a crest


@dataclass(frozen=True)
class CrestReading:
    source: str
    which: int  # the answer c (logit, mlp_out) or the neuron
    surface: np.ndarray  # [p, p]
    c: int  # the detected crest: x + y ≡ c (mod p)
    diagonal_fraction: float  # the surface's variance that is a function of (x + y) mod p
    points: list[tuple[int, int]]  # every (x, y) on the crest
    p: int

    @property
    def level(self) -> Level:
        return level(self.diagonal_fraction)

    @property
    def is_crest(self) -> bool:
        return self.diagonal_fraction >= CREST_FRACTION or self.source == "neuron"

    def shown_points(self, n: int = 6) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """About n points on x + y = c and on x + y = c + p (both ≡ c mod p), evenly spaced along each line."""
        lines = ([pt for pt in self.points if sum(pt) == self.c], [pt for pt in self.points if sum(pt) == self.c + self.p])
        return tuple(line[:: max(1, len(line) // n)] for line in lines)


def crest_at(params, cfg: ModelConfig, mid: dict, source: str, which: int) -> CrestReading:
    """The surface for the crests view (logit / MLP output towards answer `which`, or neuron `which`) and its crest."""
    if source == "logit":
        surface = crests.logit_surface(mid, params, cfg, which)
    elif source == "mlp_out":
        surface = crests.mlp_out_surface(mid, params, cfg, which)
    else:
        surface = neuron_surface(params, cfg, mid, which)
    surface = np.asarray(surface, dtype=np.float64)
    c = int(crests.crest(surface))
    return CrestReading(source, int(which), surface, c, float(crests.diagonal_fraction(surface)),
                        [(int(a), int(b)) for a, b in crests.crest_points(c, cfg.p)], cfg.p)
