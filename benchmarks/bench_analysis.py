"""How long the analyses take on this machine: activations, each view's per-step numbers, the progress pass.

    python benchmarks/bench_analysis.py [--series checkpoints/default] [--repeat 7] [--threads 2] [--skip-series]

Budgets (DESIGN.md, issue 4): the grid activations of one checkpoint ≤ 150 ms, each view's
per-step quantities ≤ 50 ms (the grok_core.views functions the app calls, including the attention half
of the grid where a view reads it), the whole-series progress pass ≤ 30 s. Per-step
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

from grok_core.analysis import progress  # noqa: E402
from grok_core.model import grid_attention, grid_cache  # noqa: E402
from grok_core.series import open_series  # noqa: E402
from grok_core.views import attention, crests, embeddings, reference, surfaces, waves  # noqa: E402

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
    full = grid_cache(final, cfg)
    grid = {k: full[k] for k in ("blocks.0.mlp.hook_pre", "blocks.0.mlp.hook_post")}
    t_keys, keys = timed(reference.key_frequencies, final, cfg, grid)
    t_nf, nfreq = timed(reference.neuron_frequencies, grid, cfg)
    k = reference.display_frequency(keys)
    t_dn, showcase = timed(reference.showcase_neurons, grid, cfg, k, 7)
    neuron = showcase[0]

    # The app's per-step readings (grok_core.views, as ui/cache.py calls them): waves and the scatter grid from the
    # p problems with x fixed; surfaces, crests and attention from the attention half of the grid (each time
    # below includes it, as on a step's first visit); the full grid only once per series (last checkpoint).
    views = {
        "activations (grid_cache, full grid)": [],
        "  attention half (grid_attention)": [],
        "3 neuron waves (x fixed) + purity": [],
        "4 neuron scatter grid (x fixed) + purity": [],
        "5 embedding norms + probes x, y": [],
        "6 surface spectrum + decomposition": [],
        "7 crests: logit of c (page default)": [],
        "7 crests: MLP output towards c": [],
        "8 attention + head frequencies": [],
    }
    half = s.steps[len(s.steps) // 2 :]
    picks = [int(half[i * (len(half) - 1) // max(1, args.repeat - 1)]) for i in range(args.repeat)]
    for step in picks:
        params = s.params_at(step)
        views["activations (grid_cache, full grid)"].append(timed(grid_cache, params, cfg)[0])
        views["  attention half (grid_attention)"].append(timed(grid_attention, params, cfg)[0])

        def wave_view(n, params=params):
            w = waves.x_slice(params, cfg, 0)[reference.HOOK_POST][:, showcase[:n]]
            return waves.purity(w, cfg)

        def surface(params=params):
            S = surfaces.neuron_surface(params, cfg, grid_attention(params, cfg), neuron)
            return surfaces.spectrum_at(S, neuron, int(nfreq[neuron]))

        fns = (lambda: wave_view(5), lambda: wave_view(7),
               lambda params=params: embeddings.embedding_at(params, cfg, k), surface,
               lambda params=params: crests.crest_at(params, cfg, grid_attention(params, cfg), "logit", 7),
               lambda params=params: crests.crest_at(params, cfg, grid_attention(params, cfg), "mlp_out", 7),
               lambda params=params: attention.attention_at(grid_attention(params, cfg), cfg))
        for name, fn in zip(list(views)[2:], fns, strict=True):
            views[name].append(timed(fn)[0])

    ok = True
    print(f"\nper step (median of {args.repeat} checkpoints, steps {picks[0]}..{picks[-1]}):")
    for name, ts in views.items():
        budget = ACTIVATIONS_MS if name.startswith(("activations", " ")) else PER_STEP_MS
        med = statistics.median(ts)
        ok &= med <= budget
        print(f"  {name:38s} {med:8.1f} ms  (max {max(ts):7.1f})  budget {budget:5.0f} ms  {'ok' if med <= budget else 'OVER'}")
    print("\nonce per series (final checkpoint; the app caches these):")
    print(f"  key frequencies {keys}: {t_keys:.0f} ms; neuron frequencies: {t_nf:.0f} ms; showcase neurons: {t_dn:.1f} ms")

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
