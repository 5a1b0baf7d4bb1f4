"""Neurons on the grid: layout, waves, scatter data, and the default neurons that show loops."""

from __future__ import annotations

import numpy as np
import torch

from grok_core.analysis import fourier, neurons
from grok_core.model import forward_last, grid_cache, init_params
from tests.conftest import TINY_MODEL

P = 113
X = np.arange(P)


def test_grid_layout_matches_the_model():
    cfg = TINY_MODEL
    params = init_params(cfg, seed=0)
    cache = grid_cache(params, cfg)
    for hook in ("blocks.0.mlp.hook_pre", "blocks.0.mlp.hook_post"):
        g = neurons.neuron_grid(cache, cfg, hook)
        assert g.shape == (cfg.p, cfg.p, cfg.d_mlp)
        one: dict = {}
        forward_last(params, cfg, torch.tensor([5]), torch.tensor([17]), cache=one)
        np.testing.assert_allclose(g[5, 17], one[hook][0].numpy(), rtol=1e-5, atol=1e-6)
    g = neurons.neuron_grid(cache, cfg)
    np.testing.assert_array_equal(neurons.wave(g, 3), g[3])
    sc = neurons.scatter_grid(g, [4, 1, 9], x=2)
    assert sc.shape == (3, cfg.p)
    np.testing.assert_array_equal(sc[1], g[2, :, 1])


def _planted_grid(rng):
    """Neurons ReLU(a(cos(kx + φ) + cos(ky + φ))): 12 of frequency 5 at spread phases, 6 weaker of 9, 6 noise."""
    cols, truth = [], []
    for i in range(12):
        phi = 2 * np.pi * i / 12
        amp = 1.0 + 0.1 * i
        cols.append(amp * (np.cos(2 * np.pi * 5 * X / P + phi)[:, None] + np.cos(2 * np.pi * 5 * X / P + phi)[None, :]))
        truth.append(5)
    for i in range(6):
        phi = 2 * np.pi * i / 6
        cols.append(0.5 * (np.cos(2 * np.pi * 9 * X / P + phi)[:, None] + np.cos(2 * np.pi * 9 * X / P + phi)[None, :]))
        truth.append(9)
    cols += [0.2 * rng.normal(size=(P, P)) for _ in range(6)]
    truth += [0] * 6
    g = np.maximum(np.stack(cols, -1), 0)
    perm = rng.permutation(g.shape[-1])
    return g[:, :, perm], np.array(truth)[perm]


def test_default_neurons_pick_the_dominant_frequency_with_spread_phases():
    g, truth = _planted_grid(np.random.default_rng(0))
    chosen = neurons.default_neurons(g, n=7)
    assert len(chosen) == 7 and len(set(chosen)) == 7
    assert (truth[chosen] == 5).all()
    energy, cos, sin = neurons.wave_frequencies(g, 0)
    phase = np.arctan2(sin[4], cos[4])[chosen]
    gaps = np.abs(np.angle(np.exp(1j * (phase[:, None] - phase[None, :]))))
    assert gaps[~np.eye(7, dtype=bool)].min() > np.pi / 14


def test_default_neurons_fall_back_to_the_strongest():
    rng = np.random.default_rng(1)
    g = rng.normal(size=(P, P, 20)) * 1.5 ** np.arange(20)
    assert neurons.default_neurons(g, n=3) == [19, 18, 17]


def test_bundled_default_neurons_draw_loops(bundled):
    cfg = bundled.model_cfg
    g = neurons.neuron_grid(grid_cache(bundled.params_at(int(bundled.steps[-1])), cfg), cfg)
    chosen = neurons.default_neurons(g, n=7)
    w = neurons.scatter_grid(g, chosen, x=0)  # [7, p]
    assert (w.std(1) > 0.3).all()  # alive at x = 0: real waves, not flat lines
    w = w - w.mean(1, keepdims=True)
    thin = []
    for i in range(7):
        for j in range(i + 1, 7):
            s = np.linalg.svd(w[[i, j]].T, compute_uv=False)
            thin.append(s[1] / s[0])
    assert np.median(thin) > 0.2  # most pairs trace open loops, not lines


def test_wave_purity_of_known_waves():
    rng = np.random.default_rng(2)
    pure = 3.0 * np.cos(2 * np.pi * 7 * X / P + 0.4) + 1.0
    clipped = np.maximum(np.cos(2 * np.pi * 12 * X / P), 0)  # a ReLU neuron: half a wave, harmonics
    noise = rng.normal(size=P)
    k, share = fourier.wave_purity(np.stack([pure, clipped, noise, np.full(P, 2.0)], 1))
    assert k.tolist()[:2] == [7, 12] and k[3] == 0  # a flat line has no frequency
    np.testing.assert_allclose(share[0], 1.0, atol=1e-12)
    # max(cos, 0) = 1/π + cos/2 + (harmonics): cos carries (1/2)²/2 of its variance 1/4 - 1/π², 84%
    np.testing.assert_allclose(share[1], 0.125 / (0.25 - 1 / np.pi**2), rtol=1e-3)
    assert share[2] < 0.2 and share[3] == 0


def test_bundled_waves_become_pure_over_training(bundled):
    """The showcase neurons' waves at x = 0: noise at initialisation, growing on the plateau, ~pure once grokked."""
    cfg = bundled.model_cfg
    ys = torch.arange(cfg.p)

    def purity(step):
        c: dict = {}
        with torch.no_grad():
            forward_last(bundled.params_at(bundled.nearest_step(step)), cfg, torch.zeros_like(ys), ys, cache=c)
        k, share = fourier.wave_purity(c["blocks.0.mlp.hook_post"].numpy())
        return np.median(share)

    early, plateau, late = purity(0), purity(5000), purity(int(bundled.steps[-1]))
    assert early < 0.1 and late > 0.6
    assert early < plateau < late
