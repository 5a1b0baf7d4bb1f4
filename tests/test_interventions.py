"""Interventions: each cut against its definition (planted logits, brute-force projections, a zeroed W_out),
then on real models: a tiny one that groks on the CPU and the bundled run (all key frequencies removed:
accuracy collapses; just one removed: it survives)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from grok_core.analysis import correctness, fourier
from grok_core.analysis import interventions as iv
from grok_core.data import labels
from grok_core.model import grid_cache, grid_forward, init_params
from grok_core.train import train_series
from tests.conftest import GROK_MODEL, TINY_MODEL, grok_train


@pytest.fixture(autouse=True, scope="module")
def _one_thread(one_cpu_thread):
    yield


def _answer(p: int) -> np.ndarray:
    return labels(p).numpy()


# -- (b) the paper's excluded-loss projection ---------------------------------------------------------
def test_sum_directions_are_orthonormal_and_are_cos_sin_of_x_plus_y():
    p, ks = 23, [3, 7, 11]
    V = iv.sum_directions(p, ks)  # [6, p*p]
    np.testing.assert_allclose((V @ V.T).numpy(), np.eye(6), atol=1e-12)
    x = np.arange(p)
    want = np.cos(2 * np.pi * 7 * (x[:, None] + x[None, :]) / p).ravel()  # not reduced mod p: the same vector
    np.testing.assert_allclose(V[2].numpy(), want / np.linalg.norm(want), atol=1e-12)


def test_logits_without_equals_brute_force_projection_per_answer():
    """Each answer's column of p² logits minus its projection on the unit cos/sin(w_k(x+y)) vectors, one by one."""
    p, ks = 11, [2, 5]
    L = np.random.default_rng(0).normal(size=(p * p, p))
    s = _answer(p)
    want = L.copy()
    for c in range(p):
        for k in ks:
            for trig in (np.cos, np.sin):
                v = trig(2 * np.pi * k * s / p)
                v = v / np.linalg.norm(v)
                want[:, c] -= (L[:, c] @ v) * v
    np.testing.assert_allclose(iv.logits_without(torch.tensor(L), ks).numpy(), want, atol=1e-12)


def test_planted_logits_excluded_loss():
    """Logits = the algorithm at k = 3 (any amplitude and phase per answer) + frequency 5 + a per-problem shift."""
    p = 23
    s = _answer(p).astype(float)[:, None]  # [p*p, 1]
    c = np.arange(p)[None, :]
    rng = np.random.default_rng(1)
    algo = 6.0 * np.cos(2 * np.pi * 3 * (s - c) / p) + rng.normal(size=(1, p)) * np.sin(2 * np.pi * 3 * s / p)
    other = 2.0 * np.cos(2 * np.pi * 5 * (s - c) / p)
    shift = rng.normal(size=(p * p, 1))
    L = torch.tensor(algo + other + shift)
    answer = labels(p)
    left = iv.logits_without(L, [3]).numpy() - other  # the shift, less its own part along cos/sin(3(x+y))
    np.testing.assert_allclose(left, left[:, :1].repeat(p, 1), atol=1e-10)  # constant over answers: softmax ignores it
    mask = np.arange(p * p) % 3 == 0
    # What is left is frequency 5 alone, whose loss is known in closed form from its own logits.
    want = float(F.cross_entropy(torch.tensor(other)[torch.from_numpy(mask)], answer[torch.from_numpy(mask)]))
    assert iv.excluded_loss(L, answer, mask, [3]) == pytest.approx(want, rel=1e-9)
    # Removing every frequency leaves the shift only, constant over answers: loss log p, accuracy by ties.
    every = list(range(1, (p - 1) // 2 + 1))
    assert iv.excluded_loss(L, answer, mask, every) == pytest.approx(np.log(p), rel=1e-9)


def test_scores_match_cross_entropy():
    p = 7
    L = torch.randn(p * p, p, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    answer, mask = labels(p), np.arange(p * p) % 2 == 0
    sc = iv.scores(L, answer, mask)
    m = torch.from_numpy(mask)
    assert sc.train_loss == pytest.approx(float(F.cross_entropy(L[m], answer[m])))
    assert sc.test_loss == pytest.approx(float(F.cross_entropy(L[~m], answer[~m])))
    assert sc.test_acc == pytest.approx(float((L[~m].argmax(-1) == answer[~m]).double().mean()))


def test_float32_loss_keeps_tiny_losses():
    """A loss of ~1e-9 survives float32 logits (logsumexp − logit would round it to 0 or to noise)."""
    L = torch.full((4, 7), -10.0, dtype=torch.float64)
    answer = torch.tensor([0, 3, 6, 2])
    L[torch.arange(4), answer] = 10.0  # each wrong answer 20 below: loss log(1 + 6 e^-20) ≈ 1.236e-8
    want = torch.log1p(6 * torch.exp(torch.tensor(-20.0, dtype=torch.float64)))
    torch.testing.assert_close(iv.nll(L, answer), want.expand(4), rtol=1e-12, atol=0)
    torch.testing.assert_close(iv.nll(L.float(), answer).double(), want.expand(4), rtol=1e-6, atol=0)


# -- (a) the embedding, (c) the neurons ------------------------------------------------------------------
def test_embedding_without_removes_exactly_those_frequencies():
    cfg = TINY_MODEL
    params = init_params(cfg, seed=0)
    cut = iv.embedding_without(params, cfg, [2, 9])
    B = fourier.basis_tensor(cfg.p)
    before, after = B @ params["embed.W_E"][: cfg.p].double(), B @ cut["embed.W_E"][: cfg.p].double()  # [p, d_model]
    gone = [3, 4, 17, 18]  # cos 2, sin 2, cos 9, sin 9
    assert float(after[gone].abs().max()) < 1e-6
    kept = [r for r in range(cfg.p) if r not in gone]
    torch.testing.assert_close(after[kept], before[kept], atol=1e-6, rtol=0)
    assert torch.equal(cut["embed.W_E"][cfg.p], params["embed.W_E"][cfg.p])  # "=" is not a number
    assert torch.equal(params["embed.W_E"], init_params(cfg, seed=0)["embed.W_E"])  # the input is not modified


@pytest.mark.parametrize("neurons", [[0, 5, 17, 40], list(range(3, 60))])  # few: subtracted; most: rebuilt
def test_zeroed_neurons_equal_a_model_without_their_output_weights(neurons):
    cfg = TINY_MODEL
    params = init_params(cfg, seed=1)
    params["blocks.0.mlp.b_in"] += 0.3  # more neurons alive at initialisation
    params["blocks.0.mlp.b_out"] += 0.1
    cache = grid_cache(params, cfg)
    zeroed = dict(params)
    zeroed["blocks.0.mlp.W_out"] = params["blocks.0.mlp.W_out"].clone()
    zeroed["blocks.0.mlp.W_out"][neurons] = 0
    torch.testing.assert_close(iv.logits_without_neurons(cache, params, neurons), grid_forward(zeroed, cfg),
                               atol=1e-5, rtol=1e-5)


def test_bad_cuts_are_refused_with_the_valid_range():
    cfg = TINY_MODEL
    params = init_params(cfg, seed=0)
    cache = grid_cache(params, cfg)
    mask = np.ones(cfg.p**2, dtype=bool)
    with pytest.raises(ValueError, match=r"frequencies are 1 … 11"):
        iv.intervene("logits", [12], params, cfg, cache, mask)
    with pytest.raises(ValueError, match=r"neurons are 0 … 63"):
        iv.intervene("neurons", [64], params, cfg, cache, mask)
    half = np.arange(cfg.p**2) % 2 == 0
    twice = iv.intervene("embedding", [3, 3], params, cfg, cache, half)
    assert twice.removed == (3,) and twice.after == iv.intervene("embedding", [3], params, cfg, cache, half).after
    with pytest.raises(ValueError, match="unknown intervention"):
        iv.intervene("attention", [1], params, cfg, cache, mask)


def test_default_cuts():
    assert iv.default_cuts([14, 35, 41]) == [((14, 35, 41), "all 3 key frequencies (14, 35, 41)"),
                                             ((41,), "only frequency 41")]
    assert iv.default_cuts([14]) == [((14,), "key frequency 14")]
    assert iv.default_cuts([]) == []
    cuts = iv.default_cuts([14, 35], "neurons", {14: [1, 2], 35: [7], 3: [9]})
    assert cuts == [((1, 2, 7), "the 3 neurons of all 2 key frequencies (14, 35)"),
                    ((7,), "only the 1 neurons of frequency 35")]


# -- real models --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_grokked(tmp_path_factory):
    """GROK_MODEL, seed 2: test accuracy 100% at step 1,000, three key frequencies (8, 5, 9)."""
    s = train_series(tmp_path_factory.mktemp("grok") / "run", GROK_MODEL,
                     grok_train(seed=2, n_steps=1000, schedule=((10**9, 500),)), progress=False)
    params = s.params_at(1000)
    cache = grid_cache(params, GROK_MODEL)
    return s, params, cache, fourier.key_frequencies(params, GROK_MODEL, cache)


@pytest.mark.slow
@pytest.mark.parametrize("kind", iv.KINDS)
def test_tiny_model_all_key_frequencies_collapse_one_survives(tiny_grokked, kind):
    s, params, cache, keys = tiny_grokked
    assert keys == [8, 5, 9]
    full = iv.frequency_clusters(cache, GROK_MODEL)  # every neuron's full 2-D spectrum
    assert iv.frequency_clusters(cache, GROK_MODEL, ks=keys) == {k: full[k] for k in full if k in keys}
    every, one = iv.default_comparison(kind, params, GROK_MODEL, cache, s.train_mask, keys)
    assert every.before.test_acc == 1.0 and every.before.train_acc == 1.0
    assert every.after.test_acc < 0.15 and every.after.train_acc < 0.15  # chance is 1/31 = 3%
    assert every.after.test_loss > 2.0 > 100 * every.before.test_loss
    assert one.removed == ((9,) if kind != "neurons" else one.removed) and one.after.test_acc > 0.6
    cmap = correctness.from_predictions(every.predicted_after, s.train_mask, 1000)
    assert cmap.counts["test, right"] == int(every.correct_after[~s.train_mask].sum())
    assert cmap.test_acc == pytest.approx(every.after.test_acc)


def test_bundled_run_loses_its_answer_without_its_key_frequencies(bundled):
    """Step 25,000 of the bundled run: key frequencies 51, 8, 29, 34, 27 (its progress cache)."""
    cfg = bundled.model_cfg
    params = bundled.params_at(25000)
    cache = grid_cache(params, cfg)
    keys = [51, 8, 29, 34, 27]
    for kind in ("embedding", "logits"):
        every, one = iv.default_comparison(kind, params, cfg, cache, bundled.train_mask, keys)
        assert every.before.test_acc > 0.999
        assert every.after.test_acc < 0.05, kind  # 1.2% (embedding), 1.8% (logits); chance 0.9%
        assert one.removed == (27,) and one.after.test_acc > 0.99, kind
    # The neurons of the five clusters carry it too; one cluster (frequency 27's 81 neurons) is not missed.
    every, one = iv.default_comparison("neurons", params, cfg, cache, bundled.train_mask, keys)
    assert every.after.test_acc < 0.1 and len(one.removed) == 81 and one.after.test_acc > 0.99
