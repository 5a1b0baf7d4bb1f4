"""The model on the whole p×p grid of problems at once: `forward_last` specialised to every (x, y).

`grok_core.model.forward_last` serves any batch of problems by gathering each problem's rows of
the attention output tables ([batch, n_heads, d_model] per input). On the full grid those rows
repeat in a pattern: for a fixed x, all p problems share out_x[x]. So the attention output is
three batched matmuls (over x, over y, and for "=") instead of gathers and elementwise products,
and the MLP biases fold into the matmuls. Same numbers (float32 rounding aside); for the logits
alone about 1.7-2x faster on a 2-core CPU (measured 58 vs 99 ms per checkpoint), which is what
the whole-series progress pass spends most of its time on.
"""

from __future__ import annotations

import torch

from ..config import ModelConfig
from ..model import _act, attention_tables


def _mm_bias(bias: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """a @ b + bias in one call, for one model ([n, k] @ [k, m]) or a stack ([R, n, k] @ [R, k, m])."""
    bias = bias.unsqueeze(-2)  # [..., 1, m]: the same for every problem
    return torch.addmm(bias, a, b) if a.dim() == 2 else torch.baddbmm(bias, a, b)


@torch.no_grad()
def grid_forward(params: dict[str, torch.Tensor], cfg: ModelConfig, cache: dict | None = None) -> torch.Tensor:
    """Logits at "=" for all p*p problems in row-major order (x*p + y): [..., p*p, d_vocab_out].

    params may carry a leading run dimension [R, ...]. Pass a dict as `cache` to receive the
    activations under the hook names of `forward_last` (shapes [..., p*p, ...]).
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
    pattern = scores.softmax(-1)
    attn_out = (
        pattern[..., 0] @ t["out_x"]  # over x: [..., p(x), p(y), h] @ [..., p(x), h, m]
        + (pattern[..., 1].transpose(-3, -2) @ t["out_y"]).transpose(-3, -2)  # over y, likewise
        + pattern[..., 2] @ t["out_eq"].unsqueeze(-3)  # [..., p, p, h] @ [..., 1, h, m]
    )  # [..., p, p, d_model]
    resid_mid = (attn_out + t["resid_eq"][..., None, None, :]).flatten(-3, -2)  # [..., p*p, d_model]
    pre = _mm_bias(params["blocks.0.mlp.b_in"], resid_mid, params["blocks.0.mlp.W_in"])  # [..., p*p, d_mlp]
    post = _act(cfg, pre)
    mlp_out = _mm_bias(params["blocks.0.mlp.b_out"], post, params["blocks.0.mlp.W_out"])  # [..., p*p, d_model]
    resid_post = resid_mid + mlp_out
    logits = resid_post @ params["unembed.W_U"]  # [..., p*p, d_vocab_out]
    if cache is not None:
        cache.update(
            {
                "blocks.0.attn.hook_pattern": pattern.flatten(-4, -3),  # [..., p*p, h, 3]
                "blocks.0.hook_attn_out": attn_out.flatten(-3, -2),
                "blocks.0.hook_resid_mid": resid_mid,
                "blocks.0.mlp.hook_pre": pre,
                "blocks.0.mlp.hook_post": post,
                "blocks.0.hook_mlp_out": mlp_out,
                "blocks.0.hook_resid_post": resid_post,
                "logits": logits,
            }
        )
    return logits
