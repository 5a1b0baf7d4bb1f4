"""The CPU training step: loss and gradients of R stacked runs, written out by hand into reused buffers.

Why by hand: on the CPU, autograd over `model.forward_last` allocates every activation afresh at each
step (glibc hands the big ones back to the kernel and faults them in again: 8k page faults a step for
one run, 344k for 16) and gathers each problem's attention rows at d_model width for every head.
Here the same maths runs as:
- the attention tables, small and per input value, through autograd (`tables`), for all runs at once;
- the per-problem part (attention mixing, MLP, unembed, float64 loss, and their backward) by hand,
  one chunk of runs at a time, into buffers allocated once and reused by every step. The heads mix
  values in d_head space (z, as TransformerLens's hook_z) and W_O is one [h*d_head, d_model] matmul,
  so a problem gathers 2 × h*d_head numbers instead of 2 × h × d_model.
A chunk holds as many runs as fit `CHUNK_BYTES` of MLP activations, so one Nanda-sized run (7.8 MB)
is a chunk of its own and batched runs cost what single runs cost; small models batch many runs per
chunk (fewer, larger matmuls). Float rounding aside this is the gradient of `forward_last`'s loss
(tests/test_train.py checks it against autograd); the float64 log-softmax is kept, as in the paper.
"""

from __future__ import annotations

import math

import torch

from .config import ModelConfig
from .model import Params

CHUNK_BYTES = 2 << 20  # MLP activations per chunk of runs: about what stays in a core's cache
TABLES = ("s_x", "s_y", "s_eq", "v_x", "v_y", "v_eq", "resid_eq")


def tables(params: Params, cfg: ModelConfig) -> dict[str, torch.Tensor]:
    """What the last position reads, per input value: scores s_x/s_y [R, p, h], s_eq [R, h]; values
    v_x/v_y [R, p, h*d_head], v_eq [R, h*d_head] (TransformerLens's v, before W_O); resid_eq [R, m]."""
    W_E, W_pos = params["embed.W_E"], params["pos_embed.W_pos"]
    W_Q, W_K, W_V = params["blocks.0.attn.W_Q"], params["blocks.0.attn.W_K"], params["blocks.0.attn.W_V"]
    p, R, m = cfg.p, W_E.shape[0], cfg.d_model
    e_x = W_E[:, :p] + W_pos[:, 0:1]  # [R, p, m]
    e_y = W_E[:, :p] + W_pos[:, 1:2]  # [R, p, m]
    e_eq = W_E[:, p] + W_pos[:, 2]  # [R, m]
    q = torch.einsum("rm,rhmd->rhd", e_eq, W_Q) / math.sqrt(cfg.d_head)  # [R, h, d_head]
    qk = torch.einsum("rhd,rhmd->rhm", q, W_K)  # [R, h, m]: what "=" looks for
    W_V_flat = W_V.permute(0, 2, 1, 3).reshape(R, m, cfg.n_heads * cfg.d_head)  # [R, m, h*d_head]
    return {
        "s_x": e_x @ qk.transpose(1, 2), "s_y": e_y @ qk.transpose(1, 2),
        "s_eq": torch.einsum("rm,rhm->rh", e_eq, qk),
        "v_x": e_x @ W_V_flat, "v_y": e_y @ W_V_flat, "v_eq": torch.einsum("rm,rmk->rk", e_eq, W_V_flat),
        "resid_eq": e_eq,
    }


class CpuStep:
    """Loss and gradients for stacked runs on fixed problems; gradients land in each parameter's `.grad`.

    x, y, labels: [R, n] problems per run (padded to the longest split); weight: [R, n] float64,
    1/n_train per real problem and 0 for padding, so the loss is the sum over runs of each run's mean.
    """

    def __init__(self, cfg: ModelConfig, x: torch.Tensor, y: torch.Tensor, labels: torch.Tensor,
                 weight: torch.Tensor, chunk: int | None = None):
        self.cfg = cfg
        R, n = x.shape
        self.R, self.n = R, n
        self.chunk = chunk or max(1, min(R, CHUNK_BYTES // (4 * n * cfg.d_mlp)))
        self.x, self.y, self.weight = x, y, weight
        self.labels = labels.unsqueeze(-1)  # [R, n, 1]
        self._buffers: dict[int, dict[str, torch.Tensor]] = {}
        self._grads: dict[str, torch.Tensor] = {}

    # -- buffers ----------------------------------------------------------------------------------
    def _bufs(self, c: int) -> dict[str, torch.Tensor]:
        """Activations and their gradients for a chunk of c runs, allocated on first use."""
        if c not in self._buffers:
            cfg, n = self.cfg, self.n
            h, hd, m, f, p = cfg.n_heads, cfg.n_heads * cfg.d_head, cfg.d_model, cfg.d_mlp, cfg.d_vocab_out
            shapes = {
                "scores": (c, n, h, 3), "g_pattern": (c, n, h, 3),
                "v_x": (c, n, hd), "v_y": (c, n, hd), "z": (c, n, hd), "tmp": (c, n, hd), "g_z": (c, n, hd),
                "resid_mid": (c, n, m), "post": (c, n, f), "resid_post": (c, n, m), "logits": (c, n, p),
                "g_resid": (c, n, m), "g_post": (c, n, f), "g_logits": (c, n, p),
            }
            b = {k: torch.empty(s) for k, s in shapes.items()}
            b["logits64"] = torch.empty(c, n, p, dtype=torch.float64)
            b["lse"] = torch.empty(c, n, 1, dtype=torch.float64)
            b["ones"] = torch.ones(c, 1, n)
            b["minus_one"] = torch.full((c, n, 1), -1.0, dtype=torch.float64)
            b["offsets"] = (torch.arange(c) * cfg.p).view(c, 1)  # run j's rows of a flat table start at j*p
            self._buffers[c] = b
        return self._buffers[c]

    def _grad_buffer(self, param: torch.Tensor, name: str) -> torch.Tensor:
        if name not in self._grads:
            self._grads[name] = torch.empty_like(param)
        return self._grads[name]

    # -- the step ---------------------------------------------------------------------------------
    def loss_and_grads(self, params: Params) -> torch.Tensor:
        """Sum over runs of each run's mean train loss (float64); fills `.grad` of every parameter."""
        for v in params.values():
            v.grad = None
        t = tables(params, self.cfg)
        td = {k: v.detach() for k, v in t.items()}
        gt = {k: torch.zeros_like(v) for k, v in td.items()}  # table gradients, summed by index_add_
        direct = {k: self._grad_buffer(params[k], k) for k in
                  ("blocks.0.attn.W_O", "blocks.0.mlp.W_in", "blocks.0.mlp.b_in", "blocks.0.mlp.W_out",
                   "blocks.0.mlp.b_out", "unembed.W_U")}
        loss = torch.zeros((), dtype=torch.float64)
        for a in range(0, self.R, self.chunk):
            sl = slice(a, min(self.R, a + self.chunk))
            loss += self._chunk(sl, {k: v.detach()[sl] for k, v in params.items()},
                                {k: v[sl] for k, v in td.items()}, {k: v[sl] for k, v in gt.items()},
                                {k: v[sl] for k, v in direct.items()})
        torch.autograd.backward([t[k] for k in TABLES], [gt[k] for k in TABLES])
        for k, g in direct.items():
            params[k].grad = g
        return loss

    def _chunk(self, sl: slice, P: Params, T: dict, G: dict, D: dict) -> torch.Tensor:
        """Forward and backward of runs `sl` (c of them); writes table grads into G, weight grads into D."""
        cfg = self.cfg
        x, y, lab, w = self.x[sl], self.y[sl], self.labels[sl], self.weight[sl]
        c, n = x.shape
        b = self._bufs(c)
        h, dh, p = cfg.n_heads, cfg.d_head, cfg.p
        xo, yo = (x + b["offsets"]).view(-1), (y + b["offsets"]).view(-1)  # rows of the flat [c*p, ...] tables
        W_O = P["blocks.0.attn.W_O"].reshape(c, h * dh, cfg.d_model)  # [c, h*d_head, m]
        W_in, W_out, W_U = P["blocks.0.mlp.W_in"], P["blocks.0.mlp.W_out"], P["unembed.W_U"]

        # Attention from "=": scores for x, y, "=" per head, softmax, values mixed in d_head space.
        s = b["scores"]
        s[..., 0].copy_(T["s_x"].reshape(c * p, h)[xo].view(c, n, h))
        s[..., 1].copy_(T["s_y"].reshape(c * p, h)[yo].view(c, n, h))
        s[..., 2].copy_(T["s_eq"].unsqueeze(1).expand(c, n, h))
        pat = s.softmax(-1)  # [c, n, h, 3]: from "=" to x, y, "="
        vx, vy, z = b["v_x"], b["v_y"], b["z"]
        torch.index_select(T["v_x"].reshape(c * p, h * dh), 0, xo, out=vx.view(c * n, h * dh))
        torch.index_select(T["v_y"].reshape(c * p, h * dh), 0, yo, out=vy.view(c * n, h * dh))
        z4, vx4, vy4 = z.view(c, n, h, dh), vx.view(c, n, h, dh), vy.view(c, n, h, dh)
        veq4 = T["v_eq"].view(c, 1, h, dh)
        torch.mul(vx4, pat[..., 0:1], out=z4)
        z4.addcmul_(vy4, pat[..., 1:2]).addcmul_(veq4, pat[..., 2:3])  # [c, n, h, d_head]: hook_z

        # MLP and unembed, biases folded into the matmuls.
        rm, post, rp, lg = b["resid_mid"], b["post"], b["resid_post"], b["logits"]
        torch.baddbmm(T["resid_eq"].unsqueeze(1), z, W_O, out=rm)  # [c, n, m]
        torch.baddbmm(P["blocks.0.mlp.b_in"].unsqueeze(1), rm, W_in, out=post).relu_()  # [c, n, d_mlp]
        torch.baddbmm(rm, post, W_out, out=rp).add_(P["blocks.0.mlp.b_out"].unsqueeze(1))  # [c, n, m]
        torch.bmm(rp, W_U, out=lg)  # [c, n, p]

        # Float64 loss and its gradient w * (softmax - onehot), the backward of log_softmax + gather.
        l64, lse = b["logits64"], b["lse"]
        ones = b["ones"]  # [c, 1, n]
        l64.copy_(lg)
        torch.logsumexp(l64, -1, keepdim=True, out=lse)
        loss = ((lse - l64.gather(-1, lab)).squeeze(-1) * w).sum()
        l64.sub_(lse).exp_().scatter_add_(-1, lab, b["minus_one"][:c]).mul_(w.unsqueeze(-1))
        gl = b["g_logits"]
        gl.copy_(l64)

        # Backward through unembed and MLP.
        g, gpost = b["g_resid"], b["g_post"]
        torch.bmm(rp.transpose(1, 2), gl, out=D["unembed.W_U"])
        torch.bmm(gl, W_U.transpose(1, 2), out=g)  # [c, n, m]: d loss / d resid_post
        torch.bmm(post.transpose(1, 2), g, out=D["blocks.0.mlp.W_out"])
        torch.bmm(ones, g, out=D["blocks.0.mlp.b_out"].unsqueeze(1))  # sums over problems as matmuls: 5x faster
        torch.bmm(g, W_out.transpose(1, 2), out=gpost)
        # ReLU's backward, in place ([c, n, d_mlp] d loss / d pre): one pass, where le + masked_fill_ took 100x longer.
        torch.ops.aten.threshold_backward.grad_input(gpost, post, 0, grad_input=gpost)
        torch.bmm(rm.transpose(1, 2), gpost, out=D["blocks.0.mlp.W_in"])
        torch.bmm(ones, gpost, out=D["blocks.0.mlp.b_in"].unsqueeze(1))
        g.baddbmm_(gpost, W_in.transpose(1, 2))  # [c, n, m]: d loss / d resid_mid
        torch.bmm(ones, g, out=G["resid_eq"].unsqueeze(1))
        torch.bmm(z.transpose(1, 2), g, out=D["blocks.0.attn.W_O"].view(c, h * dh, cfg.d_model))

        # Backward through the mixing, the softmax and the gathers (index_add_: deterministic on the CPU).
        gz, tmp = b["g_z"], b["tmp"]
        torch.bmm(g, W_O.transpose(1, 2), out=gz)  # [c, n, h*d_head]
        gz4, tmp4, gp = gz.view(c, n, h, dh), tmp.view(c, n, h, dh), b["g_pattern"]
        for j, v4 in enumerate((vx4, vy4, veq4)):
            gp[..., j].copy_(torch.mul(gz4, v4, out=tmp4).sum(-1))
        torch.mul(gz4, pat[..., 0:1], out=vx4)  # reuse: the gradient of each problem's gathered v_x rows
        torch.mul(gz4, pat[..., 1:2], out=vy4)
        G["v_x"].view(c * p, h * dh).index_add_(0, xo, vx.view(c * n, h * dh))
        G["v_y"].view(c * p, h * dh).index_add_(0, yo, vy.view(c * n, h * dh))
        torch.mul(gz4, pat[..., 2:3], out=tmp4)
        torch.bmm(ones, tmp, out=G["v_eq"].unsqueeze(1))
        gs = gp.sub_((pat * gp).sum(-1, keepdim=True)).mul_(pat)  # softmax backward: [c, n, h, 3]
        G["s_x"].view(c * p, h).index_add_(0, xo, gs[..., 0].reshape(c * n, h))
        G["s_y"].view(c * p, h).index_add_(0, yo, gs[..., 1].reshape(c * n, h))
        torch.sum(gs[..., 2], 1, out=G["s_eq"])
        return loss
