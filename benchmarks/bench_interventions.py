"""How long the interventions, the correctness map and the comparison take per step on this machine.

    python benchmarks/bench_interventions.py [--series checkpoints/default] [--other SERIES] [--repeat 7] [--threads 2]

Budget (issue 13): each reading ≤ 50 ms of server time per step, given the step's grid cache (which
the app computes once per step for every view; its cost is bench_analysis's "activations"). The
embedding intervention runs the model again on the whole grid, so it is reported separately, as is
the first call in a fresh process (imports, cached Fourier bases). Medians over --repeat checkpoints of
the series' second half, each new (nothing cached between runs). Exits 1 if a per-step reading misses 50 ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

PER_STEP_MS = 50.0


CPU: dict[str, list[float]] = {}  # process CPU time per reading: on a busy shared machine, the closer proxy for a quiet one


def timed(fn, *args, **kw) -> tuple[float, object]:
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn(*args, **kw)
    timed.last_cpu = (time.process_time() - c0) * 1000
    return (time.perf_counter() - t0) * 1000, out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--series", default=str(REPO / "checkpoints" / "default"))
    ap.add_argument("--other", default=None, help="run B of the comparison (default: the same series)")
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads (the app's 2-core target)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    t_import, _ = timed(__import__, "grok_core.plots.correctness")  # the analysis modules and plotly
    from grok_core.analysis import compare, correctness, progress
    from grok_core.analysis import interventions as iv
    from grok_core.data import labels as make_labels
    from grok_core.model import grid_cache
    from grok_core.plots import compare as plots_compare
    from grok_core.plots import correctness as plots_correctness
    from grok_core.series import open_series
    from grok_core.views import compare as compare_view
    from grok_core.views import interventions as iv_view

    s = open_series(args.series, verify=False)
    other = open_series(args.other, verify=False) if args.other else s
    cfg, mask = s.model_cfg, s.train_mask
    print(f"{s}; torch {torch.__version__}, {torch.get_num_threads()} threads; load average {os.getloadavg()[0]:.2f}")
    prog, prog_b = progress.series_progress(s), progress.series_progress(other)
    keys, keys_b = [int(k) for k in prog["key_freqs"]], [int(k) for k in prog_b["key_freqs"]]
    steps = [int(x) for x in s.steps[len(s.steps) // 2:]][-args.repeat:]

    # The first call in this process, on the last checkpoint: what a student waits for the first time.
    first_params = s.params_at(steps[-1])
    t_cache, first_cache = timed(grid_cache, first_params, cfg)
    first = {kind: timed(iv.default_comparison, kind, first_params, cfg, first_cache, mask, keys)[0] for kind in iv.KINDS}

    rows: dict[str, list[float]] = {}

    def add(name, ms):
        rows.setdefault(name, []).append(ms)
        CPU.setdefault(name, []).append(timed.last_cpu)

    for st in steps:
        params = s.params_at(st)
        cache = grid_cache(params, cfg)
        ms, cm = timed(correctness.correctness_map, cache, mask, st)
        add("correctness map (reading)", ms)
        add("correctness map (figure)", timed(plots_correctness.correctness_map, cm)[0])
        answer = make_labels(cfg.p)
        ms, before = timed(iv.scores, cache["logits"], answer, mask)
        add("scores before (accuracy and loss, train and test)", ms)
        ms, clusters = timed(iv.frequency_clusters, cache, cfg, ks=keys)
        add("frequency clusters of the key frequencies", ms)
        res, res_e = [], []
        for (cut, label), tag in zip(iv.default_cuts(keys), ("all keys", "one")):
            ms, r = timed(iv.intervene, "logits", cut, params, cfg, cache, mask, before=before, label=label)
            add(f"(b) logits, {tag}: cut + scores after", ms)
            res.append(r)
        for (cut, _), tag in zip(iv.default_cuts(keys, "neurons", clusters), ("all key clusters", "one cluster")):
            add(f"(c) neurons, {tag}: cut + scores after", timed(iv.intervene, "neurons", cut, params, cfg, cache, mask,
                                                                   before=before)[0])
        for (cut, label), tag in zip(iv.default_cuts(keys), ("all keys", "one")):
            ms, r = timed(iv.intervene, "embedding", cut, params, cfg, cache, mask, before=before, label=label)
            add(f"(a) embedding, {tag}: cut + grid forward + scores", ms)
            res_e.append(r)
        add("  after-map from an intervention", timed(correctness.from_predictions, res[0].predicted_after, mask, st)[0])
        add("before/after bars (figure)", timed(plots_correctness.intervention_bars, res + res_e, st)[0])

        def comparison(st=st, params=params):
            al = compare.align(s.steps, s.metrics, other.steps, other.metrics, st, "phase")
            pb = other.params_at(al.step_b)
            return compare.compare((s.title, params, cfg, s.metrics, keys),
                                   (other.title, pb, other.model_cfg, other.metrics, keys_b), al)

        ms, cp = timed(comparison)
        add("compare: align by phase + both readings + sentences", ms)
        runs = [(s.title, s.metrics, cp.alignment.step_a), (other.title, other.metrics, cp.alignment.step_b)]
        add("compare: curves of both (figure)", timed(plots_compare.compare_curves, runs)[0])
        runs_p = [(s.title, prog, cp.alignment.step_a), (other.title, prog_b, cp.alignment.step_b)]
        add("compare: loss vs sum of squared weights (figure)", timed(plots_compare.loss_vs_weight_norm, runs_p)[0])

        # The pages' readings (grok_core.views), as ui.cache calls them: each from the step's parameters alone.
        a_run, b_run = ("a", s.title, s, keys), ("b", other.title, other, keys_b)
        add("view compare_at (align by phase, both runs)", timed(compare_view.compare_at, a_run, b_run, st, "phase")[0])
        add("view omnigrok_at (loss vs weight norm)", timed(compare_view.omnigrok_at, prog, st)[0])
        add("  view correctness_at (grid forward + map)", timed(iv_view.correctness_at, params, cfg, mask, st)[0])
        add("  view interventions_at, logits (grid cache + 2 cuts + maps)",
            timed(iv_view.interventions_at, params, cfg, mask, st, keys, "logits")[0])
        add("  view interventions_at, neurons (grid cache + clusters + 2 cuts)",
            timed(iv_view.interventions_at, params, cfg, mask, st, keys, "neurons")[0])

    print(f"\nimport of the modules (plotly included): {t_import:.0f} ms; grid cache of one checkpoint: {t_cache:.0f} ms")
    print(f"first call in this process (step {steps[-1]}): " + ", ".join(f"{k} {v:.0f} ms" for k, v in first.items()))
    print(f"load average now {os.getloadavg()[0]:.2f}")
    print(f"\nper step, median of {len(steps)} checkpoints ({steps[0]} … {steps[-1]}), given the step's grid cache:")
    missed = []
    for name, ms in rows.items():
        med = statistics.median(ms)
        budget = "" if name.startswith(("  ", "(a)")) else ("  ok" if med <= PER_STEP_MS else "  OVER 50 ms")
        if budget.strip().startswith("OVER"):
            missed.append(name)
        cpu = statistics.median(CPU[name])
        print(f"  {name:<55s} {med:7.1f} ms   (max {max(ms):7.1f}; CPU {cpu:7.1f} ms){budget}")
    print(f"\nlast step: {res[0].label}: test accuracy {res[0].before.test_acc:.1%} -> {res[0].after.test_acc:.1%}; "
          f"{res[1].label if len(res) > 1 else ''}: -> {res[1].after.test_acc if len(res) > 1 else np.nan:.1%}")
    print("(a) runs the model again on the whole grid per cut (bench_analysis: activations), so it is not held to 50 ms;")
    print("the indented view readings include the step's grid forward / grid cache (the app computes them once per")
    print("step and prefetches the next step), so they are reported, not held to 50 ms.")
    if missed:
        print("missed the 50 ms budget:", ", ".join(missed))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
