"""The figure builders (grok_core.plots): every one valid plotly, plain JSON, titled; and the phases they shade."""

from __future__ import annotations

import json

import numpy as np


def test_figures_are_valid_plotly():
    """The builders skip plotly's validation for speed (grok_core/plots/base.py), so check every one against it."""
    from grok_core import plots
    from grok_core.phases import phase_spans

    rng = np.random.default_rng(0)
    p, steps = 23, np.arange(0, 1000, 10)
    m = {"step": steps, "train_loss": np.exp(-steps / 100), "test_loss": 2 - steps / 1000,
         "train_acc": np.minimum(1, steps / 100), "test_acc": steps / 1000}
    spans = phase_spans(m)
    surf = rng.standard_normal((p, p))
    ident = {k: surf for k in ("cos kx·cos ky", "sin kx·sin ky", "difference", "cos k(x+y)")}
    prog = {"step": steps, "restricted_loss": m["test_loss"], "excluded_loss": m["train_loss"]}
    figs = [
        plots.loss_curves(m, 500, spans), plots.accuracy_curves(m, 500, spans), plots.one_hot_matrix([1, 2, p], p + 1),
        plots.embedding_matrix(rng.standard_normal((3, 16)), [1, 2, p], p, 5), plots.answer_probs(rng.random(p), 3, 5),
        plots.neuron_waves(rng.random((p, 3)), [1, 2, 3], 0, 5),
        plots.scatter_grid(rng.random((4, p)), [1, 2, 3, 4], 0, 5),
        plots.scatter_grid(rng.random((3, p)), [1, 2, 3], 0, 5, webgl=True),
        plots.freq_norms(rng.random((p - 1) // 2), [2, 5], 5),
        plots.probe_curves({"x": (rng.random(p), rng.random(p)), "y": (rng.random(p), rng.random(p))}, 2, 5,
                           {"x": (0.9, 0.8), "y": (0.7, 0.6)}),
        plots.probe_circles({"x": (rng.random(p), rng.random(p)), "y": (rng.random(p), rng.random(p))}, 2, 5), plots.surface_heatmap(surf, "t", 5, lines_c=7),
        plots.surface_heatmap(np.abs(surf), "t", 5), plots.surface_3d(surf, "t", 5), plots.spectrum_2d(surf, 5),
        plots.surface_3d_animated([(0, surf), (10, -surf)], "t"),
        plots.surface_3d(surf, "t", 5, order=(np.arange(p) * 12) % p, k=2),
        plots.surface_3d_animated([(0, surf), (10, -surf)], "t", order=(np.arange(p) * 12) % p, k=2),
        plots.attention_heads(rng.random((p, p, 4)), 5, [1, 2, 3, 4], shares=[0.1, 0.2, 0.3, 0.4]),
        plots.neuron_waves(rng.random((p, 2)), [1, 2], 0, 5, purity=(np.array([3, 0]), np.array([0.5, 0.0]))),
        plots.top_terms_bar([{"name": "cos 2x", "coef": 1.0, "frac": 0.3}], 5),
        plots.decomposition([("a", surf), ("b", surf)], 5, 3), plots.trig_identity(ident, 2),
        plots.diagonal_profile(surf, 7, 5, "t"), plots.attention_heads(rng.random((p, p, 4)), 5),
        plots.attention_vs_x(rng.random((p, p, 4)), 5), plots.progress_losses(prog, m, 5, spans),
        plots.progress_panels({"step": steps, "sum_sq_weights": m["test_acc"], "gini": m["test_acc"],
                               "n_key_freqs": m["test_acc"]}, 5, spans),
        plots.progress_panels({"step": steps, "sum_sq_weights": m["test_acc"], "gini": m["test_acc"],
                               "key_share": m["test_acc"]}, 5, spans), plots.live_curves([1, 2], [1, 0.5], [1, 0.9], "loss", True),
    ]
    def named_scales(v):  # plotly.js knows few colour-scale names (and none of plotly.py's "_r" ones)
        if isinstance(v, dict):
            return [x for k, x in v.items() if k == "colorscale" and isinstance(x, str)] + [
                n for x in v.values() for n in named_scales(x)]
        return [n for x in v for n in named_scales(x)] if isinstance(v, list) else []

    for f in figs:
        f.full()  # raises ValueError on any property plotly does not know
        assert f.title.strip()
        json.dumps(f.to_dict())  # what ui/charts.py sends is plain JSON
        assert not named_scales(f.to_dict()), f.title
    # every builder given a step names it at the end of its title (the browser benchmark waits for it), the others not
    stepped = [f.title for f in figs if f.title.endswith(("— step 5", "— step 500"))]
    assert len(stepped) == len(figs) - 5, [f.title for f in figs if f.title not in stepped]


def test_phase_spans_follow_the_metrics():
    from grok_core.phases import Phase, phase_at, phase_spans

    steps = np.arange(0, 10_000, 100)
    train_acc = np.minimum(1.0, steps / 500)
    test_loss = np.where(steps < 1000, 5 + steps / 200, np.where(steps < 6000, 10.0, 0.01))
    test_acc = np.where(steps < 7000, 0.05, 1.0)
    spans = phase_spans({"step": steps, "train_acc": train_acc, "test_loss": test_loss, "test_acc": test_acc})
    assert [s[0] for s in spans] == list(Phase)
    assert spans[0][1] == 0 and spans[-1][2] == steps[-1]
    assert phase_at(spans, 300) == Phase.MEMORISING and phase_at(spans, 9000) == Phase.GENERALISED
