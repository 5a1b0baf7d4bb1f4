"""Attention from "=" over the grid, and each head's dominant frequency."""

from __future__ import annotations

import base64

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


def test_frequency_order_turns_a_wave_of_frequency_k_into_one_smooth_wave():
    p = 113
    for k in (1, 8, 51, 112):
        order = attention.frequency_order(k, p)
        assert sorted(order) == list(range(p))
        np.testing.assert_allclose(np.cos(2 * np.pi * k * order / p), np.cos(2 * np.pi * np.arange(p) / p), atol=1e-9)
    assert attention.frequency_order(3, 12) is None  # 3 has no inverse mod 12


def test_bundled_attention_ordered_by_head_frequency_is_a_low_frequency_wave(bundled):
    """In x order a head of frequency 51 zigzags; ordered by 51·x mod p it is (mostly) one slow wave."""
    cfg = bundled.model_cfg
    cache = grid_cache(bundled.params_at(int(bundled.steps[-1])), cfg)
    to_x = attention.attention_to(cache, cfg)[..., 0].mean(1)  # [p, h]: averaged over y
    for h, k in enumerate(attention.head_frequencies(cache, cfg)):
        wave = to_x[attention.frequency_order(k, cfg.p), h]
        spectrum = np.abs(np.fft.rfft(wave - wave.mean()))
        assert spectrum.argmax() == 1, (h, k)
        assert spectrum[1] ** 2 > 0.5 * (spectrum**2).sum(), (h, k)


def test_3d_surface_in_frequency_order_draws_one_smooth_cycle():
    """At ~40 values per side a frequency-8 wave in x order is spikes; ordered by 8·x mod p it is one smooth cycle."""
    from grok_core import plots

    p, k = 113, 8
    x = np.arange(p)
    surf = np.maximum(np.cos(2 * np.pi * k * x / p)[:, None] + np.cos(2 * np.pi * k * x / p + 1)[None, :], 0)

    def roughness(fig):  # the largest jump between neighbouring drawn values, relative to their range
        z = fig.to_dict()["data"][0]["z"]  # packed as plotly's typed array: dtype, base64 bytes, shape
        z = np.frombuffer(base64.b64decode(z["bdata"]), dtype=z["dtype"]).reshape([int(n) for n in str(z["shape"]).split(",")]).astype(float)
        return max(np.abs(np.diff(z, axis=0)).max(), np.abs(np.diff(z, axis=1)).max()) / np.ptp(z)

    plain = plots.surface_3d(surf, "t", 5)
    ordered = plots.surface_3d(surf, "t", 5, order=attention.frequency_order(k, p), k=k)
    assert roughness(plain) > 0.5 and roughness(ordered) < 0.2
    assert ordered.to_dict()["layout"]["scene"]["xaxis"]["title"]["text"] == "8·x mod 113"
