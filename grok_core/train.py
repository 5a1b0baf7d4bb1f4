"""Training: full-batch AdamW on the seeded split, float64 loss at the last position.

`Runs` trains R models at once (different seeds, splits, weight decays) as one stacked model;
a single run is R = 1. `train_series` wraps one run with checkpoints, metrics, a progress bar,
Ctrl-C safety and exact resume. The same code runs on the CPU and on CUDA (fused AdamW there).
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from . import __version__
from .config import ModelConfig, TrainConfig
from .data import labels as make_labels
from .data import split_mask
from .model import forward_last, init_params, stack_params
from .series import JSON_NAME, Series, SeriesError, SeriesWriter, open_series

SHARED_FIELDS = ("operation", "lr", "betas", "warmup_steps", "n_steps")


def select_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' asked for, but no CUDA GPU is available")
    return torch.device(name)


class Runs:
    """R training runs stacked into one model: parameters [R, ...], per-run split and weight decay."""

    def __init__(self, mcfg: ModelConfig, tcfgs: list[TrainConfig], device: str | torch.device = "auto"):
        t0 = tcfgs[0]
        for t in tcfgs[1:]:
            for f in SHARED_FIELDS:
                if getattr(t, f) != getattr(t0, f):
                    raise ValueError(f"runs trained together must share {f}")
        self.mcfg, self.tcfgs, self.tcfg = mcfg, tcfgs, t0
        self.device = select_device(device) if isinstance(device, str) else device
        if self.device.type == "cuda":
            torch.backends.cuda.matmul.allow_tf32 = t0.precision == "tf32"
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
        self.train_idx = torch.from_numpy(idx).to(self.device)
        self.train_w = torch.from_numpy(w).to(self.device)
        self.wd = torch.tensor([t.weight_decay for t in tcfgs], dtype=torch.float32, device=self.device)
        self.opt = torch.optim.AdamW(
            list(self.params.values()),
            lr=t0.lr,
            betas=t0.betas,
            weight_decay=0.0,  # decoupled decay applied per run in `step`
            **({"fused": True} if self.device.type == "cuda" else {"foreach": True}),
        )
        self.mask_t = torch.from_numpy(self.masks).to(self.device)
        self.step_count = 0

    def lr_at(self, step: int) -> float:
        return self.tcfg.lr * min(1.0, (step + 1) / max(1, self.tcfg.warmup_steps))

    def _loss(self, idx: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        p = self.mcfg.p
        logits = forward_last(self.params, self.mcfg, idx // p, idx % p)  # [R, n, p]
        logp = logits.double().log_softmax(-1)  # float64: float32 is unstable at very low loss
        nll = -logp.gather(-1, self.labels[idx].unsqueeze(-1)).squeeze(-1)  # [R, n]
        return (nll * weights).sum()

    def step(self) -> None:
        """One full-batch AdamW update of every run."""
        lr = self.lr_at(self.step_count)
        for g in self.opt.param_groups:
            g["lr"] = lr
        self.opt.zero_grad(set_to_none=True)
        self._loss(self.train_idx, self.train_w).backward()
        with torch.no_grad():
            decay = (1.0 - lr * self.wd).float()
            for v in self.params.values():  # AdamW's decoupled decay, before the Adam update
                v.mul_(decay.view(-1, *([1] * (v.dim() - 1))))
        self.opt.step()
        self.step_count += 1

    @torch.no_grad()
    def evaluate(self, chunk: int = 16) -> dict[str, np.ndarray]:
        """Loss and accuracy on train and test for every run, over all p*p problems: [R] each."""
        p = self.mcfg.p
        idx = torch.arange(p * p, device=self.device)
        out = {k: [] for k in ("train_loss", "test_loss", "train_acc", "test_acc")}
        for a in range(0, self.R, chunk):
            sub = {k: v[a : a + chunk] for k, v in self.params.items()}
            n = next(iter(sub.values())).shape[0]
            logits = forward_last(sub, self.mcfg, (idx // p).expand(n, -1), (idx % p).expand(n, -1))
            logp = logits.double().log_softmax(-1)
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
                    self.opt.state[v] = {
                        "step": step.to(v.device) if self.device.type == "cuda" else step,
                        "exp_avg": st[f"exp_avg/{k}"].to(v.device).view_as(v).clone(),
                        "exp_avg_sq": st[f"exp_avg_sq/{k}"].to(v.device).view_as(v).clone(),
                    }
        self.step_count = int(st["__step__"].item())


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
) -> Series:
    """Train one run and write it as a series in `out`; returns the loaded series.

    If `out` holds a partial series of the same configs and `resume`, training continues from its
    last saved state and yields the same checkpoints as an uninterrupted run. `callback(event)`
    receives {"step", "n_steps", "metrics"} at each metric step; returning "stop" stops cleanly.
    Ctrl-C flushes everything completed and re-raises KeyboardInterrupt.
    """
    out = Path(out)
    runs = Runs(mcfg, [tcfg], tcfg.device)
    ckpts = set(tcfg.checkpoint_steps())
    start = 0
    if (out / JSON_NAME).exists():
        if not resume:
            raise SeriesError(f"{out}: a series already exists here (pass resume=True to continue it, or choose another folder)")
        existing = open_series(out)
        if existing.model_cfg != mcfg or existing.train_cfg != tcfg:
            raise SeriesError(f"{out}: holds a series with a different config; refusing to mix runs")
        if existing.complete:
            return existing
        writer, state = SeriesWriter.resume(out)
        if state is None:
            raise SeriesError(f"{out}: partial series without a resume state; delete it and start again")
        runs.load_state(state)
        start = runs.step_count
        if writer.dtype != dtype:
            raise SeriesError(f"{out}: existing series stores {writer.dtype}, asked for {dtype}")
    else:
        prov = {
            "grok_core_version": __version__,
            "torch_version": torch.__version__,
            "device": str(runs.device),
            "command": " ".join(sys.argv) if sys.argv and sys.argv[0] else None,
            **(provenance or {}),
        }
        writer = SeriesWriter(out, mcfg, tcfg, runs.masks[0], dtype=dtype, title=title, provenance=prov)
    bar = _progress_bar(tcfg.n_steps, start, progress)
    last_flush = time.monotonic()
    stopped = False
    try:
        for s in range(start, tcfg.n_steps + 1):
            resumed_here = s == start and start > 0  # metrics/checkpoint at `start` are already saved
            if not resumed_here and (s % tcfg.metric_every == 0 or s in ckpts):
                m = {k: float(v[0]) for k, v in runs.evaluate().items()}
                writer.add_metrics(s, m)
                if bar is not None:
                    bar.set_postfix(
                        train_loss=f"{m['train_loss']:.3g}", test_loss=f"{m['test_loss']:.3g}",
                        train_acc=f"{m['train_acc']:.3f}", test_acc=f"{m['test_acc']:.3f}", refresh=False,
                    )
                if callback is not None and callback({"step": s, "n_steps": tcfg.n_steps, "metrics": m}) == "stop":
                    stopped = True
            if not resumed_here and s in ckpts:
                writer.add_checkpoint(s, runs.run_params(0))
                if s < tcfg.n_steps and (time.monotonic() - last_flush > flush_every_s or stopped):
                    writer.set_resume_state(_single(runs.state()))
                    writer.flush()
                    last_flush = time.monotonic()
            if s == tcfg.n_steps or stopped:
                break
            runs.step()
            if bar is not None:
                bar.update(1)
    except KeyboardInterrupt:
        _flush_partial(writer, runs, ckpts)
        if bar is not None:
            bar.close()
        print(f"\ninterrupted: saved up to step {writer.meta['resume']['step'] if writer.meta.get('resume') else 0}; "
              f"run the same command again to resume", file=sys.stderr)
        raise
    if bar is not None:
        bar.close()
    if stopped and runs.step_count < tcfg.n_steps:
        _flush_partial(writer, runs, ckpts)
    else:
        writer.flush(complete=True)
    return open_series(out)


def _single(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().contiguous() for k, v in state.items()}


def _flush_partial(writer: SeriesWriter, runs: Runs, ckpts: set[int]) -> None:
    """On interruption: keep what is consistent with the last checkpoint taken.

    The resume state must sit exactly at a listed checkpoint, so that resuming replays the same
    steps; the state is saved only if the current step is a checkpoint that was just recorded.
    Otherwise the previous resume state (from the last flush) stays valid and unsaved checkpoints
    since then are dropped from the open shard.
    """
    if runs.step_count in ckpts and writer._open_steps and writer._open_steps[-1] == runs.step_count:
        writer.set_resume_state(_single(runs.state()))
        writer.flush()
        return
    # Roll back the unsaved tail to the last flushed state.
    r = writer.meta.get("resume")
    keep_until = r["step"] if r else -1
    listed = {st for sh in writer.meta["shards"] for st in sh["steps"]}
    while writer._open_steps and writer._open_steps[-1] > keep_until and writer._open_steps[-1] not in listed:
        writer._open_steps.pop()
        for v in writer._open.values():
            v.pop()
    m = writer.meta["metrics"]
    while m["step"] and m["step"][-1] > keep_until:
        for v in m.values():
            v.pop()
    writer.flush()


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


def main_summary_json(series: Series) -> str:
    return json.dumps(summary(series), indent=1)


def eta_seconds(started: float, done: int, total: int) -> float:
    rate = done / max(1e-9, time.monotonic() - started)
    return math.inf if rate == 0 else (total - done) / rate
