"""Progress measures: the projection against brute force, planted logits, caching, and the bundled run's story."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from grok_core.analysis import fourier, progress
from grok_core.config import TrainConfig
from grok_core.data import labels, split_mask
from grok_core.model import init_params
from grok_core.series import JSON_NAME, SeriesWriter, open_series
from tests.conftest import TINY_MODEL


# -- the paper's definition, transcribed --------------------------------------------------------
def _paper_basis(p: int) -> np.ndarray:
    """make_fourier_basis: rows const, cos 1, sin 1, ..., each normalised."""
    x = np.arange(p)
    rows = [np.ones(p)]
    for k in range(1, p // 2 + 1):
        rows += [np.cos(2 * np.pi * k * x / p), np.sin(2 * np.pi * k * x / p)]
    return np.stack([r / np.linalg.norm(r) for r in rows])


def _paper_trig_logits(logits: np.ndarray, keys, p: int) -> np.ndarray:
    """sum over keys of get_component_cos_xpy + get_component_sin_xpy (fourier_2d_basis_term directions)."""
    B = _paper_basis(p)

    def term(a, b):
        return np.outer(B[a], B[b]).flatten()

    out = np.zeros_like(logits)
    for k in keys:
        cos_xpy = (term(2 * k - 1, 2 * k - 1) - term(2 * k, 2 * k)) / np.sqrt(2)
        sin_xpy = (term(2 * k, 2 * k - 1) + term(2 * k - 1, 2 * k)) / np.sqrt(2)
        for v in (cos_xpy, sin_xpy):
            out += v[:, None] @ v[None, :] @ logits
    return out


def _nll(logits: np.ndarray, answer: np.ndarray) -> float:
    """cross_entropy_high_precision, in numpy."""
    z = logits - logits.max(-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
    return float(-logp[np.arange(len(answer)), answer].mean())


def test_directions_are_the_papers_cos_and_sin_of_x_plus_y():
    p = 13
    V = progress.trig_directions(p, [2, 5]).numpy()  # [2, 2, p*p]
    x, y = np.divmod(np.arange(p * p), p)
    np.testing.assert_allclose(V @ V.reshape(4, -1).T, np.eye(4).reshape(2, 2, 4), atol=1e-12)  # orthonormal
    B = _paper_basis(p)
    for i, k in enumerate([2, 5]):
        cos_xpy = (np.outer(B[2 * k - 1], B[2 * k - 1]) - np.outer(B[2 * k], B[2 * k])).flatten() / np.sqrt(2)
        np.testing.assert_allclose(V[i, 0], cos_xpy, atol=1e-12)
        np.testing.assert_allclose(V[i, 1], np.sin(2 * np.pi * k * (x + y) / p) * np.sqrt(2) / p, atol=1e-12)


@pytest.mark.parametrize("operation", ["add", "subtract"])
def test_trig_losses_equal_the_papers_code_on_random_logits(operation):
    """calculate_trig_loss (bias_correction=True, mode='all') and calculate_excluded_loss, line by line."""
    p, keys = 11, [1, 4]
    rng = np.random.default_rng(0)
    L = rng.normal(size=(p * p, p)) * 3
    answer = labels(p, operation).numpy()
    train = rng.random(p * p) < 0.3
    got = progress.trig_losses(torch.tensor(L)[None], torch.from_numpy(answer), torch.from_numpy(train), keys, operation)
    if operation == "add":  # the paper's directions are functions of x + y
        trig = _paper_trig_logits(L, keys, p)
        restricted = (L - trig).mean(0, keepdims=True) + trig  # test_logits' bias correction
        assert float(got["restricted_loss"][0]) == pytest.approx(_nll(restricted, answer), rel=1e-12)
        assert float(got["excluded_loss"][0]) == pytest.approx(_nll((L - trig)[train], answer[train]), rel=1e-12)
        for i, k in enumerate(keys):
            one = _paper_trig_logits(L, [k], p)
            assert float(got["excluded_loss_per_freq"][0, i]) == pytest.approx(_nll((L - one)[train], answer[train]))
    # Any operation: the trig part is each answer column's least-squares fit on cos/sin(w_k a) (a: the answer).
    w = 2 * np.pi * np.array(keys) / p
    A = np.concatenate([np.cos(w * answer[:, None]), np.sin(w * answer[:, None])], axis=1)  # [p*p, 2 n_key]
    fit = A @ np.linalg.lstsq(A, L, rcond=None)[0]
    assert float(got["restricted_loss"][0]) == pytest.approx(_nll(fit + L.mean(0), answer), rel=1e-10)
    assert float(got["excluded_loss"][0]) == pytest.approx(_nll((L - fit)[train], answer[train]), rel=1e-10)


def _orthogonal_noise(rng, p: int, answer: np.ndarray, keys, scale: float) -> np.ndarray:
    """Noise [p*p, p] with every column orthogonal to the constant and to cos/sin(w_k a) for the keys."""
    w = 2 * np.pi * np.array(keys) / p
    A = np.concatenate([np.ones((p * p, 1)), np.cos(w * answer[:, None]), np.sin(w * answer[:, None])], axis=1)
    Q = np.linalg.qr(A)[0]
    N = rng.normal(size=(p * p, p)) * scale
    return N - Q @ (Q.T @ N)


def test_planted_logits_known_answer():
    """Logits = the algorithm at the key frequencies + per-answer biases + another frequency + noise.

    By construction the trig part is exactly the algorithm and each answer's mean logit exactly its
    bias, so restricted loss = CE(algorithm + bias) on all problems and excluded loss = CE(bias + other
    + noise) on the train problems, and removing one key frequency leaves the other in the logits.
    """
    p, keys = 23, [3, 7]
    rng = np.random.default_rng(1)
    answer = labels(p).numpy()
    d = (answer[:, None] - np.arange(p)[None, :]) % p  # [p*p, p]: (x + y − c) mod p
    algo = 8.0 * np.cos(2 * np.pi * 3 * d / p) + 6.0 * np.cos(2 * np.pi * 7 * d / p)
    other = 1.5 * np.cos(2 * np.pi * 5 * d / p)  # a non-key frequency: the excluded logits keep it
    bias = rng.normal(size=(1, p))
    noise = _orthogonal_noise(rng, p, answer, keys, 0.5)
    L = algo + bias + other + noise
    train = np.zeros(p * p, dtype=bool)
    train[rng.permutation(p * p)[: int(0.3 * p * p)]] = True
    got = progress.trig_losses(torch.tensor(L)[None], torch.from_numpy(answer), torch.from_numpy(train), keys)
    assert float(got["restricted_loss"][0]) == pytest.approx(_nll(algo + bias, answer), rel=1e-10)
    assert float(got["excluded_loss"][0]) == pytest.approx(_nll((bias + other + noise)[train], answer[train]), rel=1e-10)
    only_7 = 6.0 * np.cos(2 * np.pi * 7 * d / p)
    assert float(got["excluded_loss_per_freq"][0, 0]) == pytest.approx(
        _nll((only_7 + bias + other + noise)[train], answer[train]), rel=1e-10)
    # And the numbers say what they should: the algorithm alone answers, the rest does not.
    assert float(got["restricted_loss"][0]) < 0.2 < 2 < float(got["excluded_loss"][0])


def test_planted_closed_form():
    """One key frequency, logits A·cos(w(x + y − c)) and nothing else: the trig part is all of it, and
    restricted loss = log Σ_d exp(A cos(w d)) − A in closed form; the excluded logits are 0: log p."""
    p, k, A = 17, 4, 6.0
    answer = labels(p).numpy()
    d = (answer[:, None] - np.arange(p)[None, :]) % p
    L = A * np.cos(2 * np.pi * k * d / p)
    got = progress.trig_losses(torch.tensor(L)[None], torch.from_numpy(answer), torch.ones(p * p, dtype=torch.bool), [k])
    closed = np.log(np.exp(A * np.cos(2 * np.pi * k * np.arange(p) / p)).sum()) - A
    assert float(got["restricted_loss"][0]) == pytest.approx(closed, rel=1e-12)
    assert float(got["excluded_loss"][0]) == pytest.approx(np.log(p), rel=1e-12)


def test_gini():
    assert float(progress.gini(torch.ones(10))) == pytest.approx(0.0)
    assert float(progress.gini(torch.tensor([0.0, 0, 0, 5]))) == pytest.approx(0.75)
    g = progress.gini(torch.tensor([[1.0, 1, 1, 1], [0, 0, 0, 1]]))
    assert g.shape == (2,) and float(g[1]) == pytest.approx(0.75)


def test_checkpoint_progress_agrees_with_recomputed_losses():
    cfg = TINY_MODEL
    params = init_params(cfg, seed=3)
    mask = split_mask(cfg.p, 0.6, 7)
    out = progress.checkpoint_progress(params, cfg, mask, [2, 5])
    assert set(out) == set(progress.MEASURES)
    idx = torch.arange(cfg.p**2)
    from grok_core.model import forward_last

    logits = forward_last(params, cfg, idx // cfg.p, idx % cfg.p).double()
    ce = torch.nn.functional.cross_entropy(logits, labels(cfg.p), reduction="none")
    # grid_forward and forward_last compute the float32 logits in a different order (they differ by an ulp)
    assert out["train_loss"] == pytest.approx(float(ce[torch.from_numpy(mask)].mean()), rel=1e-6)
    assert out["test_loss"] == pytest.approx(float(ce[~torch.from_numpy(mask)].mean()), rel=1e-6)
    assert out["sum_sq_weights"] == pytest.approx(sum(float((v.double() ** 2).sum()) for v in params.values()))
    assert 0 <= out["gini"] < 1 and out["n_key_freqs"] == 0


# -- caching a whole series --------------------------------------------------------------------
def _tiny_series(path, complete=True, n=3):
    cfg = TINY_MODEL
    tcfg = TrainConfig(frac_train=0.6, n_steps=20, schedule=((10**9, 10),), device="cpu")
    w = SeriesWriter(path, cfg, tcfg, split_mask(cfg.p, tcfg.frac_train, tcfg.data_seed))
    for i in range(n):
        w.add_checkpoint(10 * i, init_params(cfg, seed=i))
        w.add_metrics(10 * i, dict(train_loss=1.0, test_loss=1.0, train_acc=0.0, test_acc=0.0))
    w.flush(complete=complete)
    return open_series(path)


@pytest.fixture
def user_cache(tmp_path, monkeypatch):
    d = tmp_path / "user-cache"
    monkeypatch.setenv("GROK_CORE_CACHE", str(d))
    return d


def _no_compute(monkeypatch):
    def boom(*a, **k):
        raise AssertionError("recomputed although a cached result exists")

    monkeypatch.setattr(progress, "compute_series_progress", boom)


def test_series_progress_is_one_batched_result_cached_with_the_series(tmp_path, user_cache, monkeypatch):
    s = _tiny_series(tmp_path / "s")
    out = progress.series_progress(s, key_freqs=None)
    assert out["step"].tolist() == [0, 10, 20]
    for k in progress.MEASURES:
        assert out[k].shape == (3,)
    assert out["excluded_loss_per_freq"].shape == (3, len(out["key_freqs"]))
    one = progress.checkpoint_progress(s.params_at(10), s.model_cfg, s.train_mask, out["key_freqs"].tolist())
    for k in progress.MEASURES:
        assert out[k][1] == pytest.approx(one[k], rel=1e-6)
    assert s.path.joinpath("progress.safetensors").is_file()
    assert "progress" in json.loads((s.path / JSON_NAME).read_text())["extras"]
    assert not user_cache.exists()
    _no_compute(monkeypatch)
    for again in (s, open_series(s.path)):  # the same object (stale meta) and a fresh one
        hit = progress.series_progress(again)
        for k in out:
            np.testing.assert_array_equal(hit[k], out[k])


def test_read_only_series_falls_back_to_the_user_cache(tmp_path, user_cache, monkeypatch):
    s = _tiny_series(tmp_path / "s")

    def read_only(*a, **k):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(progress, "add_extra", read_only)
    before = (s.path / JSON_NAME).read_bytes()
    out = progress.series_progress(s)
    assert (s.path / JSON_NAME).read_bytes() == before
    files = list(user_cache.rglob("progress.safetensors"))
    assert len(files) == 1
    _no_compute(monkeypatch)
    np.testing.assert_array_equal(progress.series_progress(open_series(s.path))["excluded_loss"], out["excluded_loss"])


def test_partial_series_and_stale_caches_are_not_trusted(tmp_path, user_cache, monkeypatch):
    s = _tiny_series(tmp_path / "s", complete=False)
    progress.series_progress(s)
    assert not (s.path / "progress.safetensors").exists() and not user_cache.exists()  # still training: no writes
    full = _tiny_series(tmp_path / "full", n=3)
    progress.series_progress(full)
    short = _tiny_series(tmp_path / "short", n=2)
    (short.path / "progress.safetensors").write_bytes((full.path / "progress.safetensors").read_bytes())
    assert progress.series_progress(short, cache=False)["step"].tolist() == [0, 10]
    assert progress.series_progress(short)["step"].tolist() == [0, 10]  # other steps: recomputed
    out = progress.series_progress(full, key_freqs=[1, 2])  # other key frequencies: recomputed, not cached
    assert out["key_freqs"].tolist() == [1, 2] and out["excluded_loss_per_freq"].shape == (3, 2)


# -- the bundled run ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def bundled_story(bundled):
    """Measures at a few checkpoints across the run (the whole series is the benchmark's job)."""
    m = bundled.metrics
    steps = bundled.steps
    test_loss = np.interp(steps, m["step"], m["test_loss"])
    test_acc = np.interp(steps, m["step"], m["test_acc"])
    memorised = int(steps[np.argmax(np.interp(steps, m["step"], m["train_acc"]) >= 0.99)])
    plateau = steps[(steps >= memorised) & (test_acc < 0.2)]  # memorised; test accuracy still near chance
    pick = sorted({memorised, *plateau[:: max(1, len(plateau) // 3)].tolist(), int(plateau[-1]), int(steps[-1])})
    keys = progress.final_key_frequencies(bundled)
    parts = []
    for a in range(0, len(pick), 2):
        many = [bundled.params_at(int(s)) for s in pick[a : a + 2]]
        stacked = {k: torch.stack([p[k] for p in many]) for k in many[0]}
        parts.append(progress.batch_progress(stacked, bundled.model_cfg, bundled.train_mask, keys))
    out = {k: torch.cat([part[k] for part in parts]).numpy() for k in parts[0]}
    out["step"] = np.array(pick)
    out["test_loss_metric"] = test_loss[np.searchsorted(steps, pick)]
    return out, keys


def test_bundled_final_restricted_and_excluded_loss(bundled, bundled_story):
    out, keys = bundled_story
    assert 3 <= len(keys) <= 7
    f = bundled.train_mask.mean()
    full = (f * out["train_loss"] + (1 - f) * out["test_loss"])[-1]  # over all problems, like the restricted loss
    assert out["restricted_loss"][-1] < full, (out["restricted_loss"][-1], full)
    assert out["excluded_loss"][-1] > 1.0 > 1e3 * out["train_loss"][-1]
    assert out["n_key_freqs"][-1] == len(keys)
    assert out["gini"][-1] > 0.5 > out["gini"][0]


def test_bundled_excluded_loss_rises_while_test_loss_is_flat(bundled_story):
    out, _ = bundled_story
    plateau = out["step"][:-1]  # memorised, test accuracy still below 20%
    exc = out["excluded_loss"][:-1]
    low = int(np.argmin(exc))
    assert low < len(plateau) - 1
    assert exc[-1] > 100 * exc[low], dict(zip(plateau.tolist(), exc.tolist()))
    # ... while test loss has not fallen: still far above chance (log p) and above its value at the low point.
    assert out["test_loss_metric"][-2] > 2 * np.log(113)
    assert out["test_loss_metric"][-2] > 0.5 * out["test_loss_metric"][low]


def test_bundled_restricted_loss_falls_before_the_cliff(bundled_story):
    """The key-frequency part alone comes to answer the sums while the whole model still fails on unseen ones."""
    out, _ = bundled_story
    r, test = out["restricted_loss"][:-1], out["test_loss_metric"][:-1]  # memorised, test accuracy below 20%
    assert r[0] > 1.0  # at memorisation the key frequencies alone do not answer
    assert np.all(np.diff(r) < 0), r  # ... and then carry more and more of the answer
    assert r[-1] < 0.1 * r[0] and r[-1] < 0.1 < np.log(113) < test[-1], (r.tolist(), test.tolist())
    assert np.all(r < test)


def test_bundled_cache_is_the_papers_definition(bundled, bundled_story, monkeypatch):
    """The committed progress cache is read (not recomputed) and equals a fresh computation."""
    out, keys = bundled_story
    _no_compute(monkeypatch)
    cached = progress.series_progress(bundled)
    assert cached["key_freqs"].tolist() == keys
    i = np.searchsorted(cached["step"], out["step"])
    # float32 matmuls take different kernels on different CPUs (the cache was written on another machine):
    # agreement to float32 rounding, far below any difference of definition (those move the losses by > 1%)
    for k in ("restricted_loss", "excluded_loss", "test_loss", "excluded_loss_per_freq"):
        np.testing.assert_allclose(cached[k][i], out[k], rtol=1e-6, atol=1e-9)


def test_bundled_key_share_climbs_through_the_plateau(bundled):
    """The key frequencies' share of W_E: their fair share at initialisation, growing while test accuracy is at
    chance (where the count of key frequencies is still 0), and nearly everything once grokked."""
    keys = progress.final_key_frequencies(bundled)
    share = progress.key_share(bundled, keys)
    n_freq = bundled.model_cfg.n_frequencies
    m = bundled.metrics
    test_acc = np.interp(bundled.steps, m["step"], m["test_acc"])
    plateau = np.flatnonzero((np.asarray(bundled.steps) > 1000) & (test_acc < 0.2))
    assert abs(share[0] - len(keys) / n_freq) < 0.05
    assert share[plateau[0]] < share[plateau[-1]] and share[plateau[-1]] > 2 * share[0]
    assert share[-1] > 0.85
    np.testing.assert_allclose(share[-1], fourier.share_of(fourier.embedding_freq_norms(
        bundled.params_at(int(bundled.steps[-1])), bundled.model_cfg), keys), rtol=1e-5)


def test_key_frequency_count_panel_names_both_thresholds():
    from grok_core import plots

    steps = np.array([0, 10, 20])
    prog = {"step": steps, "sum_sq_weights": np.ones(3), "gini": np.zeros(3), "n_key_freqs": np.array([0, 1, 5])}
    fig = plots.progress_panels(prog, 10, [])
    layout = fig.to_dict()["layout"] if hasattr(fig, "to_dict") else fig["layout"]
    title = next(a["text"] for a in layout["annotations"] if "Key frequencies:" in a["text"])
    assert "10×" in title and "the median" in title and "⅓ of the max" in title  # key_freqs_from_norms' two tests
