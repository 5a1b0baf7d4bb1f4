"""Nanda's one-layer transformer with TransformerLens parameter and hook names.

Parameters live in a plain dict `{tl_name: tensor}` so the same functions serve one model, a
stack of checkpoints, or many runs trained at once (an optional leading run dimension `[R, ...]`).

Two forwards:
- `forward_last` is the fast path used for training and analysis: only the last position ("=")
  feeds the MLP and unembedding, and its query is the same for every problem, so attention
  reduces to lookups in [p, n_heads] score tables and [p, n_heads, d_model] output tables.
- `run_with_cache` is the plain TransformerLens-style forward over all positions, used to check
  the fast path and to show the inputs view.
On the whole p×p grid, `grid_cache` / `grid_forward` compute the same as `forward_last` with
batched matmuls; `grid_attention` is their cheap attention half, and `grid_readout` / `grid_neuron`
read one output direction or one neuron from it without running the whole MLP.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .config import ModelConfig

Params = dict[str, torch.Tensor]


def init_params(cfg: ModelConfig, seed: int, device="cpu", dtype=torch.float32) -> Params:
    """Nanda's initialisation (randn / sqrt(fan)), drawn on the CPU so every device gets the same numbers."""
    g = torch.Generator().manual_seed(int(seed))
    m = cfg.d_model
    scale = {
        "embed.W_E": 1 / math.sqrt(m),
        "pos_embed.W_pos": 1 / math.sqrt(m),
        "blocks.0.attn.W_Q": 1 / math.sqrt(m),
        "blocks.0.attn.W_K": 1 / math.sqrt(m),
        "blocks.0.attn.W_V": 1 / math.sqrt(m),
        "blocks.0.attn.W_O": 1 / math.sqrt(m),
        "blocks.0.mlp.W_in": 1 / math.sqrt(m),
        "blocks.0.mlp.b_in": 0.0,
        "blocks.0.mlp.W_out": 1 / math.sqrt(m),
        "blocks.0.mlp.b_out": 0.0,
        "unembed.W_U": 1 / math.sqrt(cfg.d_vocab),
    }
    params = {}
    for name, shape in cfg.param_shapes().items():
        t = torch.randn(shape, generator=g, dtype=torch.float32) * scale[name]
        params[name] = t.to(device=device, dtype=dtype)
    return params


def stack_params(many: list[Params]) -> Params:
    """[R, ...] stacked parameters for training R runs at once."""
    return {k: torch.stack([p[k] for p in many]) for k in many[0]}


def _act(cfg: ModelConfig, x: torch.Tensor) -> torch.Tensor:
    return F.relu(x) if cfg.act == "relu" else F.gelu(x)


def _rows(table: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """table[idx] for idx [batch], or table[r, idx[r]] for a leading run dim (idx [R, batch]).

    Through F.embedding rather than indexing: the backward of advanced indexing accumulates
    with atomics / unordered threads (different bits on every run, so no exact resume), while
    embedding's backward is deterministic on the CPU and on CUDA.
    """
    if idx.dim() == 1:
        return F.embedding(idx, table.flatten(1)).view(*idx.shape, *table.shape[1:])
    R, p = table.shape[:2]
    offsets = torch.arange(R, device=idx.device).unsqueeze(1) * p  # run r's rows start at r * p
    return F.embedding(idx + offsets, table.flatten(2).flatten(0, 1)).view(*idx.shape, *table.shape[2:])


def attention_tables(params: Params, cfg: ModelConfig) -> dict[str, torch.Tensor]:
    """The last position's attention, precomputed per input value.

    scores_x/scores_y [..., p, h]: score from "=" to x (position 0) or y (position 1);
    score_eq [..., h]; out_x/out_y [..., p, h, d_model]: each head's output (W_V then W_O)
    when it attends fully to x or y; out_eq [..., h, d_model]; resid_eq [..., d_model].
    """
    W_E, W_pos = params["embed.W_E"], params["pos_embed.W_pos"]
    W_Q, W_K = params["blocks.0.attn.W_Q"], params["blocks.0.attn.W_K"]
    W_V, W_O = params["blocks.0.attn.W_V"], params["blocks.0.attn.W_O"]
    p = cfg.p
    e_x = W_E[..., :p, :] + W_pos[..., 0:1, :]  # [..., p, m]
    e_y = W_E[..., :p, :] + W_pos[..., 1:2, :]  # [..., p, m]
    e_eq = W_E[..., p, :] + W_pos[..., 2, :]  # [..., m]
    q = torch.einsum("...m,...hmd->...hd", e_eq, W_Q) / math.sqrt(cfg.d_head)  # [..., h, d_head]
    WO_V = torch.einsum("...hmd,...hdn->...hmn", W_V, W_O)  # [..., h, m, m]: OV circuit
    qk = torch.einsum("...hd,...hmd->...hm", q, W_K)  # [..., h, m]: what "=" looks for
    return {
        "scores_x": torch.einsum("...pm,...hm->...ph", e_x, qk),
        "scores_y": torch.einsum("...pm,...hm->...ph", e_y, qk),
        "score_eq": torch.einsum("...m,...hm->...h", e_eq, qk),
        "out_x": torch.einsum("...pm,...hmn->...phn", e_x, WO_V),
        "out_y": torch.einsum("...pm,...hmn->...phn", e_y, WO_V),
        "out_eq": torch.einsum("...m,...hmn->...hn", e_eq, WO_V),
        "resid_eq": e_eq,
    }


def forward_last(params: Params, cfg: ModelConfig, x: torch.Tensor, y: torch.Tensor, cache: dict | None = None):
    """Logits at the last position for problems (x, y): [..., batch, d_vocab_out].

    x, y: [batch], or [R, batch] for stacked runs with different problems per run. Pass a dict as `cache` to receive the
    last-position activations under TransformerLens hook names (without the position axis).
    """
    t = attention_tables(params, cfg)
    runs = params["embed.W_E"].shape[:-2]  # () for one model, (R,) for stacked runs
    if runs and x.dim() == 1:  # the same problems for every run
        x, y = x.expand(*runs, -1), y.expand(*runs, -1)
    s = torch.stack(
        [_rows(t["scores_x"], x), _rows(t["scores_y"], y), t["score_eq"].unsqueeze(-2).expand(*x.shape, -1)],
        dim=-1,
    )  # [..., batch, h, 3]
    pattern = s.softmax(dim=-1)
    # Elementwise products and a sum over heads: einsum would become one tiny matmul per problem.
    attn_out = (
        (pattern[..., 0, None] * _rows(t["out_x"], x)).sum(-2)
        + (pattern[..., 1, None] * _rows(t["out_y"], y)).sum(-2)
        + pattern[..., 2] @ t["out_eq"]
    )  # [..., batch, d_model]
    resid_mid = t["resid_eq"].unsqueeze(-2) + attn_out  # [..., batch, d_model]
    pre = resid_mid @ params["blocks.0.mlp.W_in"] + params["blocks.0.mlp.b_in"].unsqueeze(-2)  # [..., batch, d_mlp]
    post = _act(cfg, pre)
    mlp_out = post @ params["blocks.0.mlp.W_out"] + params["blocks.0.mlp.b_out"].unsqueeze(-2)
    resid_post = resid_mid + mlp_out
    logits = resid_post @ params["unembed.W_U"]  # [..., batch, d_vocab_out]
    if cache is not None:
        cache.update(
            {
                "blocks.0.attn.hook_pattern": pattern,  # [..., batch, h, 3]: from "=" to x, y, "="
                "blocks.0.hook_attn_out": attn_out,
                "blocks.0.hook_resid_mid": resid_mid,
                "blocks.0.mlp.hook_pre": pre,
                "blocks.0.mlp.hook_post": post,
                "blocks.0.hook_mlp_out": mlp_out,
                "blocks.0.hook_resid_post": resid_post,
                "logits": logits,
            }
        )
    return logits


def _mm_bias(bias: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """a @ b + bias in one call, for one model ([n, k] @ [k, m]) or a stack ([R, n, k] @ [R, k, m])."""
    bias = bias.unsqueeze(-2)  # [..., 1, m]: the same for every problem
    return torch.addmm(bias, a, b) if a.dim() == 2 else torch.baddbmm(bias, a, b)


# The whole p×p grid of problems, row-major (x*p + y). `forward_last` serves any batch by gathering each
# problem's rows of the attention tables; on the full grid those rows repeat in a pattern (for a fixed x,
# all p problems share out_x[x]), so attention becomes three batched matmuls and the MLP biases fold into
# the matmuls: the same numbers as forward_last (float32 rounding aside), about 1.7x faster on the CPU.
@torch.no_grad()
def grid_attention(params: Params, cfg: ModelConfig) -> dict[str, torch.Tensor]:
    """The attention half on all p*p problems: pattern [..., p*p, h, 3], attn_out and resid_mid [..., p*p, d_model].

    Cheap next to the MLP; enough for attention patterns, and (with `grid_readout` or one column of W_in)
    for any single neuron or output direction without computing the whole MLP.
    """
    t = attention_tables(params, cfg)
    scores = torch.stack(
        torch.broadcast_tensors(
            t["scores_x"][..., :, None, :],  # [..., p(x), 1, h]
            t["scores_y"][..., None, :, :],  # [..., 1, p(y), h]
            t["score_eq"][..., None, None, :],  # [..., 1, 1, h]
        ),
        dim=-1,
    )  # [..., p, p, h, 3]
    pattern = (scores - scores.amax(-1, keepdim=True)).exp_()  # the softmax by hand: torch's ran 4x slower
    pattern.div_(pattern.sum(-1, keepdim=True))  # on an axis of 3 (the same numbers to float32 rounding)
    attn_out = (
        pattern[..., 0] @ t["out_x"]  # over x: [..., p(x), p(y), h] @ [..., p(x), h, m]
        + (pattern[..., 1].transpose(-3, -2) @ t["out_y"]).transpose(-3, -2)  # over y, likewise
        + pattern[..., 2] @ t["out_eq"].unsqueeze(-3)  # [..., p, p, h] @ [..., 1, h, m]
    )  # [..., p, p, d_model]
    return {
        "blocks.0.attn.hook_pattern": pattern.flatten(-4, -3),  # [..., p*p, h, 3]: from "=" to x, y, "="
        "blocks.0.hook_attn_out": attn_out.flatten(-3, -2),
        "blocks.0.hook_resid_mid": (attn_out + t["resid_eq"][..., None, None, :]).flatten(-3, -2),
    }


@torch.no_grad()
def grid_forward(params: Params, cfg: ModelConfig, cache: dict | None = None) -> torch.Tensor:
    """Logits at "=" for all p*p problems: [..., p*p, d_vocab_out]; params may carry a leading run dim [R, ...].

    Pass a dict as `cache` to receive every activation under the hook names of `forward_last`.
    """
    att = grid_attention(params, cfg)
    resid_mid = att["blocks.0.hook_resid_mid"]
    pre = _mm_bias(params["blocks.0.mlp.b_in"], resid_mid, params["blocks.0.mlp.W_in"])  # [..., p*p, d_mlp]
    post = pre.relu_() if cache is None and cfg.act == "relu" else _act(cfg, pre)  # in place when pre is not kept
    mlp_out = _mm_bias(params["blocks.0.mlp.b_out"], post, params["blocks.0.mlp.W_out"])  # [..., p*p, d_model]
    resid_post = resid_mid + mlp_out if cache is not None else mlp_out.add_(resid_mid)
    logits = resid_post @ params["unembed.W_U"]  # [..., p*p, d_vocab_out]
    if cache is not None:
        cache.update(att)
        cache.update({"blocks.0.mlp.hook_pre": pre, "blocks.0.mlp.hook_post": post, "blocks.0.hook_mlp_out": mlp_out,
                      "blocks.0.hook_resid_post": resid_post, "logits": logits})
    return logits


def grid_cache(params: Params, cfg: ModelConfig) -> dict[str, torch.Tensor]:
    """Last-position activations for all p*p problems (row-major x*p+y), TransformerLens names."""
    cache: dict = {}
    grid_forward(params, cfg, cache)
    return cache


@torch.no_grad()
def grid_readout(params: Params, cfg: ModelConfig, resid_mid: torch.Tensor, direction: torch.Tensor,
                 mlp_only: bool = False) -> torch.Tensor:
    """resid_post · direction (or mlp_out · direction) for every problem, [p*p], from `grid_attention`'s resid_mid.

    The MLP output is only read along `direction` [d_model], so W_out folds into one vector and
    neither the MLP output nor the logits of every answer are materialised.
    """
    post = _act(cfg, _mm_bias(params["blocks.0.mlp.b_in"], resid_mid, params["blocks.0.mlp.W_in"]))  # [p*p, d_mlp]
    along = post @ (params["blocks.0.mlp.W_out"] @ direction) + params["blocks.0.mlp.b_out"] @ direction
    return along if mlp_only else along + resid_mid @ direction


@torch.no_grad()
def grid_neuron(params: Params, cfg: ModelConfig, resid_mid: torch.Tensor, neuron: int, post: bool = True) -> torch.Tensor:
    """One MLP neuron (after the activation, or before with post=False) on every problem, [p*p]."""
    n = int(neuron)
    pre = resid_mid @ params["blocks.0.mlp.W_in"][:, n] + params["blocks.0.mlp.b_in"][n]
    return _act(cfg, pre) if post else pre


def run_with_cache(params: Params, cfg: ModelConfig, tokens: torch.Tensor) -> tuple[torch.Tensor, dict]:
    """Plain forward over all positions of tokens [batch, 3]: logits [batch, 3, d_vocab_out] and a cache."""
    W_E, W_pos = params["embed.W_E"], params["pos_embed.W_pos"]
    c: dict[str, torch.Tensor] = {}
    c["hook_embed"] = F.embedding(tokens, W_E)  # [batch, pos, d_model]; = W_E[tokens], deterministic backward
    c["hook_pos_embed"] = W_pos.expand(tokens.shape[0], -1, -1)
    resid = c["blocks.0.hook_resid_pre"] = c["hook_embed"] + c["hook_pos_embed"]
    q = c["blocks.0.attn.hook_q"] = torch.einsum("bpm,hmd->bphd", resid, params["blocks.0.attn.W_Q"])
    k = c["blocks.0.attn.hook_k"] = torch.einsum("bpm,hmd->bphd", resid, params["blocks.0.attn.W_K"])
    v = c["blocks.0.attn.hook_v"] = torch.einsum("bpm,hmd->bphd", resid, params["blocks.0.attn.W_V"])
    scores = torch.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(cfg.d_head)
    n = tokens.shape[1]
    causal = torch.ones(n, n, dtype=torch.bool, device=tokens.device).tril()
    scores = c["blocks.0.attn.hook_attn_scores"] = scores.masked_fill(~causal, float("-inf"))
    pattern = c["blocks.0.attn.hook_pattern"] = scores.softmax(dim=-1)  # [batch, head, q_pos, k_pos]
    z = c["blocks.0.attn.hook_z"] = torch.einsum("bhqk,bkhd->bqhd", pattern, v)
    attn_out = c["blocks.0.hook_attn_out"] = torch.einsum("bqhd,hdm->bqm", z, params["blocks.0.attn.W_O"])
    resid = c["blocks.0.hook_resid_mid"] = resid + attn_out
    pre = c["blocks.0.mlp.hook_pre"] = resid @ params["blocks.0.mlp.W_in"] + params["blocks.0.mlp.b_in"]
    post = c["blocks.0.mlp.hook_post"] = _act(cfg, pre)
    mlp_out = c["blocks.0.hook_mlp_out"] = post @ params["blocks.0.mlp.W_out"] + params["blocks.0.mlp.b_out"]
    resid = c["blocks.0.hook_resid_post"] = resid + mlp_out
    logits = c["logits"] = resid @ params["unembed.W_U"]
    return logits, c


class _Holder(nn.Module):
    pass


class Transformer(nn.Module):
    """nn.Module view of a parameter dict: `state_dict()` keys are the TransformerLens names."""

    def __init__(self, cfg: ModelConfig, params: Params | None = None, seed: int = 0):
        super().__init__()
        self.cfg = cfg
        params = params if params is not None else init_params(cfg, seed)
        for name, value in params.items():
            *path, leaf = name.split(".")
            mod = self
            for part in path:
                if not hasattr(mod, part):
                    mod.add_module(part, _Holder())
                mod = getattr(mod, part)
            mod.register_parameter(leaf, nn.Parameter(value.detach().clone()))

    def params(self) -> Params:
        return dict(self.named_parameters())

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Logits at every position, [batch, 3, d_vocab_out], like HookedTransformer."""
        return run_with_cache(self.params(), self.cfg, tokens)[0]


def to_hooked_transformer(params: Params, cfg: ModelConfig):
    """A TransformerLens HookedTransformer with these weights (transformer_lens imported lazily).

    Supported: transformer-lens 3.x (checked with 3.9.0; it warns that HookedTransformer is deprecated).
    Not 4.x: 4.0 removed HookedTransformer, and its TransformerBridge wraps Hugging Face transformers
    architectures (boot_transformers(name)), none of which is this model (no LayerNorm, separate
    learned positions, untied unembedding); checked with transformer-lens 4.3.0.
    """
    try:
        import transformer_lens  # noqa: F401
    except ImportError as e:  # not a dependency of the app
        raise ImportError("to_hooked_transformer needs `pip install 'transformer-lens>=3,<4'`") from e
    try:
        from transformer_lens import HookedTransformer, HookedTransformerConfig
    except ImportError as e:  # 4.x: removed (its message names TransformerBridge)
        from importlib.metadata import version as _version

        version = _version("transformer-lens")
        raise ImportError(f"to_hooked_transformer needs transformer-lens 3.x (`pip install 'transformer-lens>=3,<4'`); "
                          f"{version} has no HookedTransformer and its TransformerBridge cannot hold this model "
                          "(it wraps Hugging Face architectures only)") from e
    tl_cfg = HookedTransformerConfig(
        n_layers=1,
        d_model=cfg.d_model,
        d_head=cfg.d_head,
        n_heads=cfg.n_heads,
        d_mlp=cfg.d_mlp,
        d_vocab=cfg.d_vocab,
        d_vocab_out=cfg.d_vocab_out,
        n_ctx=cfg.n_ctx,
        act_fn=cfg.act,
        normalization_type=None,
        device="cpu",
    )
    model = HookedTransformer(tl_cfg)
    missing, unexpected = model.load_state_dict(tl_state_dict(params, cfg), strict=False)
    # Only TransformerLens's own buffers (the causal mask, IGNORE) may be left out; anything else
    # would mean a silently random weight.
    missing = [k for k in missing if not k.endswith((".mask", ".IGNORE"))]
    if missing or unexpected:
        raise ValueError(f"TransformerLens layout mismatch: missing {missing}, unexpected {unexpected}")
    return model.eval()


def tl_state_dict(params: Params, cfg: ModelConfig) -> dict[str, torch.Tensor]:
    """Our parameters plus the zero biases TransformerLens expects."""
    sd = {k: v.detach().float().cpu() for k, v in params.items()}
    for b in ("b_Q", "b_K", "b_V"):
        sd[f"blocks.0.attn.{b}"] = torch.zeros(cfg.n_heads, cfg.d_head)
    sd["blocks.0.attn.b_O"] = torch.zeros(cfg.d_model)
    sd["unembed.b_U"] = torch.zeros(cfg.d_vocab_out)
    return sd
