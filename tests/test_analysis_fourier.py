"""Fourier analysis: known answers on planted signals, then the bundled run's key frequencies."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from grok_core.analysis import fourier
from grok_core.config import ModelConfig
from grok_core.model import grid_cache

P = 113
X = np.arange(P)


def w(k):
    return 2 * np.pi * k * X / P


@pytest.mark.parametrize("p", [5, 23, 113])
def test_basis_is_orthonormal_and_named(p):
    B, names = fourier.fourier_basis(p)
    assert B.shape == (p, p)
    np.testing.assert_allclose(B @ B.T, np.eye(p), atol=1e-12)
    assert names[:3] == ["const", "cos 1", "sin 1"] and names[-1] == f"sin {(p - 1) // 2}"
    x = np.arange(p)
    np.testing.assert_allclose(B[2 * 2 - 1], np.cos(2 * np.pi * 2 * x / p) * np.sqrt(2 / p))
    np.testing.assert_allclose(B[2 * 2], np.sin(2 * np.pi * 2 * x / p) * np.sqrt(2 / p))


def test_parseval_and_inverse():
    S = np.random.default_rng(0).normal(size=(P, P))
    C = fourier.fourier_2d(S)
    B, _ = fourier.fourier_basis(P)
    np.testing.assert_allclose((C**2).sum(), (S**2).sum(), rtol=1e-10)
    np.testing.assert_allclose(B.T @ C @ B, S, atol=1e-10)


def test_fourier_2d_of_many_surfaces_at_once():
    S = np.random.default_rng(5).normal(size=(P, P, 4))
    C = fourier.fourier_2d(S)
    assert C.shape == (P, P, 4)
    for n in range(4):
        np.testing.assert_allclose(C[:, :, n], fourier.fourier_2d(S[:, :, n]), atol=1e-10)


def test_planted_product_term_is_exactly_that_term():
    k = 14
    S = 3.0 * np.outer(np.cos(w(k)), np.cos(w(k))) + 7.0  # the mean is not variance
    top = fourier.top_terms(S, n=3)
    assert top[0]["name"] == "cos 14x·cos 14y"
    assert top[0]["frac"] == pytest.approx(1.0, abs=1e-12)
    assert top[0]["coef"] == pytest.approx(3.0 * P / 2)  # each cos row of B is sqrt(2/p) cos
    assert top[1]["frac"] == pytest.approx(0.0, abs=1e-12)
    C = fourier.fourier_2d(S)
    C[2 * k - 1, 2 * k - 1] = C[0, 0] = 0
    assert np.abs(C).max() < 1e-9


def test_term_names():
    assert fourier.term_name(0, 0, P) == "const"
    assert fourier.term_name(2 * 35, 0, P) == "sin 35x"
    assert fourier.term_name(0, 2 * 41 - 1, P) == "cos 41y"
    assert fourier.term_name(2 * 14, 2 * 14 - 1, P) == "sin 14x·cos 14y"


def test_decompose_planted_surface_and_identity():
    k = 5
    parts = {"cos 5x": 2.0 * np.cos(w(k))[:, None] * np.ones(P), "sin 5x·sin 5y": -1.5 * np.outer(np.sin(w(k)), np.sin(w(k)))}
    noise_free = parts["cos 5x"] + parts["sin 5x·sin 5y"] + 0.7 * np.outer(np.cos(w(9)), np.ones(P))
    dec = fourier.decompose(noise_free, k)
    assert len(dec["terms"]) == 9
    for name, surface in parts.items():
        np.testing.assert_allclose(dec["terms"][name], surface, atol=1e-10)
    var = {"cos 5x": 2.0**2 * P * P / 2, "sin 5x·sin 5y": 1.5**2 * P * P / 4, "other": 0.7**2 * P * P / 2}
    total = sum(var.values())
    assert dec["frac"]["cos 5x"] == pytest.approx(var["cos 5x"] / total)
    assert dec["frac"]["sin 5x·sin 5y"] == pytest.approx(var["sin 5x·sin 5y"] / total)
    assert dec["frac"]["cos 5x·cos 5y"] == pytest.approx(0.0, abs=1e-12)
    ident = dec["identity"]
    assert ident["max_abs_error"] < 1e-12
    np.testing.assert_allclose(ident["cos kx·cos ky"] - ident["sin kx·sin ky"], ident["cos k(x+y)"], atol=1e-12)


def test_identity_uses_the_surface_amplitude():
    k = 7
    S = 0.5 * np.cos(w(k)[:, None] + w(k)[None, :])  # = 0.5 (cos·cos − sin·sin)
    ident = fourier.decompose(S, k)["identity"]
    assert ident["amplitude"] == pytest.approx(0.5)
    np.testing.assert_allclose(ident["cos k(x+y)"], S, atol=1e-12)


def test_freq_energy_matches_explicit_terms():
    rng = np.random.default_rng(1)
    grids = rng.normal(size=(P, P, 3))
    energy, total = fourier.freq_energy_2d(grids)
    for n in range(3):
        C = fourier.fourier_2d(grids[:, :, n])
        for k in (1, 20, 56):
            rows = [0, 2 * k - 1, 2 * k]
            want = (C[np.ix_(rows, rows)] ** 2).sum() - C[0, 0] ** 2
            assert energy[k - 1, n] == pytest.approx(want, rel=1e-4)
        assert total[n] == pytest.approx(((grids[:, :, n] - grids[:, :, n].mean()) ** 2).sum(), rel=1e-4)


def test_neuron_frequencies_planted():
    rng = np.random.default_rng(2)
    ks = [3, 17, 41, 41]
    cols = [np.cos(w(k) + 1.0)[:, None] + np.cos(w(k) + 1.0)[None, :] + 0.05 * rng.normal(size=(P, P)) for k in ks]
    cols.append(np.zeros((P, P)))  # a dead neuron
    best, frac = fourier.neuron_frequencies(np.stack(cols, -1))
    assert best.tolist() == [3, 17, 41, 41, 0]
    assert (frac[:4] > 0.95).all() and frac[4] == 0


def _planted_params(cfg: ModelConfig, freqs, rng) -> dict[str, torch.Tensor]:
    x = np.arange(cfg.p)
    W_E = 0.01 * rng.normal(size=(cfg.d_vocab, cfg.d_model))
    for i, k in enumerate(freqs):
        W_E[: cfg.p, 2 * i] += np.cos(2 * np.pi * k * x / cfg.p)
        W_E[: cfg.p, 2 * i + 1] += np.sin(2 * np.pi * k * x / cfg.p)
    return {"embed.W_E": torch.tensor(W_E, dtype=torch.float32), "pos_embed.W_pos": torch.ones(3, cfg.d_model)}


def test_embedding_norms_and_key_frequencies_planted():
    cfg = ModelConfig()
    params = _planted_params(cfg, [14, 35, 41], np.random.default_rng(3))
    norms = fourier.embedding_freq_norms(params, cfg)
    assert norms.shape == (56,)
    assert set(np.argsort(-norms)[:3] + 1) == {14, 35, 41}
    np.testing.assert_allclose(norms, fourier.embedding_freq_norms(params, cfg, position=1))  # W_pos: constant only
    assert sorted(fourier.key_frequencies(params, cfg)) == [14, 35, 41]


def test_key_frequencies_of_noise_are_none():
    norms = np.sqrt(np.random.default_rng(4).chisquare(256, size=56))
    assert fourier.key_freqs_from_norms(norms) == []


def test_bundled_final_key_frequencies(bundled):
    cfg = bundled.model_cfg
    params = bundled.params_at(int(bundled.steps[-1]))
    cache = grid_cache(params, cfg)
    from_neurons = fourier.key_frequencies(params, cfg, cache)
    from_embedding = fourier.key_freqs_from_norms(fourier.embedding_freq_norms(params, cfg))
    assert 3 <= len(from_neurons) <= 7, from_neurons
    assert sorted(from_neurons) == sorted(from_embedding)
    # Most neurons belong to a key-frequency cluster and are well explained by it.
    best, frac = fourier.neuron_frequencies(cache["blocks.0.mlp.hook_post"].reshape(cfg.p, cfg.p, -1))
    in_cluster = np.isin(best, from_neurons) & (frac > 0.5)
    assert in_cluster.mean() > 0.8, in_cluster.mean()


def test_key_frequencies_cluster_post_activations():
    """Nanda clusters the neurons after the ReLU: planted pre- and post-activations that disagree, post wins."""
    cfg = ModelConfig(p=23, d_mlp=40)
    x = np.arange(cfg.p)
    xx, yy = np.meshgrid(x, x, indexing="ij")
    rng = np.random.default_rng(0)

    def grid(ks):  # [p*p, d_mlp]: neuron n a wave of frequency ks[n % len(ks)] in x + y, plus a little noise
        cols = [np.cos(2 * np.pi * ks[n % len(ks)] * (xx + yy) / cfg.p + rng.uniform(0, 6)).ravel() for n in range(40)]
        return torch.tensor(np.stack(cols, 1) + 0.01 * rng.normal(size=(cfg.p**2, 40)))

    cache = {"blocks.0.mlp.hook_pre": grid([2, 9]), "blocks.0.mlp.hook_post": grid([4, 7])}
    assert sorted(fourier.key_frequencies({}, cfg, cache)) == [4, 7]


def test_key_freqs_from_norms_needs_both_thresholds():
    """Key: squared norm above 10× the median and at least ⅓ of the strongest (the progress panel names both)."""
    sq = np.ones(20)
    sq[[2, 5, 9]] = [100.0, 40.0, 20.0]  # 9: 20× the median but below ⅓ of 100
    assert fourier.key_freqs_from_norms(np.sqrt(sq)) == [3, 6]
    sq[[2, 5, 9]] = [9.0, 9.0, 9.0]  # ⅓ of the max, but only 9× the median
    assert fourier.key_freqs_from_norms(np.sqrt(sq)) == []


def test_bundled_start_has_no_key_frequencies(bundled):
    cfg = bundled.model_cfg
    params = bundled.params_at(0)
    assert fourier.key_frequencies(params, cfg, grid_cache(params, cfg)) == []


def test_noise_share_and_share_of():
    rng = np.random.default_rng(3)
    p = 113
    shares = [fourier.wave_purity(rng.normal(size=(p, 400)))[1].mean()]
    np.testing.assert_allclose(shares[0], fourier.noise_share((p - 1) // 2), rtol=0.05)  # white noise's best share
    norms = np.array([1.0, 2.0, 0.0, 2.0])
    assert fourier.share_of(norms, [2, 4]) == 8 / 9
    assert fourier.share_of(norms, []) == 0.0 and fourier.share_of(np.zeros(4), [1]) == 0.0
