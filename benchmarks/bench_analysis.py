"""How long the analyses take on this machine: activations, each view's per-step numbers, the progress pass.

    python benchmarks/bench_analysis.py [--series checkpoints/default] [--repeat 7] [--threads 2] [--skip-series]

Budgets (DESIGN.md, issue 4): the grid activations of one checkpoint ≤ 150 ms, each view's
per-step quantities ≤ 50 ms once those exist, the whole-series progress pass ≤ 30 s. Per-step
figures are medians over --repeat runs, each on a different checkpoint of the series's second
half (so nothing is cached between runs). Exits 1 if a budget is missed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from grok_core.analysis import attention, crests, fourier, neurons, probes, progress  # noqa: E402
from grok_core.model import grid_cache, grid_forward  # noqa: E402
from grok_core.series import open_series  # noqa: E402

PER_STEP_MS = 50.0
ACTIVATIONS_MS = 150.0
SERIES_S = 30.0


def timed(fn, *args, **kw) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn(*args, **kw)
    return (time.perf_counter() - t0) * 1000, out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--series", default=str(REPO / "checkpoints" / "default"))
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads (the app's 2-core target)")
    ap.add_argument("--skip-series", action="store_true", help="skip the whole-series progress pass")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    s = open_series(args.series, verify=False)
    cfg = s.model_cfg
    print(f"{s}; torch {torch.__version__}, {torch.get_num_threads()} threads; load average {os.getloadavg()[0]:.2f}")
    last = int(s.steps[-1])
    final = s.params_at(last)
    t_keys, keys = timed(fourier.key_frequencies, final, cfg, grid_cache(final, cfg))
    final_grid = neurons.neuron_grid(grid_cache(final, cfg), cfg)
    t_nf, _ = timed(fourier.neuron_frequencies, final_grid)
    t_dn, showcase = timed(neurons.default_neurons, final_grid, 7)
    k, neuron = keys[0], showcase[0]

    views = {
        "activations (grid_cache)": [],
        "  same via analysis.grid.grid_forward": [],
        "3 neuron waves": [],
        "4 neuron scatter grid": [],
        "5 embedding norms + probes x, y": [],
        "6 surface spectrum + decomposition": [],
        "7 crests (logit + MLP out)": [],
        "8 attention + head frequencies": [],
    }
    half = s.steps[len(s.steps) // 2 :]
    picks = [int(half[i * (len(half) - 1) // max(1, args.repeat - 1)]) for i in range(args.repeat)]
    for step in picks:
        params = s.params_at(step)
        t, cache = timed(grid_cache, params, cfg)
        views["activations (grid_cache)"].append(t)
        views["  same via analysis.grid.grid_forward"].append(timed(grid_forward, params, cfg, {})[0])

        def waves(cache=cache):
            return neurons.wave(neurons.neuron_grid(cache, cfg), 0)

        def scatter(cache=cache):
            return neurons.scatter_grid(neurons.neuron_grid(cache, cfg), showcase, x=0)

        def embeddings(params=params):
            fourier.embedding_freq_norms(params, cfg)
            return [probes.circle_probes(params, cfg, k, position=pos) for pos in (0, 1)]

        def surface(cache=cache):
            S = neurons.neuron_grid(cache, cfg)[:, :, neuron]
            return fourier.fourier_2d(S), fourier.top_terms(S, n=8), fourier.decompose(S, k)

        def crest_view(cache=cache, params=params):
            out = []
            for S in (crests.logit_surface(cache, params, cfg, 65), crests.mlp_out_surface(cache, params, cfg, 65)):
                c = crests.crest(S)
                out.append((c, crests.diagonal_fraction(S), crests.crest_points(c, cfg.p)))
            return out

        def attn(cache=cache):
            return attention.attention_to(cache, cfg), attention.head_frequencies(cache, cfg)

        for name, fn in zip(list(views)[2:], (waves, scatter, embeddings, surface, crest_view, attn)):
            views[name].append(timed(fn)[0])

    ok = True
    print(f"\nper step (median of {args.repeat} checkpoints, steps {picks[0]}..{picks[-1]}):")
    for name, ts in views.items():
        budget = ACTIVATIONS_MS if name.startswith(("activations", " ")) else PER_STEP_MS
        med = statistics.median(ts)
        ok &= med <= budget
        print(f"  {name:38s} {med:8.1f} ms  (max {max(ts):7.1f})  budget {budget:5.0f} ms  {'ok' if med <= budget else 'OVER'}")
    print("\nonce per series (final checkpoint; the app caches these):")
    print(f"  key frequencies {keys}: {t_keys:.0f} ms; neuron frequencies: {t_nf:.0f} ms; default neurons: {t_dn:.1f} ms")

    if not args.skip_series:
        load0 = f"{os.getloadavg()[0]:.2f}"
        t0, c0 = time.perf_counter(), time.process_time()
        res = progress.series_progress(s, cache=False)
        dt, cpu = time.perf_counter() - t0, time.process_time() - c0
        ok &= dt <= SERIES_S
        print(f"\nwhole-series progress pass: {len(res['step'])} checkpoints in {dt:.1f} s "
              f"({1000 * dt / len(res['step']):.0f} ms each)  budget {SERIES_S:.0f} s  {'ok' if dt <= SERIES_S else 'OVER'}")
        print(f"  this process used {cpu:.1f} s of CPU; load average before/after: {load0} / {os.getloadavg()[0]:.2f} "
              "(other jobs on the two cores inflate wall times)")
        print(f"  final: restricted {res['restricted_loss'][-1]:.3g}, excluded {res['excluded_loss'][-1]:.3g}, "
              f"train {res['train_loss'][-1]:.3g}, test {res['test_loss'][-1]:.3g}, gini {res['gini'][-1]:.3f}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
