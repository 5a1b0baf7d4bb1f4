"""View 8, attention: how '=' splits its attention, per head, and each head's frequency."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..analysis import attention as att
from ..config import ModelConfig
from .level import Level, level


@dataclass(frozen=True)
class AttentionReading:
    to_x: np.ndarray  # [p, p, n_heads] attention from '=' to x for every problem
    head_freqs: list[int]
    head_shares: np.ndarray  # [n_heads] the share of each head's pattern its frequency carries

    @property
    def mean_share(self) -> float:
        return float(self.head_shares.mean())

    @property
    def level(self) -> Level:
        return level(self.mean_share)

    def orders(self, p: int) -> list[np.ndarray | None]:
        """Per head, x ordered by k·x mod p for that head's frequency k (a wave of k becomes one smooth wave)."""
        return [att.frequency_order(k, p) for k in self.head_freqs]


def attention_at(mid: dict, cfg: ModelConfig) -> AttentionReading:
    ks, shares = att.head_frequency_shares(mid, cfg)
    return AttentionReading(np.asarray(att.attention_to(mid, cfg))[..., 0], [int(k) for k in ks], np.asarray(shares))
