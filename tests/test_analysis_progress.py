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


def _cube_direction(p: int, k: int, trig) -> np.ndarray:
    x = np.arange(p)
    d = x[:, None, None] + x[None, :, None] - x[None, None, :]  # x + y − c
    v = trig(2 * np.pi * k * d / p)
    return v / np.linalg.norm(v)


@pytest.mark.parametrize("operation", ["add", "subtract"])
def test_components_equal_brute_force_projection(operation):
    p = 7
    rng = np.random.default_rng(0)
    L = rng.normal(size=(p * p, p))
    answer = labels(p, operation)
    comps = progress.algorithm_components(progress.by_offset(torch.tensor(L)[None], answer))[0]  # [n_freq, p]
    x = np.arange(p)
    ans = answer.numpy().reshape(p, p)
    d = (ans[:, :, None] - x[None, None, :]) % p  # [p, p, p]
    cube = L.reshape(p, p, p)
    for k in range(1, (p - 1) // 2 + 1):
        want = np.zeros((p, p, p))
        for trig in (np.cos, np.sin):
            v = trig(2 * np.pi * k * d / p)
            v = v / np.linalg.norm(v)
            want += (cube * v).sum() * v
        np.testing.assert_allclose(comps[k - 1].numpy()[d], want, atol=1e-12)
    if operation == "add":  # the directions are exactly cos/sin(w_k(x + y − c))
        v = _cube_direction(p, 2, np.cos)
        np.testing.assert_allclose((comps[1].numpy()[d] * v).sum(), (cube * v).sum(), atol=1e-12)


def _nll(logits: np.ndarray, answer: np.ndarray) -> float:
    z = logits - logits.max(-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
    return float(-logp[np.arange(len(answer)), answer].mean())


def test_planted_logits():
    """Logits = key-frequency terms + another frequency + a per-problem shift (which softmax ignores)."""
    p = 23
    x = np.arange(p)
    answer = labels(p).numpy()
    c = x[None, :]
    d = (answer[:, None] - c) % p  # [p*p, p]
    algo = 4.0 * np.cos(2 * np.pi * 3 * d / p) + 3.0 * np.cos(2 * np.pi * 7 * d / p)
    other = 1.0 * np.sin(2 * np.pi * 5 * d / p)
    shift = np.random.default_rng(0).normal(size=(p * p, 1))
    L = torch.tensor(algo + other + shift)[None]  # [1, p*p, p]
    G = progress.by_offset(L, torch.from_numpy(answer))
    comps = progress.algorithm_components(G)
    key = comps[:, [2, 6]].sum(1, keepdim=True)  # frequencies 3 and 7
    np.testing.assert_allclose(key[0, 0].numpy()[d], algo, atol=1e-10)
    assert float(progress._nll(key)[0]) == pytest.approx(_nll(algo, answer))
    assert float(progress._nll(G - key)[0]) == pytest.approx(_nll(other, answer))
    assert float(progress._nll(G)[0]) == pytest.approx(_nll(algo + other, answer))


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
    assert out["train_loss"] == pytest.approx(float(ce[torch.from_numpy(mask)].mean()), rel=1e-9)
    assert out["test_loss"] == pytest.approx(float(ce[~torch.from_numpy(mask)].mean()), rel=1e-9)
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


def test_bundled_key_share_climbs_through_the_plateau(bundled):
    """The key frequencies' share of W_E: their fair share at initialisation, growing while test accuracy is at
    chance (where the count of key frequencies is still 0), and nearly everything once grokked."""
    keys = progress.final_key_frequencies(bundled)
    share = progress.key_share(bundled, keys)
    n_freq = (bundled.model_cfg.p - 1) // 2
    m = bundled.metrics
    test_acc = np.interp(bundled.steps, m["step"], m["test_acc"])
    plateau = np.flatnonzero((np.asarray(bundled.steps) > 1000) & (test_acc < 0.2))
    assert abs(share[0] - len(keys) / n_freq) < 0.05
    assert share[plateau[0]] < share[plateau[-1]] and share[plateau[-1]] > 2 * share[0]
    assert share[-1] > 0.85
    np.testing.assert_allclose(share[-1], fourier.share_of(fourier.embedding_freq_norms(
        bundled.params_at(int(bundled.steps[-1])), bundled.model_cfg), keys), rtol=1e-5)
