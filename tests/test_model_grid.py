"""The whole-grid forward (batched matmuls) equals forward_last (row gathers) on every problem, for one model and a
stack of runs; its attention half, readout and single neuron agree with the full grid."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from grok_core.model import (
    forward_last,
    grid_attention,
    grid_cache,
    grid_forward,
    grid_neuron,
    grid_readout,
    init_params,
    stack_params,
)
from tests.conftest import TINY_MODEL


def _params(cfg, seed=0):
    params = init_params(cfg, seed=seed)
    g = torch.Generator().manual_seed(seed + 100)
    return {k: v + 0.1 * torch.randn(v.shape, generator=g) for k, v in params.items()}  # nonzero biases too


def _reference(params, cfg) -> dict:
    """forward_last on all p*p problems in row-major order: the gather path, an independent computation."""
    idx = torch.arange(cfg.p * cfg.p)
    cache: dict = {}
    with torch.no_grad():
        forward_last(params, cfg, idx // cfg.p, idx % cfg.p, cache=cache)
    return cache


@pytest.mark.parametrize("act", ["relu", "gelu"])
def test_grid_cache_matches_forward_last(act):
    cfg = replace(TINY_MODEL, act=act)
    params = _params(cfg)
    want = _reference(params, cfg)
    got = grid_cache(params, cfg)
    assert set(got) == set(want)
    for name in want:
        assert got[name].shape == want[name].shape, name
        torch.testing.assert_close(got[name], want[name], rtol=1e-4, atol=1e-5, msg=name)
    att = grid_attention(params, cfg)
    for name, value in att.items():
        torch.testing.assert_close(value, want[name], rtol=1e-4, atol=1e-5, msg=name)


def test_grid_forward_on_a_stack_of_runs():
    cfg = TINY_MODEL
    runs = [_params(cfg, seed=s) for s in range(3)]
    stacked = grid_forward(stack_params(runs), cfg)
    assert stacked.shape == (3, cfg.p**2, cfg.p)
    for r, params in enumerate(runs):
        torch.testing.assert_close(stacked[r], _reference(params, cfg)["logits"], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("act", ["relu", "gelu"])
def test_readout_and_one_neuron_match_the_full_grid(act):
    cfg = replace(TINY_MODEL, act=act)
    params = _params(cfg, seed=1)
    full = grid_cache(params, cfg)
    resid_mid = grid_attention(params, cfg)["blocks.0.hook_resid_mid"]
    c = 5
    direction = params["unembed.W_U"][:, c] - params["unembed.W_U"].mean(1)
    logit = full["logits"][:, c] - full["logits"].mean(1)
    torch.testing.assert_close(grid_readout(params, cfg, resid_mid, direction), logit, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(grid_readout(params, cfg, resid_mid, direction, mlp_only=True),
                               full["blocks.0.hook_mlp_out"] @ direction, rtol=1e-4, atol=1e-5)
    for n in (0, 7, cfg.d_mlp - 1):
        torch.testing.assert_close(grid_neuron(params, cfg, resid_mid, n), full["blocks.0.mlp.hook_post"][:, n])
        torch.testing.assert_close(grid_neuron(params, cfg, resid_mid, n, post=False),
                                   full["blocks.0.mlp.hook_pre"][:, n], rtol=1e-5, atol=1e-6)
