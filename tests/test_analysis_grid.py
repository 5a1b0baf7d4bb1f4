"""The whole-grid forward equals forward_last, for one model and a stack of runs."""

from __future__ import annotations

import pytest
import torch

from grok_core.analysis.grid import grid_forward
from grok_core.model import grid_cache, init_params, stack_params
from tests.conftest import TINY_MODEL


@pytest.mark.parametrize("act", ["relu", "gelu"])
def test_grid_forward_matches_forward_last(act):
    from dataclasses import replace

    cfg = replace(TINY_MODEL, act=act)
    params = init_params(cfg, seed=0)
    params = {k: v + 0.1 * torch.randn_like(v) for k, v in params.items()}  # nonzero biases too
    want = grid_cache(params, cfg)
    got: dict = {}
    logits = grid_forward(params, cfg, cache=got)
    assert set(got) == set(want)
    for name in want:
        assert got[name].shape == want[name].shape, name
        torch.testing.assert_close(got[name], want[name], rtol=1e-4, atol=1e-5, msg=name)
    torch.testing.assert_close(logits, want["logits"], rtol=1e-4, atol=1e-5)


def test_grid_forward_on_a_stack_of_runs():
    cfg = TINY_MODEL
    runs = [init_params(cfg, seed=s) for s in range(3)]
    stacked = grid_forward(stack_params(runs), cfg)
    assert stacked.shape == (3, cfg.p**2, cfg.p)
    for r, params in enumerate(runs):
        torch.testing.assert_close(stacked[r], grid_cache(params, cfg)["logits"], rtol=1e-4, atol=1e-5)
