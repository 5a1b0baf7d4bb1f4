"""The model: TransformerLens names and shapes, the fast last-position path against the plain
forward, batched runs against single runs, and agreement with an independent implementation
(TransformerLens itself when installed, and always a from-scratch einsum forward in Nanda's layout)."""

from __future__ import annotations

import math

import pytest
import torch

from grok_core.config import ModelConfig
from grok_core.data import all_tokens
from grok_core.model import (
    Transformer,
    forward_last,
    grid_cache,
    init_params,
    run_with_cache,
    stack_params,
    tl_state_dict,
    to_hooked_transformer,
)
from tests.conftest import TINY_MODEL


@pytest.fixture(autouse=True, scope="module")
def _one_thread(one_cpu_thread):
    yield


CFG = TINY_MODEL  # p = 23, d_model 32, 4 heads of 8, d_mlp 64
LAST_HOOKS = ("blocks.0.hook_attn_out", "blocks.0.hook_resid_mid", "blocks.0.mlp.hook_pre", "blocks.0.mlp.hook_post",
              "blocks.0.hook_mlp_out", "blocks.0.hook_resid_post", "logits")


def _params(seed=0, scale=1.0, cfg=CFG):
    """Initial parameters, scaled up so attention is far from uniform (like a trained model)."""
    return {k: v * scale for k, v in init_params(cfg, seed).items()}


def test_parameter_names_and_shapes_follow_transformer_lens():
    params = init_params(CFG, seed=0)
    m, h, dh, f, p = CFG.d_model, CFG.n_heads, CFG.d_head, CFG.d_mlp, CFG.p
    assert {k: tuple(v.shape) for k, v in params.items()} == {
        "embed.W_E": (p + 1, m),
        "pos_embed.W_pos": (3, m),
        "blocks.0.attn.W_Q": (h, m, dh),
        "blocks.0.attn.W_K": (h, m, dh),
        "blocks.0.attn.W_V": (h, m, dh),
        "blocks.0.attn.W_O": (h, dh, m),
        "blocks.0.mlp.W_in": (m, f),
        "blocks.0.mlp.b_in": (f,),
        "blocks.0.mlp.W_out": (f, m),
        "blocks.0.mlp.b_out": (m,),
        "unembed.W_U": (m, p),
    }
    assert all(v.dtype == torch.float32 for v in params.values())
    nanda = ModelConfig()
    assert (nanda.d_vocab, nanda.d_vocab_out, nanda.n_params) == (114, 113, sum(
        math.prod(s) for s in nanda.param_shapes().values()))


def test_init_is_seeded_and_nanda_scaled():
    a, b, c = init_params(CFG, 1), init_params(CFG, 1), init_params(CFG, 2)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["embed.W_E"], c["embed.W_E"])
    big = init_params(ModelConfig(), 0)
    assert big["embed.W_E"].std().item() == pytest.approx(1 / math.sqrt(128), rel=0.02)
    assert big["unembed.W_U"].std().item() == pytest.approx(1 / math.sqrt(114), rel=0.02)
    assert float(big["blocks.0.mlp.b_in"].abs().max()) == 0.0


def test_grid_cache_hook_names_and_shapes():
    cache = grid_cache(init_params(CFG, 0), CFG)
    n, p, m, h, f = CFG.p**2, CFG.p, CFG.d_model, CFG.n_heads, CFG.d_mlp
    shapes = {k: tuple(v.shape) for k, v in cache.items()}
    assert shapes == {
        "blocks.0.attn.hook_pattern": (n, h, 3),
        "blocks.0.hook_attn_out": (n, m),
        "blocks.0.hook_resid_mid": (n, m),
        "blocks.0.mlp.hook_pre": (n, f),
        "blocks.0.mlp.hook_post": (n, f),
        "blocks.0.hook_mlp_out": (n, m),
        "blocks.0.hook_resid_post": (n, m),
        "logits": (n, p),
    }
    assert torch.allclose(cache["blocks.0.attn.hook_pattern"].sum(-1), torch.ones(n, h))


def test_run_with_cache_hook_names_and_shapes():
    tokens = all_tokens(CFG.p)[:10]
    logits, c = run_with_cache(init_params(CFG, 0), CFG, tokens)
    b, m, h, dh, f = 10, CFG.d_model, CFG.n_heads, CFG.d_head, CFG.d_mlp
    assert logits.shape == (b, 3, CFG.p)
    want = {
        "hook_embed": (b, 3, m), "hook_pos_embed": (b, 3, m), "blocks.0.hook_resid_pre": (b, 3, m),
        "blocks.0.attn.hook_q": (b, 3, h, dh), "blocks.0.attn.hook_k": (b, 3, h, dh),
        "blocks.0.attn.hook_v": (b, 3, h, dh), "blocks.0.attn.hook_attn_scores": (b, h, 3, 3),
        "blocks.0.attn.hook_pattern": (b, h, 3, 3), "blocks.0.attn.hook_z": (b, 3, h, dh),
        "blocks.0.hook_attn_out": (b, 3, m), "blocks.0.hook_resid_mid": (b, 3, m),
        "blocks.0.mlp.hook_pre": (b, 3, f), "blocks.0.mlp.hook_post": (b, 3, f),
        "blocks.0.hook_mlp_out": (b, 3, m), "blocks.0.hook_resid_post": (b, 3, m), "logits": (b, 3, CFG.p),
    }
    assert {k: tuple(v.shape) for k, v in c.items()} == want
    # Causal: the first position attends only to itself.
    assert torch.allclose(c["blocks.0.attn.hook_pattern"][:, :, 0, 0], torch.ones(b, h))


@pytest.mark.parametrize("scale", [1.0, 4.0])
def test_fast_path_equals_plain_forward_at_the_last_position(scale):
    params = _params(seed=3, scale=scale)
    _, plain = run_with_cache(params, CFG, all_tokens(CFG.p))
    fast = grid_cache(params, CFG)
    # Attention is far from uniform at scale 4 (so the lookup tables are really exercised).
    if scale > 1:
        assert float(fast["blocks.0.attn.hook_pattern"].max()) > 0.9
    assert torch.allclose(fast["blocks.0.attn.hook_pattern"], plain["blocks.0.attn.hook_pattern"][:, :, -1, :], atol=1e-6)
    for k in LAST_HOOKS:
        ref = plain[k][:, -1]
        assert torch.allclose(fast[k], ref, rtol=1e-5, atol=1e-5 * float(ref.abs().max())), k


def test_forward_last_on_a_subset_matches_the_grid_rows():
    params = _params(seed=1, scale=3.0)
    grid = grid_cache(params, CFG)["logits"]
    x, y = torch.tensor([0, 5, 22, 7]), torch.tensor([0, 17, 22, 3])
    # Two computations (row gathers vs batched matmuls over the grid): equal up to float32 rounding.
    assert torch.allclose(forward_last(params, CFG, x, y), grid[x * CFG.p + y], rtol=1e-5,
                          atol=1e-5 * float(grid.abs().max()))


def test_batched_runs_equal_single_runs():
    many = [_params(seed=s, scale=3.0) for s in range(3)]
    stacked = stack_params(many)
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, CFG.p, (3, 50), generator=g)
    y = torch.randint(0, CFG.p, (3, 50), generator=g)
    cache: dict = {}
    out = forward_last(stacked, CFG, x, y, cache=cache)  # per-run problems [R, batch]
    assert out.shape == (3, 50, CFG.p) and cache["blocks.0.mlp.hook_post"].shape == (3, 50, CFG.d_mlp)
    for r in range(3):
        assert torch.allclose(out[r], forward_last(many[r], CFG, x[r], y[r]), atol=1e-6)
    # The same problems for every run: [batch] broadcasts over the runs.
    shared = forward_last(stacked, CFG, x[0], y[0])
    for r in range(3):
        assert torch.allclose(shared[r], forward_last(many[r], CFG, x[0], y[0]), atol=1e-6)


def _nanda_forward(params, cfg: ModelConfig, tokens: torch.Tensor) -> torch.Tensor:
    """An independent forward written the way Nanda's original code lays out the weights
    (W_E [d_model, d_vocab], W_O [d_model, n_heads*d_head], W_in [d_mlp, d_model], ...), with
    explicit loops over heads and an explicit causal mask: shares no code with grok_core.model."""
    W_E = params["embed.W_E"].T  # [d_model, d_vocab]
    W_pos = params["pos_embed.W_pos"]  # [n_ctx, d_model]
    W_Q = params["blocks.0.attn.W_Q"].transpose(1, 2)  # [h, d_head, d_model]
    W_K = params["blocks.0.attn.W_K"].transpose(1, 2)
    W_V = params["blocks.0.attn.W_V"].transpose(1, 2)
    W_O = params["blocks.0.attn.W_O"].reshape(cfg.n_heads * cfg.d_head, cfg.d_model).T  # [d_model, h*d_head]
    W_in = params["blocks.0.mlp.W_in"].T  # [d_mlp, d_model]
    W_out = params["blocks.0.mlp.W_out"].T  # [d_model, d_mlp]
    W_U = params["unembed.W_U"]  # [d_model, p]
    x = torch.einsum("dbp->bpd", W_E[:, tokens]) + W_pos  # [batch, pos, d_model]
    zs = []
    n = tokens.shape[1]
    for h in range(cfg.n_heads):
        q = torch.einsum("im,bpm->bpi", W_Q[h], x)
        k = torch.einsum("im,bpm->bpi", W_K[h], x)
        v = torch.einsum("im,bpm->bpi", W_V[h], x)
        scores = torch.einsum("bpi,bqi->bpq", q, k) / math.sqrt(cfg.d_head)
        scores = scores + torch.triu(torch.full((n, n), -1e10), diagonal=1)
        zs.append(torch.einsum("bpq,bqi->bpi", torch.softmax(scores, -1), v))
    x = x + torch.einsum("dz,bpz->bpd", W_O, torch.cat(zs, -1))
    hidden = torch.relu(torch.einsum("md,bpd->bpm", W_in, x) + params["blocks.0.mlp.b_in"])
    x = x + torch.einsum("dm,bpm->bpd", W_out, hidden) + params["blocks.0.mlp.b_out"]
    return x @ W_U


def test_independent_einsum_forward_gives_the_same_logits():
    params = _params(seed=5, scale=3.0)
    tokens = all_tokens(CFG.p)
    ours, _ = run_with_cache(params, CFG, tokens)
    ref = _nanda_forward(params, CFG, tokens)
    assert torch.allclose(ours, ref, atol=1e-5 * float(ref.abs().max()))
    assert torch.allclose(grid_cache(params, CFG)["logits"], ref[:, -1], atol=1e-5 * float(ref.abs().max()))


def test_nn_module_view_has_transformer_lens_state_dict():
    params = _params(seed=2)
    model = Transformer(CFG, params)
    assert set(model.state_dict()) == set(CFG.param_shapes())
    tokens = all_tokens(CFG.p)[:40]
    assert torch.allclose(model(tokens), run_with_cache(params, CFG, tokens)[0])
    extra = tl_state_dict(params, CFG)
    assert {"blocks.0.attn.b_Q", "blocks.0.attn.b_O", "unembed.b_U"} <= set(extra)
    assert all(float(extra[k].abs().max()) == 0 for k in extra if k not in params)


def test_transformer_lens_hooked_transformer_gives_the_same_logits():
    pytest.importorskip("transformer_lens", reason="transformer-lens not installed (requirements-dev.txt)")
    import warnings

    params = _params(seed=4, scale=3.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TransformerLens 3.x deprecates HookedTransformer in favour of its bridge
        model = to_hooked_transformer(params, CFG)
    tokens = all_tokens(CFG.p)
    with torch.no_grad():
        tl_logits, tl_cache = model.run_with_cache(tokens)
    ours, cache = run_with_cache(params, CFG, tokens)
    scale = float(ours.abs().max())
    assert torch.allclose(tl_logits, ours, atol=1e-5 * scale)
    for k in ("blocks.0.attn.hook_pattern", "blocks.0.mlp.hook_post", "blocks.0.hook_resid_post"):
        assert torch.allclose(tl_cache[k], cache[k], atol=1e-5 * max(1.0, float(cache[k].abs().max()))), k
    assert torch.allclose(tl_logits[:, -1], grid_cache(params, CFG)["logits"], atol=1e-5 * scale)
