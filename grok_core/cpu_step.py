"""The CPU training step: loss and gradients of R stacked runs, written out by hand into reused buffers.

Why by hand: on the CPU, autograd over `model.forward_last` allocates every activation afresh at each
step (glibc hands the big ones back to the kernel and faults them in again: 8k page faults a step for
one run, 344k for 16) and gathers each problem's attention rows at d_model width for every head.
Here the same maths runs as:
- the attention tables, small and per input value (`tables`), for all runs at once, and their backward
  (`tables_backward`), written out too: autograd's engine cost a tiny model's step 0.8 ms of its 2;
- the per-problem part (attention mixing, MLP, unembed, float64 loss, and their backward) by hand,
  one chunk of runs at a time, into buffers allocated once and reused by every step. The heads mix
  values in d_head space (z, as TransformerLens's hook_z) and W_O is one [h*d_head, d_model] matmul,
  so a problem gathers 2 × h*d_head numbers instead of 2 × h × d_model.
A chunk holds as many runs as fit `CHUNK_BYTES` of MLP activations, so one Nanda-sized run (7.8 MB)
is a chunk of its own and batched runs cost what single runs cost; small models batch many runs per
chunk (fewer, larger matmuls). Float rounding aside this is the gradient of `forward_last`'s loss
(tests/test_train.py checks it against autograd); the float64 log-softmax is kept, as in the paper.
`CpuAdamW` is the optimiser of this path: fused AdamW's own kernel, without torch.optim around it.
The backward here is ReLU's: `Runs` trains GELU models through autograd (with `CpuAdamW`).
"""

from __future__ import annotations

import math

import torch

from .config import ModelConfig
from .model import Params

CHUNK_BYTES = 2 << 20  # MLP activations per chunk of runs: about what stays in a core's cache
TABLE_GRADS = ("s", "v", "s_eq", "v_eq", "resid_eq")


def tables(P: Params, cfg: ModelConfig) -> tuple[dict[str, torch.Tensor], tuple[torch.Tensor, ...]]:
    """What the last position reads, per input value, and what `tables_backward` needs.

    Scores s [R, 2p, h] and values v [R, 2p, h*d_head] (TransformerLens's v, before W_O) hold x's rows
    (0..p-1, at position 0) then y's (p..2p-1, at position 1); s_eq [R, h], v_eq [R, h*d_head], resid_eq [R, m]
    are the "=" token's. P is detached: the backward below is written by hand (autograd's engine cost a tiny
    model's step 0.8 ms of its 2).
    """
    W_E, W_pos = P["embed.W_E"], P["pos_embed.W_pos"]
    W_Q, W_K, W_V = P["blocks.0.attn.W_Q"], P["blocks.0.attn.W_K"], P["blocks.0.attn.W_V"]
    p, R, m = cfg.p, W_E.shape[0], cfg.d_model
    e_xy = torch.cat([W_E[:, :p] + W_pos[:, 0:1], W_E[:, :p] + W_pos[:, 1:2]], 1)  # [R, 2p, m]
    e_eq = W_E[:, p] + W_pos[:, 2]  # [R, m]
    q = torch.einsum("rm,rhmd->rhd", e_eq, W_Q) / math.sqrt(cfg.d_head)  # [R, h, d_head]
    qk = torch.einsum("rhd,rhmd->rhm", q, W_K)  # [R, h, m]: what "=" looks for
    W_V_flat = W_V.permute(0, 2, 1, 3).reshape(R, m, cfg.n_heads * cfg.d_head)  # [R, m, h*d_head]
    T = {"s": e_xy @ qk.transpose(1, 2), "v": e_xy @ W_V_flat, "s_eq": torch.einsum("rm,rhm->rh", e_eq, qk),
         "v_eq": torch.einsum("rm,rmk->rk", e_eq, W_V_flat), "resid_eq": e_eq}
    return T, (e_xy, e_eq, q, qk, W_V_flat)


def tables_backward(P: Params, cfg: ModelConfig, saved: tuple, G: dict[str, torch.Tensor],
                    out: dict[str, torch.Tensor]) -> None:
    """The gradients of W_E, W_pos, W_Q, W_K, W_V from the tables' gradients G, written into `out`."""
    e_xy, e_eq, q, qk, W_V_flat = saved
    p, R, m, h, dh = cfg.p, e_eq.shape[0], cfg.d_model, cfg.n_heads, cfg.d_head
    g_s, g_v, g_seq, g_veq = G["s"], G["v"], G["s_eq"], G["v_eq"]
    g_exy = torch.bmm(g_s, qk).baddbmm_(g_v, W_V_flat.transpose(1, 2))  # [R, 2p, m]
    g_eq = torch.bmm(g_seq.unsqueeze(1), qk).baddbmm_(g_veq.unsqueeze(1), W_V_flat.transpose(1, 2)).squeeze(1)
    g_eq.add_(G["resid_eq"])  # [R, m], so far from s_eq, v_eq and the residual stream
    g_qk = torch.bmm(g_s.transpose(1, 2), e_xy).addcmul_(g_seq.unsqueeze(-1), e_eq.unsqueeze(1))  # [R, h, m]
    g_Wv = torch.bmm(e_xy.transpose(1, 2), g_v).addcmul_(e_eq.unsqueeze(-1), g_veq.unsqueeze(1))  # [R, m, h*dh]
    g_q = torch.einsum("rhm,rhmd->rhd", g_qk, P["blocks.0.attn.W_K"]) / math.sqrt(dh)  # through q's 1/sqrt(d_head)
    g_eq.add_(torch.einsum("rhd,rhmd->rm", g_q, P["blocks.0.attn.W_Q"]))
    torch.mul(g_qk.unsqueeze(-1), q.unsqueeze(2), out=out["blocks.0.attn.W_K"])  # [R, h, m, d_head]
    torch.mul(e_eq.view(R, 1, m, 1), g_q.unsqueeze(2), out=out["blocks.0.attn.W_Q"])
    out["blocks.0.attn.W_V"].copy_(g_Wv.view(R, m, h, dh).permute(0, 2, 1, 3))
    gE, gpos = out["embed.W_E"], out["pos_embed.W_pos"]
    torch.add(g_exy[:, :p], g_exy[:, p:], out=gE[:, :p])
    gE[:, p].copy_(g_eq)
    gE[:, p + 1:].zero_()  # tokens no problem uses
    torch.sum(g_exy[:, :p], 1, out=gpos[:, 0])
    torch.sum(g_exy[:, p:], 1, out=gpos[:, 1])
    gpos[:, 2].copy_(g_eq)


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
                "scores": (3, c, n, h), "pattern": (3, c, n, h), "g_pattern": (3, c, n, h), "s_max": (c, n, h),
                "v_x": (c, n, hd), "v_y": (c, n, hd), "z": (c, n, hd), "tmp": (c, n, hd), "g_z": (c, n, hd),
                "resid_mid": (c, n, m), "post": (c, n, f), "resid_post": (c, n, m), "logits": (c, n, p),
                "g_resid": (c, n, m), "g_post": (c, n, f), "g_logits": (c, n, p),
            }
            b = {k: torch.empty(s) for k, s in shapes.items()}
            b["logits64"] = torch.empty(c, n, p, dtype=torch.float64)
            b["max"] = torch.empty(c, n, 1, dtype=torch.float64)
            b["sumexp"] = torch.empty(c, n, 1, dtype=torch.float64)
            b["ones"] = torch.ones(c, 1, n)
            b["offsets"] = (torch.arange(c) * 2 * cfg.p).view(c, 1)  # run j's rows of a flat table start at j*2p
            self._buffers[c] = b
        return self._buffers[c]

    def _grad_buffer(self, param: torch.Tensor, name: str) -> torch.Tensor:
        if name not in self._grads:
            self._grads[name] = torch.empty_like(param)
        return self._grads[name]

    # -- the step ---------------------------------------------------------------------------------
    def loss_and_grads(self, params: Params) -> torch.Tensor:
        """Sum over runs of each run's mean train loss (float64); sets `.grad` of every parameter (reused buffers)."""
        P = {k: v.detach() for k, v in params.items()}
        T, saved = tables(P, self.cfg)
        G = {k: torch.zeros_like(T[k]) for k in TABLE_GRADS}  # table gradients, summed by index_add_
        D = {k: self._grad_buffer(v, k) for k, v in P.items()}
        loss = torch.zeros((), dtype=torch.float64)
        for a in range(0, self.R, self.chunk):
            sl = slice(a, min(self.R, a + self.chunk))
            loss += self._chunk(sl, {k: v[sl] for k, v in P.items()}, {k: v[sl] for k, v in T.items()},
                                {k: v[sl] for k, v in G.items()}, {k: v[sl] for k, v in D.items()})
        tables_backward(P, self.cfg, saved, G, D)
        for k, v in params.items():
            v.grad = D[k]
        return loss

    def _chunk(self, sl: slice, P: Params, T: dict, G: dict, D: dict) -> torch.Tensor:
        """Forward and backward of runs `sl` (c of them); writes table grads into G, weight grads into D."""
        cfg = self.cfg
        x, y, lab, w = self.x[sl], self.y[sl], self.labels[sl], self.weight[sl]
        c, n = x.shape
        b = self._bufs(c)
        h, dh, p = cfg.n_heads, cfg.d_head, cfg.p
        xo, yo = (x + b["offsets"]).view(-1), (y + p + b["offsets"]).view(-1)  # rows of the flat [c*2p, ...] tables
        W_O = P["blocks.0.attn.W_O"].reshape(c, h * dh, cfg.d_model)  # [c, h*d_head, m]
        W_in, W_out, W_U = P["blocks.0.mlp.W_in"], P["blocks.0.mlp.W_out"], P["unembed.W_U"]

        # Attention from "=": scores for x, y, "=" per head, stored [3, c, n, h] (a contiguous block per key: a
        # softmax over a last axis of 3 ran 14x slower), softmax by hand, values mixed in d_head space.
        s, pat, smax = b["scores"], b["pattern"], b["s_max"]
        torch.index_select(T["s"].view(c * 2 * p, h), 0, xo, out=s[0].view(c * n, h))
        torch.index_select(T["s"].view(c * 2 * p, h), 0, yo, out=s[1].view(c * n, h))
        s[2].copy_(T["s_eq"].unsqueeze(1).expand(c, n, h))
        torch.maximum(s[0], s[1], out=smax)
        torch.maximum(smax, s[2], out=smax)
        torch.sub(s, smax, out=pat).exp_()
        pat.div_(pat.sum(0))  # [3, c, n, h]: from "=" to x, y, "="
        pats = [pat[j].unsqueeze(-1) for j in range(3)]  # [c, n, h, 1] each
        vx, vy, z = b["v_x"], b["v_y"], b["z"]
        torch.index_select(T["v"].view(c * 2 * p, h * dh), 0, xo, out=vx.view(c * n, h * dh))
        torch.index_select(T["v"].view(c * 2 * p, h * dh), 0, yo, out=vy.view(c * n, h * dh))
        z4, vx4, vy4 = z.view(c, n, h, dh), vx.view(c, n, h, dh), vy.view(c, n, h, dh)
        veq4 = T["v_eq"].view(c, 1, h, dh)
        torch.mul(vx4, pats[0], out=z4)
        z4.addcmul_(vy4, pats[1]).addcmul_(veq4, pats[2])  # [c, n, h, d_head]: hook_z

        # MLP and unembed, biases folded into the matmuls.
        rm, post, rp, lg = b["resid_mid"], b["post"], b["resid_post"], b["logits"]
        torch.baddbmm(T["resid_eq"].unsqueeze(1), z, W_O, out=rm)  # [c, n, m]
        torch.baddbmm(P["blocks.0.mlp.b_in"].unsqueeze(1), rm, W_in, out=post).relu_()  # [c, n, d_mlp]
        torch.baddbmm(rm, post, W_out, out=rp).add_(P["blocks.0.mlp.b_out"].unsqueeze(1))  # [c, n, m]
        torch.bmm(rp, W_U, out=lg)  # [c, n, p]

        # Float64 loss and its gradient w * (softmax - onehot), the backward of log_softmax + gather, with one
        # exp: e = exp(l - max); loss = max + log(sum e) - l[label]; gradient e * w / sum e - w at the label.
        l64, mx, se = b["logits64"], b["max"], b["sumexp"]
        ones = b["ones"]  # [c, 1, n]
        l64.copy_(lg)
        torch.amax(l64, -1, keepdim=True, out=mx)
        picked = l64.gather(-1, lab)  # [c, n, 1]: the label's logit
        l64.sub_(mx).exp_()
        torch.sum(l64, -1, keepdim=True, out=se)
        w1 = w.unsqueeze(-1)  # [c, n, 1]
        loss = ((mx + se.log() - picked) * w1).sum()
        l64.mul_(w1 / se).scatter_add_(-1, lab, -w1)
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
            torch.sum(torch.mul(gz4, v4, out=tmp4), -1, out=gp[j])
        torch.mul(gz4, pats[0], out=vx4)  # reuse: the gradient of each problem's gathered v_x rows
        torch.mul(gz4, pats[1], out=vy4)
        G["v"].view(c * 2 * p, h * dh).index_add_(0, xo, vx.view(c * n, h * dh))
        G["v"].view(c * 2 * p, h * dh).index_add_(0, yo, vy.view(c * n, h * dh))
        torch.mul(gz4, pats[2], out=tmp4)
        torch.bmm(ones, tmp, out=G["v_eq"].unsqueeze(1))
        gs = gp.sub_((pat * gp).sum(0)).mul_(pat)  # softmax backward: [3, c, n, h]
        G["s"].view(c * 2 * p, h).index_add_(0, xo, gs[0].view(c * n, h))
        G["s"].view(c * 2 * p, h).index_add_(0, yo, gs[1].view(c * n, h))
        torch.sum(gs[2], 1, out=G["s_eq"])
        return loss


class CpuAdamW:
    """`torch.optim.AdamW(fused=True)` on the CPU, its kernel called directly: `torch._fused_adamw_`, the very op
    torch.optim calls, so the numbers are the same bit for bit (tests/test_train.py checks), without torch.optim's
    per-step bookkeeping (0.2 ms a step: a tenth of a tiny model's step) or its first-use import of torch._dynamo
    (about 1.3 s in every new process). Weight decay is 0 here: `Runs` applies each run's decoupled decay itself.
    `param_groups[0]["lr"]` and `state` ({param: {"step", "exp_avg", "exp_avg_sq"}}) are laid out as torch.optim's
    (what `Runs.state` and `Runs.load_state` read and write); there is no state_dict.
    """

    def __init__(self, params: list[torch.Tensor], lr: float, betas: tuple[float, float], eps: float = 1e-8):
        self.params = list(params)
        self.param_groups = [{"params": self.params, "lr": lr, "betas": tuple(betas), "eps": eps}]
        self.state: dict[torch.Tensor, dict[str, torch.Tensor]] = {}

    def zero_grad(self, set_to_none: bool = True) -> None:
        for v in self.params:
            if set_to_none:
                v.grad = None
            elif v.grad is not None:
                v.grad.zero_()

    @torch.no_grad()
    def step(self) -> None:
        group = self.param_groups[0]
        live = [v for v in self.params if v.grad is not None]  # as torch.optim: a parameter without a gradient stays
        if not live:
            return
        for v in live:
            if v not in self.state:
                self.state[v] = {"step": torch.zeros((), dtype=torch.float32),
                                 "exp_avg": torch.zeros_like(v), "exp_avg_sq": torch.zeros_like(v)}
        st = [self.state[v] for v in live]
        steps = [s["step"] for s in st]
        torch._foreach_add_(steps, 1)
        beta1, beta2 = group["betas"]
        torch._fused_adamw_(live, [v.grad for v in live], [s["exp_avg"] for s in st], [s["exp_avg_sq"] for s in st],
                            [], steps, amsgrad=False, lr=float(group["lr"]), beta1=beta1, beta2=beta2,
                            weight_decay=0.0, eps=group["eps"], maximize=False, grad_scale=None, found_inf=None)
