"""Attention from "=" to the two inputs, over the grid, and each head's frequency.

In the trained model each head's attention to x (versus y) is itself a wave in x at one key
frequency: attention already mixes the Fourier features of x and y before the MLP multiplies them.
"""

from __future__ import annotations

import numpy as np

from ..config import ModelConfig
from .fourier import _best_frequency, freq_energy_2d, to_numpy


def attention_to(cache, cfg: ModelConfig) -> np.ndarray:
    """Attention from "=" to x, y and "=" for every problem: [p(x), p(y), n_heads, 3]."""
    pattern = to_numpy(cache["blocks.0.attn.hook_pattern"])  # [p*p, n_heads, 3]
    return pattern.reshape(cfg.p, cfg.p, cfg.n_heads, 3)


def head_frequencies(cache, cfg: ModelConfig) -> list[int]:
    """Each head's dominant frequency: the k carrying most of the variance of its attention to x."""
    return [int(k) for k in head_frequency_shares(cache, cfg)[0]]


def head_frequency_shares(cache, cfg: ModelConfig) -> tuple[np.ndarray, np.ndarray]:
    """Each head's dominant frequency k and the share of its attention-to-x variance (over the grid) k carries."""
    to_x = attention_to(cache, cfg)[..., 0]  # [p, p, n_heads]
    return _best_frequency(*freq_energy_2d(to_x))


def frequency_order(k: int, p: int) -> np.ndarray | None:
    """The values 0..p-1 ordered by k·v mod p: position j holds v = j·k⁻¹ mod p.

    A wave of frequency k in v, cos(2πkv/p), is then the single smooth wave cos(2πj/p) along j, so a
    pattern that looks like fine stripes or a checkerboard in v order shows its shape. None when k
    has no inverse mod p (k a multiple of a factor of p; never for prime p and 0 < k < p).
    """
    try:
        inv = pow(int(k), -1, int(p))
    except ValueError:
        return None
    return (np.arange(p) * inv) % p
