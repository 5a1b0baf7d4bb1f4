"""Grokking phase-diagram sweeps: many runs batched into one model, summarised into one small JSON.

A sweep trains every combination of train fraction × weight decay × seed as one stacked model
(`train.Runs`), all for the same number of steps, and records for each run the step where train
accuracy first reaches 99% (memorised), the step where test accuracy first reaches 99%
(generalised, or never), final losses and accuracies, key frequencies and coarse curves.

    python -m grok_core sweep OUT.json [--fracs 0.2,0.3,...] [--wds 0,0.1,...] [--seeds 0,1,2,3]
                                       [model/training options as for `train`]

Seed s means model initialisation s and train/test split `data_seed + s`, so every run can be
retrained alone with `train_series(..., run_config(sweep, i))` and gives the same milestones.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from . import __version__
from .config import ModelConfig, TrainConfig, model_config_from_dict, to_dict, train_config_from_dict
from .metrics import ACCURACY_THRESHOLD
from .model import grid_cache

FORMAT = "grok-sweep"
FORMAT_VERSION = 1
THRESHOLD = ACCURACY_THRESHOLD  # "memorised" / "generalised": accuracy first >= 99% (grok_core.metrics)
METRICS = ("train_loss", "test_loss", "train_acc", "test_acc")

# Outcome of one run, and the colours/legend of the phase diagram follow this order.
GROKS = "groks (delayed generalisation)"
NO_DELAY = "generalises without a delay"
NEVER_GENERALISES = "memorises but never generalises"
NEVER_FITS = "never fits"
CATEGORIES = (GROKS, NO_DELAY, NEVER_GENERALISES, NEVER_FITS)

DEFAULT_FRACS = (0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
DEFAULT_WDS = (0.0, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 3.0)
DEFAULT_SEEDS = (0, 1, 2, 3)  # 8 × 8 × 4 = 256 runs


class SweepError(Exception):
    """A sweep file that cannot be used, with a message naming the file and the problem."""


def default_no_delay(n_steps: int, metric_every: int) -> int:
    """Generalising within this many steps of memorising counts as "no delay"."""
    return max(2 * metric_every, n_steps // 50)


def classify(memorised: int | None, generalised: int | None, no_delay_steps: int) -> str:
    if memorised is None:
        return NEVER_FITS
    if generalised is None:
        return NEVER_GENERALISES
    return NO_DELAY if generalised - memorised <= no_delay_steps else GROKS


def run_configs(base: TrainConfig, fracs, wds, seeds) -> list[TrainConfig]:
    """The runs of a sweep, frac-major then weight decay then seed."""
    return [
        dataclasses.replace(base, frac_train=float(f), weight_decay=float(w), seed=int(s), data_seed=base.data_seed + int(s))
        for f in fracs
        for w in wds
        for s in seeds
    ]


def _key_freqs(params, mcfg: ModelConfig) -> list[int]:
    from .analysis.fourier import key_frequencies

    cache = grid_cache(params, mcfg)
    return [int(k) for k in key_frequencies(params, mcfg, cache=cache)]


def run_sweep(
    mcfg: ModelConfig,
    base: TrainConfig,
    fracs=DEFAULT_FRACS,
    wds=DEFAULT_WDS,
    seeds=DEFAULT_SEEDS,
    *,
    curve_every: int = 100,
    no_delay_steps: int | None = None,
    cuda_graph: bool = False,
    max_batch: int | None = None,
    progress: bool = True,
    title: str | None = None,
    provenance: dict | None = None,
) -> dict:
    """Train the grid and return the sweep record (see `save_sweep`); `max_batch` splits it into batches of runs."""
    from .train import Runs

    tcfgs = run_configs(base, fracs, wds, seeds)
    n, every = base.n_steps, base.metric_every
    if curve_every % every:
        raise ValueError(f"curve_every ({curve_every}) must be a multiple of metric_every ({every})")
    no_delay_steps = default_no_delay(n, every) if no_delay_steps is None else int(no_delay_steps)
    curve_steps = sorted(set(range(0, n + 1, curve_every)) | {n})
    R = len(tcfgs)
    mem = [None] * R
    gen = [None] * R
    curves = {k: np.zeros((R, len(curve_steps))) for k in METRICS}
    final: list[dict] = [{}] * R
    keys: list[list[int]] = [[]] * R
    batch = max_batch or R
    t0 = time.perf_counter()
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n * R, unit="run-step", unit_scale=True, dynamic_ncols=True, file=sys.stderr)
    device = None
    for a in range(0, R, batch):
        runs = Runs(mcfg, tcfgs[a : a + batch], base.device, cuda_graph=cuda_graph)
        device = str(runs.device)
        for s in range(n + 1):
            if s % every == 0 or s == n:
                e = runs.evaluate()
                for j in range(runs.R):
                    r = a + j
                    if mem[r] is None and e["train_acc"][j] >= THRESHOLD:
                        mem[r] = s
                    if gen[r] is None and e["test_acc"][j] >= THRESHOLD:
                        gen[r] = s
                if s in curve_steps:
                    c = curve_steps.index(s)
                    for k in METRICS:
                        curves[k][a : a + runs.R, c] = e[k]
                if s == n:
                    for j in range(runs.R):
                        final[a + j] = {k: float(e[k][j]) for k in METRICS}
                if bar is not None:
                    bar.set_postfix(batch=f"{a // batch + 1}/{-(-R // batch)}",
                                    grokked=sum(g is not None for g in gen), refresh=False)
            if s < n:
                runs.step()
                if bar is not None:
                    bar.update(runs.R)
        for j in range(runs.R):
            keys[a + j] = _key_freqs(runs.run_params(j), mcfg)
    seconds = time.perf_counter() - t0
    if bar is not None:
        bar.close()
    run_list = []
    for r, t in enumerate(tcfgs):
        delay = None if mem[r] is None or gen[r] is None else gen[r] - mem[r]
        run_list.append({
            "frac_train": t.frac_train, "weight_decay": t.weight_decay, "seed": t.seed, "data_seed": t.data_seed,
            "memorised_step": mem[r], "generalised_step": gen[r], "delay": delay,
            "category": classify(mem[r], gen[r], no_delay_steps),
            "final": {k: _round(v) for k, v in final[r].items()},
            "key_frequencies": keys[r],
        })
    shared = to_dict(base)
    for k in ("frac_train", "weight_decay", "seed", "data_seed"):
        shared.pop(k)
    shared["data_seed_base"] = base.data_seed  # run data_seed = data_seed_base + seed
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "title": title,
        "model_config": to_dict(mcfg),
        "train_config": shared,  # shared by all runs; frac_train, weight_decay, seed per run
        "axes": {"frac_train": [float(f) for f in fracs], "weight_decay": [float(w) for w in wds],
                 "seed": [int(s) for s in seeds]},
        "thresholds": {"memorised_acc": THRESHOLD, "generalised_acc": THRESHOLD, "no_delay_steps": no_delay_steps},
        "runs": run_list,
        "curves": {"step": curve_steps, **{k: [[_round(v) for v in row] for row in curves[k]] for k in METRICS}},
        "timing": {"seconds": round(seconds, 2), "runs": R, "steps": n, "batch": batch,
                   "us_per_run_step": round(1e6 * seconds / max(1, R * n), 2),
                   "note": "wall time including evaluation every metric_every steps and key frequencies"},
        "provenance": {
            "grok_core_version": __version__,
            "torch_version": torch.__version__,
            "device": device,
            "gpu": torch.cuda.get_device_name(0) if device and device.startswith("cuda") else None,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "command": " ".join(["python -m grok_core", *sys.argv[1:]]) if sys.argv and sys.argv[0] else None,
            **(provenance or {}),
        },
    }


def _round(v: float, digits: int = 5) -> float:
    return float(f"{float(v):.{digits}g}")


def save_sweep(record: dict, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    from .series import atomic_write_bytes

    atomic_write_bytes(path, json.dumps(record, separators=(",", ":")).encode())
    return path


@dataclass
class Sweep:
    """A loaded sweep: the record plus convenient arrays."""

    path: Path
    record: dict
    model_cfg: ModelConfig
    train_cfg: TrainConfig  # the shared config (frac_train/weight_decay/seed of run 0)

    @property
    def runs(self) -> list[dict]:
        return self.record["runs"]

    @property
    def axes(self) -> dict[str, list]:
        return self.record["axes"]

    @property
    def title(self) -> str:
        return self.record.get("title") or self.path.stem

    @property
    def no_delay_steps(self) -> int:
        return int(self.record["thresholds"]["no_delay_steps"])

    def run_config(self, i: int) -> TrainConfig:
        """The full TrainConfig of run i, to retrain it alone."""
        r = self.runs[i]
        return dataclasses.replace(self.train_cfg, frac_train=r["frac_train"], weight_decay=r["weight_decay"],
                                   seed=r["seed"], data_seed=r["data_seed"])

    def curves(self, i: int) -> dict[str, np.ndarray]:
        c = self.record["curves"]
        return {"step": np.asarray(c["step"], dtype=np.int64), **{k: np.asarray(c[k][i], dtype=np.float64) for k in METRICS}}

    def runs_in_cell(self, frac: float, wd: float) -> list[int]:
        return [i for i, r in enumerate(self.runs) if r["frac_train"] == frac and r["weight_decay"] == wd]

    def cells(self) -> list[dict]:
        """One entry per (frac_train, weight_decay): the majority outcome over seeds and the median delay."""
        out = []
        for f in self.axes["frac_train"]:
            for w in self.axes["weight_decay"]:
                idx = self.runs_in_cell(f, w)
                cats = Counter(self.runs[i]["category"] for i in idx)
                top = max(CATEGORIES, key=lambda c: (cats[c], -CATEGORIES.index(c)))
                delays = [self.runs[i]["delay"] for i in idx if self.runs[i]["category"] in (GROKS, NO_DELAY)]
                out.append({"frac_train": f, "weight_decay": w, "category": top, "runs": idx,
                            "n_runs": len(idx), "n_category": cats[top],
                            "delay": float(np.median(delays)) if delays else None})
        return out


def load_sweep(path) -> Sweep:
    """Read and check a sweep file; SweepError names the file and the problem."""
    path = Path(path)
    if not path.is_file():
        raise SweepError(f"{path}: missing (not a file)")
    try:
        rec = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise SweepError(f"{path}: not valid JSON ({e})") from e
    if not isinstance(rec, dict) or rec.get("format") != FORMAT:
        raise SweepError(f"{path}: not a {FORMAT} file")
    if rec.get("format_version") != FORMAT_VERSION:
        raise SweepError(f"{path}: format_version {rec.get('format_version')!r} is not supported "
                         f"(this grok_core reads {FORMAT_VERSION})")
    try:
        mcfg = model_config_from_dict(rec["model_config"])
        r0 = rec["runs"][0]
        shared = {k: v for k, v in rec["train_config"].items() if k != "data_seed_base"}  # per run: data_seed
        tcfg = train_config_from_dict({**shared, "frac_train": r0["frac_train"],
                                       "weight_decay": r0["weight_decay"], "seed": r0["seed"],
                                       "data_seed": r0["data_seed"]})
        axes, runs, curves = rec["axes"], rec["runs"], rec["curves"]
        n_axes = len(axes["frac_train"]) * len(axes["weight_decay"]) * len(axes["seed"])
        if len(runs) != n_axes:
            raise ValueError(f"{len(runs)} runs for a {n_axes}-run grid")
        T = len(curves["step"])
        for k in METRICS:
            if len(curves[k]) != len(runs) or any(len(row) != T for row in curves[k]):
                raise ValueError(f"curves[{k!r}] is not [runs, {T}]")
        for r in runs:
            if r["category"] not in CATEGORIES:
                raise ValueError(f"unknown category {r['category']!r}")
        int(rec["thresholds"]["no_delay_steps"])
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as e:
        raise SweepError(f"{path}: malformed sweep ({type(e).__name__}: {e})") from e
    return Sweep(path, rec, mcfg, tcfg)


# -- command line --------------------------------------------------------------------------------
def _floats(s: str) -> list[float]:
    return [float(x) for x in s.split(",") if x.strip()]


def _ints(s: str) -> list[int]:
    return [int(x) for x in s.split(",") if x.strip()]


def cmd_sweep(args) -> int:
    from .cli import _configs

    mcfg, base = _configs(args)
    tcfgs = run_configs(base, args.fracs, args.wds, args.seeds)
    print(f"sweep: {len(args.fracs)} train fractions × {len(args.wds)} weight decays × {len(args.seeds)} seeds "
          f"= {len(tcfgs)} runs, {base.n_steps} steps each\n{mcfg}", file=sys.stderr)
    rec = run_sweep(mcfg, base, args.fracs, args.wds, args.seeds, curve_every=args.curve_every,
                    no_delay_steps=args.no_delay_steps, cuda_graph=args.cuda_graph, max_batch=args.max_batch,
                    progress=not args.quiet, title=args.title,
                    provenance={"command": getattr(args, "command", None), **({"note": args.note} if args.note else {})})
    save_sweep(rec, args.out)
    counts = Counter(r["category"] for r in rec["runs"])
    print(json.dumps({"out": str(args.out), "timing": rec["timing"], "outcomes": dict(counts)}, indent=1))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    from .cli import _add_config_args

    sp = sub.add_parser("sweep", help="train a grid of runs (train fraction × weight decay × seed) batched into one model",
                        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sp.add_argument("out", type=Path, help="result file (JSON)")
    sp.add_argument("--fracs", type=_floats, default=list(DEFAULT_FRACS), help="train fractions, comma separated")
    sp.add_argument("--wds", type=_floats, default=list(DEFAULT_WDS), help="weight decays, comma separated")
    sp.add_argument("--seeds", type=_ints, default=list(DEFAULT_SEEDS), help="seeds, comma separated")
    sp.add_argument("--curve-every", type=int, default=100, help="keep train/test curves every this many steps")
    sp.add_argument("--no-delay-steps", type=int, default=None,
                    help="generalising within this many steps of memorising counts as no delay "
                         "(default max(2*metric_every, n_steps/50))")
    sp.add_argument("--max-batch", type=int, default=None, help="train at most this many runs at once")
    sp.add_argument("--cuda-graph", action="store_true", help="capture each training step in a CUDA graph")
    sp.add_argument("--title", default=None)
    sp.add_argument("--note", default=None, help="free text stored in the provenance")
    sp.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_config_args(sp)
    sp.set_defaults(fn=cmd_sweep)
