"""R training runs stacked into one model, with their optimiser: full-batch AdamW, float64 loss.

Runs differ in seed, split and weight decay and share the schedule (lr, betas, warm-up, steps).
A single run is R = 1. Two paths, which must give the same dynamics (`python -m grok_core bench`):
- fast (default): on the CPU, `cpu_step.CpuStep` (hand-written backward into reused buffers, runs
  in cache-sized chunks; ReLU models, GELU ones through `forward_last` and autograd) and
  `cpu_step.CpuAdamW` (fused AdamW's kernel, called directly); on CUDA,
  `model.forward_last` through autograd, fused AdamW, optionally the whole step captured in one
  CUDA graph and TF32 matmuls;
- plain: the TransformerLens-style forward over all positions through autograd, single-tensor
  AdamW, float32, eager: the reference the fast path is checked against.
"""

from __future__ import annotations

import contextlib
import warnings

import numpy as np
import torch

from .config import ModelConfig, TrainConfig
from .cpu_step import CpuAdamW, CpuStep
from .data import all_tokens, split_mask
from .data import labels as make_labels
from .device import select_device
from .metrics import grid_metrics
from .model import forward_last, grid_forward, init_params, run_with_cache, stack_params

SHARED_FIELDS = ("operation", "lr", "betas", "warmup_steps", "n_steps", "device", "precision")
GRAPH_WARMUP_STEPS = 3  # eager steps on a side stream before capturing (PyTorch's recipe)


@contextlib.contextmanager
def _tf32(enabled: bool):
    """TF32 matmuls on CUDA only inside this block (and only when asked); restores the flag."""
    m = torch.backends.cuda.matmul
    old = m.allow_tf32
    m.allow_tf32 = enabled
    try:
        yield
    finally:
        m.allow_tf32 = old


class Runs:
    """R training runs stacked into one model: parameters [R, ...], per-run split and weight decay.

    Runs never interact: the loss is a sum of per-run means, and AdamW is elementwise, so each
    run follows its own trajectory (up to float rounding of batched matmuls).
    """

    def __init__(
        self,
        mcfg: ModelConfig,
        tcfgs: list[TrainConfig],
        device: str | torch.device = "auto",
        *,
        fast: bool = True,
        cuda_graph: bool = False,
    ):
        t0 = tcfgs[0]
        for t in tcfgs[1:]:
            for f in SHARED_FIELDS:
                if getattr(t, f) != getattr(t0, f):
                    raise ValueError(f"runs trained together must share {f}")
        self.mcfg, self.tcfgs, self.tcfg = mcfg, tcfgs, t0
        self.device = select_device(device)
        self.fast = fast
        cuda = self.device.type == "cuda"
        self.tf32 = cuda and fast and t0.precision == "tf32"
        self.cuda_graph = cuda and fast and cuda_graph
        p, R = mcfg.p, len(tcfgs)
        self.R = R
        self.params = {
            k: v.to(self.device).requires_grad_(True)
            for k, v in stack_params([init_params(mcfg, t.seed) for t in tcfgs]).items()
        }
        self.masks = np.stack([split_mask(p, t.frac_train, t.data_seed) for t in tcfgs])  # [R, p*p]
        self.labels = make_labels(p, t0.operation).to(self.device)  # [p*p]
        n_train = self.masks.sum(1)
        n_max = int(n_train.max())
        idx = np.zeros((R, n_max), dtype=np.int64)
        w = np.zeros((R, n_max), dtype=np.float64)
        for r in range(R):
            tr = np.flatnonzero(self.masks[r])
            idx[r, : len(tr)] = tr
            w[r, : len(tr)] = 1.0 / len(tr)  # padding entries weigh nothing
        self.train_idx = torch.from_numpy(idx).to(self.device)  # [R, n_max]
        self.train_w = torch.from_numpy(w).to(self.device)  # [R, n_max]
        self.n_train = [int(n) for n in n_train]
        self.wd = torch.tensor([t.weight_decay for t in tcfgs], dtype=torch.float32, device=self.device)
        # Weight decay 0 in the optimiser: each run's decoupled decay is applied in `_update`.
        if fast and not cuda:
            self.opt = CpuAdamW(list(self.params.values()), lr=t0.lr, betas=t0.betas)  # AdamW(fused=True)'s kernel
        else:
            kind = {"fused": True, "capturable": self.cuda_graph} if fast else {"foreach": False}  # plain: single-tensor
            self.opt = torch.optim.AdamW(list(self.params.values()), lr=t0.lr, betas=t0.betas, weight_decay=0.0, **kind)
        self.mask_t = torch.from_numpy(self.masks).to(self.device)
        self.tokens = all_tokens(p).to(self.device)  # [p*p, 3] for the plain path
        self.step_count = 0
        self._graph = None
        self._graph_warm = 0
        self._cpu = None
        if fast and self.device.type == "cpu" and mcfg.act == "relu":  # CpuStep's backward is ReLU's; GELU: autograd
            lab = self.labels[self.train_idx]  # [R, n_max]
            self._cpu = CpuStep(mcfg, self.train_idx // p, self.train_idx % p, lab, self.train_w)

    def lr_at(self, step: int) -> float:
        return self.tcfg.lr * min(1.0, (step + 1) / max(1, self.tcfg.warmup_steps))

    def _loss(self) -> torch.Tensor:
        """Sum over runs of each run's mean train loss (float64 log-softmax), through autograd."""
        if not self.fast:
            return self._loss_plain()
        p, idx = self.mcfg.p, self.train_idx
        logits = forward_last(self.params, self.mcfg, idx // p, idx % p)  # [R, n, p]
        logp = logits.double().log_softmax(-1)  # float64: float32 is unstable at very low loss
        nll = -logp.gather(-1, self.labels[idx].unsqueeze(-1)).squeeze(-1)  # [R, n]
        return (nll * self.train_w).sum()

    def _loss_plain(self) -> torch.Tensor:
        total = torch.zeros((), dtype=torch.float64, device=self.device)
        for r in range(self.R):
            idx = self.train_idx[r, : self.n_train[r]]
            params = {k: v[r] for k, v in self.params.items()}
            logits = run_with_cache(params, self.mcfg, self.tokens[idx])[0][:, -1]  # [n, p]
            logp = logits.double().log_softmax(-1)
            total = total + (-logp.gather(-1, self.labels[idx].unsqueeze(-1))).mean()
        return total

    def loss_and_grads(self) -> torch.Tensor:
        """The training loss (float64), with every parameter's `.grad` set to its gradient."""
        if self._cpu is not None:
            return self._cpu.loss_and_grads(self.params)
        self.opt.zero_grad(set_to_none=True)
        loss = self._loss()
        loss.backward()
        return loss.detach()

    def _update(self, lr: float) -> None:
        """Loss, backward, AdamW's decoupled decay (before the Adam update, as torch.optim.AdamW), Adam."""
        if self._cpu is not None:
            self._cpu.loss_and_grads(self.params)
        else:
            self._loss().backward()
        with torch.no_grad():
            decay = (1.0 - lr * self.wd).float()
            for v in self.params.values():
                v.mul_(decay.view(-1, *([1] * (v.dim() - 1))))
        self.opt.step()

    def step(self) -> None:
        """One full-batch AdamW update of every run."""
        lr = self.lr_at(self.step_count)
        for g in self.opt.param_groups:
            g["lr"] = lr
        with _tf32(self.tf32) if self.device.type == "cuda" else contextlib.nullcontext():
            if self._graph is not None:
                self._graph.replay()
            elif self.cuda_graph and self.step_count + 1 >= self.tcfg.warmup_steps:  # lr is constant from here
                self._graph_step(lr)
            else:
                if self._cpu is None:  # CpuStep writes every gradient afresh into its own buffers
                    self.opt.zero_grad(set_to_none=True)
                self._update(lr)
        self.step_count += 1

    def _graph_step(self, lr: float) -> None:
        """CUDA only: a few eager steps on a side stream, then capture one whole step and replay it.

        PyTorch's whole-network capture recipe (torch.cuda.graphs docs): the optimizer is fused and
        capturable, lr is constant after warm-up, gradients are allocated inside the capture and
        rewritten by every replay. Capture records without running, so the step is replayed once
        right after. If capture fails, training continues eagerly (same numbers).
        """
        if self._graph_warm < GRAPH_WARMUP_STEPS:
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                self.opt.zero_grad(set_to_none=True)
                self._update(lr)
            torch.cuda.current_stream().wait_stream(side)
            self._graph_warm += 1
            return
        self.opt.zero_grad(set_to_none=True)
        graph = torch.cuda.CUDAGraph()
        try:
            with torch.cuda.graph(graph):
                self._update(lr)
        except Exception as e:  # e.g. an op that cannot be captured on this torch/driver
            warnings.warn(f"CUDA graph capture failed ({e}); continuing without it", stacklevel=2)
            self.cuda_graph = False
            self.opt.zero_grad(set_to_none=True)
            self._update(lr)
            return
        self._graph = graph
        graph.replay()

    @torch.no_grad()
    def evaluate(self, chunk: int | None = None) -> dict[str, np.ndarray]:
        """Loss and accuracy on train and test for every run, over all p*p problems: [R] each (float32 matmuls).

        Through `model.grid_forward` (the whole grid as batched matmuls, about 1.7x faster than gathering
        per problem), `chunk` runs at a time: by default as many as keep the MLP activations near 64 MB.
        """
        p = self.mcfg.p
        chunk = chunk or max(1, (64 << 20) // (4 * p * p * self.mcfg.d_mlp))
        out = {k: [] for k in ("train_loss", "test_loss", "train_acc", "test_acc")}
        for a in range(0, self.R, chunk):
            sub = {k: v[a : a + chunk].detach() for k, v in self.params.items()}
            logits = grid_forward(sub, self.mcfg)  # [n, p*p, p]
            for k, v in grid_metrics(logits, self.labels, self.mask_t[a : a + chunk]).items():
                out[k].append(v.cpu())
        return {k: torch.cat(v).numpy() for k, v in out.items()}

    def run_params(self, r: int) -> dict[str, torch.Tensor]:
        return {k: v[r].detach() for k, v in self.params.items()}

    def state(self) -> dict[str, torch.Tensor]:
        """Everything needed to continue bit-for-bit: params, AdamW moments, step count."""
        st: dict[str, torch.Tensor] = {"__step__": torch.tensor(self.step_count, dtype=torch.int64)}
        for k, v in self.params.items():
            st[f"param/{k}"] = v.detach()
            s = self.opt.state.get(v, {})
            if s:
                st[f"exp_avg/{k}"] = s["exp_avg"]
                st[f"exp_avg_sq/{k}"] = s["exp_avg_sq"]
                st["__opt_step__"] = torch.as_tensor(s["step"]).detach().float().cpu().reshape(())
        return st

    def load_state(self, st: dict[str, torch.Tensor]) -> None:
        with torch.no_grad():
            for k, v in self.params.items():
                v.copy_(st[f"param/{k}"].to(v.device).view_as(v))
                if f"exp_avg/{k}" in st:
                    step = st["__opt_step__"].clone()
                    on_device = self.device.type == "cuda" and self.fast  # fused keeps `step` on the GPU
                    self.opt.state[v] = {
                        "step": step.to(v.device) if on_device else step,
                        "exp_avg": st[f"exp_avg/{k}"].to(v.device).view_as(v).clone(),
                        "exp_avg_sq": st[f"exp_avg_sq/{k}"].to(v.device).view_as(v).clone(),
                    }
        self.step_count = int(st["__step__"].item())
        self._graph, self._graph_warm = None, 0  # the optimizer state tensors were replaced
