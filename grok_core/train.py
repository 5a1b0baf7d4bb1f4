"""Training one run into a checkpoint series: metrics, checkpoints, a progress bar, Ctrl-C safety, exact resume.

The stacked model and its optimiser (R runs at once, the fast and plain paths) live in `runs.py`;
`train_series` drives one run of it (R = 1) and writes what it does into a series. The same code
runs on the CPU and on CUDA.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from . import __version__
from .config import ModelConfig, TrainConfig
from .data import labels as make_labels
from .device import select_device  # noqa: F401  (re-exported: the one device rule, see device.py)
from .metrics import first_step_reaching
from .model import forward_last
from .runs import GRAPH_WARMUP_STEPS, Runs  # noqa: F401  (re-exported for callers of train.Runs)
from .series import JSON_NAME, Series, SeriesError, open_series
from .series_writer import SeriesWriter


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
    return {
        "steps": int(m["step"][-1]) if len(m["step"]) else None,
        "final": {k: float(m[k][-1]) for k in ("train_loss", "test_loss", "train_acc", "test_acc")},
        "memorised_step": first_step_reaching(m["step"], m["train_acc"]),
        "generalised_step": first_step_reaching(m["step"], m["test_acc"]),
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
