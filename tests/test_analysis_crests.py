"""Crests: functions of x + y on the grid, their crest c, the points along it, the model's logits."""

from __future__ import annotations

import numpy as np
import pytest

from grok_core.analysis import crests
from grok_core.model import grid_cache

P = 113
X = np.arange(P)
XY = X[:, None] + X[None, :]


def test_planted_diagonal_wave_is_fully_diagonal_with_crest_at_zero():
    S = np.cos(2 * np.pi * 5 * XY / P)
    assert crests.diagonal_fraction(S) == pytest.approx(1.0, abs=1e-12)
    assert crests.crest(S) == 0


@pytest.mark.parametrize("c", [0, 1, 65, 112])
def test_shifted_crest_is_found(c):
    rng = np.random.default_rng(c)
    # Like the model's logits: several frequencies in phase only on x + y ≡ c (one frequency k alone
    # also nearly peaks where k(x + y − c) ≡ ±1, so noise could move its crest far away).
    S = sum(np.cos(2 * np.pi * k * (XY - c) / P) for k in (14, 35, 41)) + 0.3 * rng.normal(size=(P, P))
    assert crests.crest(S) == c
    assert 0.8 < crests.diagonal_fraction(S) < 1.0


def test_functions_of_x_alone_or_x_minus_y_are_not_diagonal():
    assert crests.diagonal_fraction(np.cos(2 * np.pi * 4 * X / P)[:, None] * np.ones(P)) == pytest.approx(0, abs=1e-12)
    assert crests.diagonal_fraction(np.cos(2 * np.pi * 4 * (X[:, None] - X[None, :]) / P)) == pytest.approx(0, abs=1e-12)
    assert crests.diagonal_fraction(np.ones((P, P))) == 0.0


def test_diagonal_profile():
    prof = crests.diagonal_profile(((XY % P) == 65).astype(float))
    assert prof.shape == (P,) and prof[65] == pytest.approx(1.0) and prof.sum() == pytest.approx(1.0)


def test_crest_points_walk_both_lines():
    pts = crests.crest_points(65, P)
    assert len(pts) == P and all((x + y) % P == 65 for x, y in pts)
    assert pts[0] == (0, 65) and pts[20] == (20, 45) and pts[65] == (65, 0) and pts[66] == (66, 112)
    assert pts[-1] == (112, 66)
    assert [x for x, _ in pts] == list(range(P))
    few = crests.crest_points(65, P, n=5)
    assert len(few) == 5 and few[0] == (0, 65) and few[-1] == (112, 66)
    assert all((x + y) % P == 65 for x, y in few)


def test_bundled_logits_and_mlp_output_crest_at_the_answer(bundled):
    cfg = bundled.model_cfg
    params = bundled.params_at(int(bundled.steps[-1]))
    cache = grid_cache(params, cfg)
    for c in (0, 65):
        logit = crests.logit_surface(cache, params, cfg, c)
        assert logit.shape == (P, P)
        assert crests.crest(logit) == c
        assert crests.diagonal_fraction(logit) > 0.9
        mlp = crests.mlp_out_surface(cache, params, cfg, c)
        assert crests.crest(mlp) == c and crests.diagonal_fraction(mlp) > 0.9
    early = grid_cache(bundled.params_at(200), cfg)
    assert crests.diagonal_fraction(crests.logit_surface(early, bundled.params_at(200), cfg, 65)) < 0.2
    # read along one direction from resid_mid = the same surface as from the full logits
    full = cache["logits"][:, 65] - cache["logits"].mean(1)
    np.testing.assert_allclose(crests.logit_surface(cache, params, cfg, 65).ravel(), full.numpy(), rtol=1e-4,
                               atol=1e-4 * float(full.abs().max()))
