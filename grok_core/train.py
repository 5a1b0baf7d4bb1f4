"""Training: full-batch AdamW on the seeded split, float64 loss at the last position.

`Runs` trains R models at once (different seeds, splits, weight decays) as one stacked model;
a single run is R = 1. `train_series` wraps one run with checkpoints, metrics, a progress bar,
Ctrl-C safety and exact resume. The same code runs on the CPU and on CUDA.

Two paths, which must give the same dynamics (checked by `python -m grok_core bench`):
- fast (default): `model.forward_last` (only the last position), foreach AdamW on the CPU, fused
  AdamW on CUDA, optionally the whole step captured in one CUDA graph (`cuda_graph=True`) and
  TF32 matmuls (`TrainConfig.precision="tf32"`);
- plain: the TransformerLens-style forward over all positions, single-tensor AdamW, float32,
  eager: the reference the fast path is checked against.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from . import __version__
from .config import ModelConfig, TrainConfig
from .data import all_tokens, split_mask
from .data import labels as make_labels
from .model import forward_last, init_params, run_with_cache, stack_params
from .series import JSON_NAME, Series, SeriesError, SeriesWriter, open_series

SHARED_FIELDS = ("operation", "lr", "betas", "warmup_steps", "n_steps", "device", "precision")
GRAPH_WARMUP_STEPS = 3  # eager steps on a side stream before capturing (PyTorch's recipe)


def select_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' asked for, but no CUDA GPU is available")
    return torch.device(name)


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
        self.device = select_device(device) if isinstance(device, str) else device
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
        if not fast:
            kind = {"foreach": False}  # plain single-tensor AdamW, the reference
        elif cuda:
            kind = {"fused": True, "capturable": self.cuda_graph}
        else:
            kind = {"foreach": True}
        self.opt = torch.optim.AdamW(
            list(self.params.values()),
            lr=t0.lr,
            betas=t0.betas,
            weight_decay=0.0,  # decoupled decay applied per run in `_update`
            **kind,
        )
        self.mask_t = torch.from_numpy(self.masks).to(self.device)
        self.tokens = all_tokens(p).to(self.device)  # [p*p, 3] for the plain path
        self.step_count = 0
        self._graph = None
        self._graph_warm = 0

    def lr_at(self, step: int) -> float:
        return self.tcfg.lr * min(1.0, (step + 1) / max(1, self.tcfg.warmup_steps))

    def _loss(self) -> torch.Tensor:
        """Sum over runs of each run's mean train loss (float64 log-softmax)."""
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

    def _update(self, lr: float) -> None:
        """Loss, backward, AdamW's decoupled decay (before the Adam update, as torch.optim.AdamW), Adam."""
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
    def evaluate(self, chunk: int = 16) -> dict[str, np.ndarray]:
        """Loss and accuracy on train and test for every run, over all p*p problems: [R] each (float32 matmuls)."""
        p = self.mcfg.p
        idx = torch.arange(p * p, device=self.device)
        out = {k: [] for k in ("train_loss", "test_loss", "train_acc", "test_acc")}
        for a in range(0, self.R, chunk):
            sub = {k: v[a : a + chunk] for k, v in self.params.items()}
            logits = forward_last(sub, self.mcfg, idx // p, idx % p)  # [n, p*p, p]
            logp = logits.double().log_softmax(-1)
            n = logits.shape[0]
            nll = -logp.gather(-1, self.labels.expand(n, -1).unsqueeze(-1)).squeeze(-1)  # [n, p*p]
            correct = (logits.argmax(-1) == self.labels).double()
            m = self.mask_t[a : a + chunk].double()
            for name, w in (("train", m), ("test", 1 - m)):
                cnt = w.sum(1).clamp(min=1)
                out[f"{name}_loss"].append(((nll * w).sum(1) / cnt).cpu())
                out[f"{name}_acc"].append(((correct * w).sum(1) / cnt).cpu())
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


class _HoldCtrlC:
    """Hold a Ctrl-C until the current training step is complete (the loop polls `hit`).

    A second Ctrl-C interrupts at once. Only in the main thread: elsewhere (the app trains in a
    thread) Python delivers no KeyboardInterrupt anyway.
    """

    def __init__(self):
        self.hit = False
        self._old = None

    def _handler(self, signum, frame):
        if self.hit:
            raise KeyboardInterrupt
        self.hit = True

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            try:
                self._old = signal.signal(signal.SIGINT, self._handler)
            except ValueError:  # not allowed here (e.g. an embedded interpreter)
                self._old = None
        return self

    def __exit__(self, *exc):
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)
        return False


def _progress_bar(total: int, initial: int, enabled: bool):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, unit="step", dynamic_ncols=True, file=sys.stderr)


def train_series(
    out,
    mcfg: ModelConfig = ModelConfig(),
    tcfg: TrainConfig = TrainConfig(),
    dtype: str = "float32",
    resume: bool = True,
    progress: bool = True,
    callback: Callable[[dict], object] | None = None,
    title: str | None = None,
    flush_every_s: float = 10.0,
    provenance: dict | None = None,
    cuda_graph: bool = False,
    shard_size: int = 32,
) -> Series:
    """Train one run and write it as a series in `out`; returns the loaded series.

    If `out` holds a partial series of the same configs and `resume`, training continues from its
    last saved state and yields the same checkpoints and metrics as an uninterrupted run.
    `callback(event)` receives {"step", "n_steps", "metrics"} at each metric step; returning
    "stop" saves everything up to that step and returns the partial series. Ctrl-C does the same
    once the current step is complete, then re-raises KeyboardInterrupt (a second Ctrl-C
    interrupts at once, keeping what was saved before). A run killed at any moment leaves the
    series as it was at the last save (every `flush_every_s` seconds, at checkpoint steps).
    """
    out = Path(out)
    runs = Runs(mcfg, [tcfg], tcfg.device, cuda_graph=cuda_graph)
    ckpts = set(tcfg.checkpoint_steps())
    start, resumed = 0, False
    if (out / JSON_NAME).exists():
        if not resume:
            raise SeriesError(f"{out}: a series already exists here (pass resume=True to continue it, or choose another folder)")
        existing = open_series(out)
        if existing.model_cfg != mcfg or existing.train_cfg != tcfg:
            raise SeriesError(f"{out}: holds a series with a different config; refusing to mix runs")
        if existing.complete:
            return existing
        if existing.dtype_name != dtype:
            raise SeriesError(f"{out}: existing series stores {existing.dtype_name}, asked for {dtype}")
        writer, state = SeriesWriter.resume(out, shard_size=shard_size)
        if state is None:
            raise SeriesError(f"{out}: partial series without a resume state; delete it and start again")
        runs.load_state(state)
        start, resumed = runs.step_count, True
    else:
        prov = {
            "grok_core_version": __version__,
            "torch_version": torch.__version__,
            "device": str(runs.device),
            "command": " ".join(sys.argv) if sys.argv and sys.argv[0] else None,
            **(provenance or {}),
        }
        writer = SeriesWriter(out, mcfg, tcfg, runs.masks[0], dtype=dtype, shard_size=shard_size, title=title,
                              provenance=prov)
    saved_at = start if resumed else None  # the step of the state the folder holds, if any
    bar = _progress_bar(tcfg.n_steps, start, progress)
    last_flush = time.monotonic()
    stopped = interrupted = False
    s = start
    try:
        with _HoldCtrlC() as ctrl_c:
            for s in range(start, tcfg.n_steps + 1):
                done_here = resumed and s == start  # metrics/checkpoint at a resume point are already saved
                if not done_here and (s % tcfg.metric_every == 0 or s in ckpts):
                    m = {k: float(v[0]) for k, v in runs.evaluate().items()}
                    writer.add_metrics(s, m)
                    if bar is not None:
                        bar.set_postfix(
                            train_loss=f"{m['train_loss']:.3g}", test_loss=f"{m['test_loss']:.3g}",
                            train_acc=f"{m['train_acc']:.3f}", test_acc=f"{m['test_acc']:.3f}", refresh=False,
                        )
                    if callback is not None and callback({"step": s, "n_steps": tcfg.n_steps, "metrics": m}) == "stop":
                        stopped = True
                if not done_here and s in ckpts:
                    writer.add_checkpoint(s, runs.run_params(0))
                    # Save at the first checkpoint (so the folder is resumable at once), then every flush_every_s.
                    if s < tcfg.n_steps and (saved_at is None or time.monotonic() - last_flush > flush_every_s):
                        writer.set_resume_state(_single(runs.state()))
                        writer.flush()
                        saved_at, last_flush = s, time.monotonic()
                if ctrl_c.hit:
                    stopped = interrupted = True
                if s == tcfg.n_steps or stopped:
                    break
                runs.step()
                if bar is not None:
                    bar.update(1)
            # Everything up to step s is recorded and `runs` holds the state at step s: save exactly there.
            if s == tcfg.n_steps:
                writer.flush(complete=True)
            else:
                writer.set_resume_state(_single(runs.state()))
                writer.flush()
                saved_at = s
    except KeyboardInterrupt:
        # A second Ctrl-C (or one raised by a callback): the folder keeps its last saved state,
        # which is consistent; what was computed since is dropped rather than half written.
        interrupted = True
    finally:
        if bar is not None:
            bar.close()
    if interrupted:
        print(f"\ninterrupted: {'nothing saved yet' if saved_at is None else f'saved up to step {saved_at}'}; "
              f"run the same command again to resume", file=sys.stderr)
        raise KeyboardInterrupt
    return open_series(out)


def _single(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().contiguous() for k, v in state.items()}


def summary(series: Series) -> dict:
    """Final metrics and the grokking milestones, for CLI output and notes."""
    m = series.metrics

    def first(name, thr):
        hit = np.flatnonzero(m[name] >= thr)
        return int(m["step"][hit[0]]) if hit.size else None

    return {
        "steps": int(m["step"][-1]) if len(m["step"]) else None,
        "final": {k: float(m[k][-1]) for k in ("train_loss", "test_loss", "train_acc", "test_acc")},
        "memorised_step": first("train_acc", 0.99),
        "generalised_step": first("test_acc", 0.99),
    }


def recompute_metrics(series: Series, steps=None) -> dict[str, np.ndarray]:
    """Metrics recomputed from the stored (possibly float16) checkpoints, to check storage precision."""
    mcfg, tcfg = series.model_cfg, series.train_cfg
    steps = series.steps if steps is None else steps
    p = mcfg.p
    idx = torch.arange(p * p)
    lab = make_labels(p, tcfg.operation)
    mask = torch.from_numpy(series.train_mask)
    out = {k: [] for k in ("train_loss", "test_loss", "train_acc", "test_acc")}
    with torch.no_grad():
        for s in steps:
            logits = forward_last(series.params_at(int(s)), mcfg, idx // p, idx % p)
            nll = F.cross_entropy(logits.double(), lab, reduction="none")
            acc = (logits.argmax(-1) == lab).double()
            for name, w in (("train", mask), ("test", ~mask)):
                out[f"{name}_loss"].append(float(nll[w].mean()))
                out[f"{name}_acc"].append(float(acc[w].mean()))
    return {k: np.array(v) for k, v in out.items()}
