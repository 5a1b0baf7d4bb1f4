"""`python -m grok_core bench`: training speed and the fast path's dynamics check.

Prints ms per step for one run, µs per run-step for runs batched into one model (16/64/256 by
default), and the dynamics check: on the same seeds, the step where test accuracy first reaches
99% on the fast path (with the options given: CUDA graph, TF32) is within 15% of the plain
float32 eager path (full TransformerLens-style forward, single-tensor AdamW), as a mean over the
seeds; per-seed differences are printed beside a noise floor (the fast path against itself with
the initial parameters nudged by 1e-6), since rounding alone moves the step of a single run.

Presets: "nanda" is the paper's configuration (p = 113, d_model 128, 30% data); "tiny" is the
test suite's grokking config (p = 31, d_model 32) that fits a CPU. "auto" (the default) picks
nanda on CUDA and tiny on the CPU. Timings exclude evaluation.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time

import numpy as np
import torch

from .config import ModelConfig, TrainConfig

# name: (model, training, dynamics-check steps, dynamics-check seeds)
PRESETS = {
    "nanda": (ModelConfig(), TrainConfig(), 15_000, [0, 1, 2]),
    "tiny": (
        ModelConfig(p=31, d_model=32, n_heads=4, d_head=8, d_mlp=128),
        TrainConfig(frac_train=0.5, lr=5e-3, weight_decay=2.0, n_steps=1000),
        1000,
        [0, 2, 3],  # seeds that generalise within 1000 steps in this config
    ),
}
TOLERANCE = 0.15
THRESHOLD = 0.99


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_runs(mcfg: ModelConfig, tcfg: TrainConfig, n_runs: int, steps: int, cuda_graph: bool = False,
              fast: bool = True) -> dict:
    """Seconds per training step for n_runs runs (seeds 0..n_runs-1) batched into one model."""
    from .train import GRAPH_WARMUP_STEPS, Runs

    tcfgs = [dataclasses.replace(tcfg, seed=s) for s in range(n_runs)]
    runs = Runs(mcfg, tcfgs, tcfg.device, fast=fast, cuda_graph=cuda_graph)
    # Past the lr warm-up (and the graph capture) so that what is timed is the steady state.
    for _ in range(max(3, tcfg.warmup_steps + (GRAPH_WARMUP_STEPS + 1 if runs.cuda_graph else 0))):
        runs.step()
    _sync(runs.device)
    t0 = time.perf_counter()
    for _ in range(steps):
        runs.step()
    _sync(runs.device)
    dt = (time.perf_counter() - t0) / steps
    return {"runs": n_runs, "ms_per_step": 1e3 * dt, "us_per_run_step": 1e6 * dt / n_runs,
            "cuda_graph": runs.cuda_graph, "device": str(runs.device)}


def first_generalised(mcfg: ModelConfig, tcfg: TrainConfig, seeds, n_steps: int, *, fast: bool,
                      cuda_graph: bool = False, every: int = 10, perturb: float = 0.0) -> list[int | None]:
    """For each seed: the first evaluated step with test accuracy >= 99% (None if never), runs batched.

    perturb scales every initial parameter by (1 + perturb): a rounding-sized nudge that shows how
    far the grokking step moves from float rounding alone (the noise floor of the check).
    """
    from .train import Runs

    tcfgs = [dataclasses.replace(tcfg, seed=s, n_steps=n_steps) for s in seeds]
    runs = Runs(mcfg, tcfgs, tcfg.device, fast=fast, cuda_graph=cuda_graph)
    if perturb:
        with torch.no_grad():
            for v in runs.params.values():
                v.mul_(1.0 + perturb)
    out: list[int | None] = [None] * len(tcfgs)
    for s in range(n_steps + 1):
        if s % every == 0:
            acc = runs.evaluate()["test_acc"]
            for j, a in enumerate(acc):
                if out[j] is None and a >= THRESHOLD:
                    out[j] = s
            if all(o is not None for o in out):
                break
        if s < n_steps:
            runs.step()
    return out


def _rel(a: int | None, b: int | None) -> float | None:
    return None if a is None or b is None else abs(a - b) / b


def dynamics_check(mcfg, tcfg, seeds, n_steps, cuda_graph=False, noise_floor: bool = True) -> dict:
    """Fast path against the plain float32 eager path on the same seeds.

    Passes when the mean over seeds of the first step with test accuracy >= 99% is within 15% on
    both paths and every seed generalises on both (or on neither). Per-seed differences are
    reported too, next to the noise floor: the fast path against itself with every initial
    parameter scaled by 1 + 1e-6, i.e. how much the step moves from rounding alone.
    """
    t0 = time.perf_counter()
    fast = first_generalised(mcfg, tcfg, seeds, n_steps, fast=True, cuda_graph=cuda_graph)
    t1 = time.perf_counter()
    plain = first_generalised(mcfg, tcfg, seeds, n_steps, fast=False)
    t2 = time.perf_counter()
    nudged = first_generalised(mcfg, tcfg, seeds, n_steps, fast=True, cuda_graph=cuda_graph, perturb=1e-6) \
        if noise_floor else [None] * len(seeds)
    rows = [{"seed": seed, "fast": f, "plain": p, "rel_diff": _rel(f, p), "fast_nudged": q, "noise_rel": _rel(q, f)}
            for seed, f, p, q in zip(seeds, fast, plain, nudged)]
    both = [r for r in rows if r["fast"] is not None and r["plain"] is not None]
    agree = all((r["fast"] is None) == (r["plain"] is None) for r in rows)
    mean_rel = None
    if both:
        mf, mp = np.mean([r["fast"] for r in both]), np.mean([r["plain"] for r in both])
        mean_rel = float(abs(mf - mp) / mp)
    return {"rows": rows, "mean_rel_diff": mean_rel, "ok": agree and mean_rel is not None and mean_rel <= TOLERANCE,
            "per_seed_ok": agree and all(r["rel_diff"] is None or r["rel_diff"] <= TOLERANCE for r in rows),
            "n_steps": n_steps, "seconds_fast": round(t1 - t0, 1), "seconds_plain": round(t2 - t1, 1)}


def cmd_bench(args) -> int:
    from .cli import _configs
    from .train import select_device

    if args.threads:
        torch.set_num_threads(args.threads)
    device = select_device(args.device or "auto")
    preset = args.preset if args.preset != "auto" else ("nanda" if device.type == "cuda" else "tiny")
    mcfg0, tcfg0, dyn_steps, dyn_seeds = PRESETS[preset]
    seeds = args.dyn_seeds or dyn_seeds
    # Explicit model/training options override the preset.
    mcfg, tcfg = _configs(args)
    mkw = {f.name: getattr(mcfg, f.name) for f in dataclasses.fields(ModelConfig)
           if getattr(args, f.name, None) is not None}
    tkw = {f.name: getattr(tcfg, f.name) for f in dataclasses.fields(TrainConfig)
           if getattr(args, f.name, None) is not None}
    mcfg = dataclasses.replace(mcfg0, **mkw)
    tcfg = dataclasses.replace(tcfg0, **tkw, device=str(device))
    print(f"bench on {device}{' (' + torch.cuda.get_device_name(device) + ')' if device.type == 'cuda' else ''}, "
          f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads\n"
          f"preset {preset}: {mcfg}\n  frac_train={tcfg.frac_train} lr={tcfg.lr} weight_decay={tcfg.weight_decay} "
          f"precision={tcfg.precision} cuda_graph={args.cuda_graph}", flush=True)
    result = {"device": str(device), "preset": preset, "model_config": dataclasses.asdict(mcfg),
              "precision": tcfg.precision, "cuda_graph": args.cuda_graph, "timing": [], "dynamics": None}
    for n in args.runs:
        r = time_runs(mcfg, tcfg, n, args.steps, cuda_graph=args.cuda_graph)
        result["timing"].append(r)
        if n == 1:
            print(f"  1 run:    {r['ms_per_step']:9.3f} ms/step", flush=True)
        else:
            print(f"  {n:3d} runs: {r['us_per_run_step']:9.1f} µs/run-step  ({r['ms_per_step']:.2f} ms/step)", flush=True)
    if args.plain:
        r = time_runs(mcfg, tcfg, 1, args.steps, fast=False)
        result["timing_plain"] = r
        print(f"  1 run, plain float32 eager path: {r['ms_per_step']:.3f} ms/step", flush=True)
    if not args.skip_dynamics:
        steps = args.dyn_steps or dyn_steps
        print(f"dynamics check: seeds {seeds}, up to {steps} steps, fast vs plain float32 eager "
              f"(first step with test accuracy >= 99%, tolerance {TOLERANCE:.0%})", flush=True)
        d = dynamics_check(mcfg, tcfg, seeds, steps, cuda_graph=args.cuda_graph, noise_floor=not args.no_noise_floor)
        result["dynamics"] = d

        def pct(v):
            return "n/a" if v is None else f"{v:.1%}"

        for row in d["rows"]:
            floor = "" if args.no_noise_floor else \
                f"   | noise floor: fast nudged by 1e-6 {row['fast_nudged']} ({pct(row['noise_rel'])})"
            print(f"  seed {row['seed']}: fast {row['fast']}  plain {row['plain']}  diff {pct(row['rel_diff'])}{floor}")
        print(f"  mean over seeds: diff {pct(d['mean_rel_diff'])} -> dynamics check "
              f"{'passed' if d['ok'] else 'FAILED'}; every seed within {TOLERANCE:.0%}: {d['per_seed_ok']} "
              f"({d['seconds_fast']} s fast, {d['seconds_plain']} s plain)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1, default=lambda o: o.item() if isinstance(o, np.generic) else str(o))
    return 0 if (result["dynamics"] is None or result["dynamics"]["ok"]) else 1


def _ints(s: str) -> list[int]:
    return [int(x) for x in s.split(",") if x.strip()]


def register(sub: argparse._SubParsersAction) -> None:
    from .cli import _add_config_args

    b = sub.add_parser("bench", help="ms/step for 1 run, µs/run-step for batched runs, and the dynamics check",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    b.add_argument("--preset", choices=["auto", *PRESETS], default="auto")
    b.add_argument("--runs", type=_ints, default=[1, 16, 64, 256], help="run counts to time (default 1,16,64,256)")
    b.add_argument("--steps", type=int, default=20, help="timed steps per run count")
    b.add_argument("--cuda-graph", action="store_true", help="capture each step in a CUDA graph (CUDA only)")
    b.add_argument("--plain", action="store_true", help="also time the plain float32 eager path for one run")
    b.add_argument("--dyn-seeds", type=_ints, default=None, help="seeds for the dynamics check (preset default)")
    b.add_argument("--dyn-steps", type=int, default=None, help="max steps of the dynamics check (preset default)")
    b.add_argument("--skip-dynamics", action="store_true")
    b.add_argument("--no-noise-floor", action="store_true", help="skip the nudged control run of the dynamics check")
    b.add_argument("--threads", type=int, default=None, help="torch CPU threads (default torch's choice)")
    b.add_argument("--json", default=None, help="also write the results to this file")
    _add_config_args(b)
    b.set_defaults(fn=cmd_bench)
