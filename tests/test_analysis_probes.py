"""Sparse linear probes: recover a planted sparse combination; the bundled run's circles appear with grokking."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from grok_core.analysis import fourier, probes
from grok_core.config import ModelConfig


def test_recovers_planted_sparse_combination():
    rng = np.random.default_rng(0)
    feats = rng.normal(size=(113, 128))
    target = 2.0 * feats[:, 7] - 0.5 * feats[:, 40] + 1.25 * feats[:, 99] + 3.0
    r = probes.sparse_probe(feats, target, max_dims=8)
    assert sorted(r.dims) == [7, 40, 99]  # stops once the fit is exact
    got = dict(zip(r.dims, r.weights))
    assert got[7] == pytest.approx(2.0) and got[40] == pytest.approx(-0.5) and got[99] == pytest.approx(1.25)
    assert r.bias == pytest.approx(3.0)
    assert r.r2 == pytest.approx(1.0)
    np.testing.assert_allclose(r.fit, target, atol=1e-9)
    np.testing.assert_allclose(r.target, target)


def test_respects_max_dims_and_reports_r2():
    rng = np.random.default_rng(1)
    feats = rng.normal(size=(113, 64))
    target = rng.normal(size=113)
    r = probes.sparse_probe(feats, target, max_dims=4)
    assert len(r.dims) == 4 and len(set(r.dims)) == 4 and r.weights.shape == (4,)
    resid = target - r.fit
    assert r.r2 == pytest.approx(1 - (resid**2).sum() / ((target - target.mean()) ** 2).sum())
    assert 0 <= r.r2 < 0.5  # noise is not fitted by four dimensions


def test_constant_features_are_ignored():
    feats = np.zeros((23, 5))
    feats[:, 2] = np.arange(23)
    r = probes.sparse_probe(feats, 2 * np.arange(23.0), max_dims=8)
    assert r.dims == [2] and r.r2 == pytest.approx(1.0)


def test_circle_probes_on_planted_embedding():
    cfg = ModelConfig()
    x = np.arange(cfg.p)
    rng = np.random.default_rng(2)
    W_E = 0.05 * rng.normal(size=(cfg.d_vocab, cfg.d_model))
    W_E[: cfg.p, 10] += np.cos(2 * np.pi * 14 * x / cfg.p) + np.sin(2 * np.pi * 14 * x / cfg.p)
    W_E[: cfg.p, 20] += np.cos(2 * np.pi * 14 * x / cfg.p) - np.sin(2 * np.pi * 14 * x / cfg.p)
    params = {"embed.W_E": torch.tensor(W_E, dtype=torch.float32), "pos_embed.W_pos": torch.randn(3, cfg.d_model)}
    for position in (0, 1):
        cos, sin = probes.circle_probes(params, cfg, 14, position=position)
        assert cos.r2 > 0.99 and sin.r2 > 0.99
        assert {10, 20} <= set(cos.dims) and {10, 20} <= set(sin.dims)
        radius = np.hypot(cos.fit, sin.fit)
        assert np.abs(radius - 1).max() < 0.1  # the probe pair draws a circle


def test_bundled_probes_reach_a_circle_only_after_grokking(bundled):
    cfg = bundled.model_cfg
    final = bundled.params_at(int(bundled.steps[-1]))
    keys = fourier.key_freqs_from_norms(fourier.embedding_freq_norms(final, cfg))
    assert keys
    early = bundled.params_at(200)
    for k, position in [(k, 0) for k in keys] + [(keys[0], 1)]:  # x for every key frequency, y for one
        end = probes.circle_probes(final, cfg, k, position=position)
        start = probes.circle_probes(early, cfg, k, position=position)
        assert min(r.r2 for r in end) > 0.9, (k, position, [r.r2 for r in end])
        assert max(r.r2 for r in start) < 0.9, (k, position, [r.r2 for r in start])
        assert all(len(r.dims) <= 8 for r in end + start)
