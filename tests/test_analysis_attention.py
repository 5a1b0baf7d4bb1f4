"""Attention from "=" over the grid, and each head's dominant frequency."""

from __future__ import annotations

import numpy as np
import torch

from grok_core.analysis import attention
from grok_core.config import ModelConfig
from grok_core.model import grid_cache, init_params
from tests.conftest import TINY_MODEL


def test_attention_to_is_the_pattern_on_the_grid():
    cfg = TINY_MODEL
    cache = grid_cache(init_params(cfg, seed=1), cfg)
    att = attention.attention_to(cache, cfg)
    assert att.shape == (cfg.p, cfg.p, cfg.n_heads, 3)
    np.testing.assert_allclose(att.sum(-1), 1.0, atol=1e-6)
    np.testing.assert_allclose(att[4, 9], cache["blocks.0.attn.hook_pattern"][4 * cfg.p + 9].numpy(), rtol=1e-6)


def test_head_frequencies_planted():
    cfg = ModelConfig()
    p, x = cfg.p, np.arange(cfg.p)
    freqs = [14, 35, 41, 52]
    to_x = np.stack([0.5 + 0.3 * np.cos(2 * np.pi * k * x / p + k)[:, None] * np.ones(p) for k in freqs], -1)  # [p, p, h]
    pattern = np.stack([to_x, 1 - to_x, np.zeros_like(to_x)], -1).reshape(p * p, cfg.n_heads, 3)
    cache = {"blocks.0.attn.hook_pattern": torch.tensor(pattern)}
    assert attention.head_frequencies(cache, cfg) == freqs


def test_bundled_heads_use_key_frequencies(bundled):
    from grok_core.analysis import fourier

    cfg = bundled.model_cfg
    params = bundled.params_at(int(bundled.steps[-1]))
    cache = grid_cache(params, cfg)
    keys = fourier.key_frequencies(params, cfg, cache)
    assert set(attention.head_frequencies(cache, cfg)) <= set(keys)
