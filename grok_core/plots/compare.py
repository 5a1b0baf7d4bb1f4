"""Figures for comparing runs: training curves of two runs on one chart, and loss against weight norm (Omnigrok).

Colour tells the run apart, the line style the split (train solid, test dashed); each run's
current step is marked in its own colour, since runs aligned by phase sit at different steps.
"""

from __future__ import annotations

import numpy as np

from .base import CURRENT, base_layout, figure, legend_below, line_trace

RUN_COLORS = ("#009E73", "#CC79A7", "#E69F00", "#56B4E9")  # Okabe-Ito, apart from the train/test colours


def _step_line(step: int, color: str) -> dict:
    return {"type": "line", "xref": "x", "yref": "paper", "x0": step, "x1": step, "y0": 0, "y1": 1,
            "line": {"color": color, "width": 2, "dash": "dot"}}


def compare_curves(runs: list[tuple[str, dict, int]], metric: str = "loss"):
    """runs: (name, metrics, step) each. Train and test loss (log) or accuracy of every run against the step."""
    if metric not in ("loss", "acc"):
        raise ValueError(f"metric must be 'loss' or 'acc', got {metric!r}")
    data, shapes = [], []
    hover = "%{y:.3g}" if metric == "loss" else "%{y:.1%}"
    for (name, m, step), color in zip(runs, RUN_COLORS):
        for split, dash in (("train", None), ("test", "dash")):
            data.append(line_trace(m["step"], m[f"{split}_{metric}"], f"{name}: {split}", color, dash=dash, hover=hover,
                              legendgroup=name))
        shapes.append(_step_line(step, color))
    steps = " · ".join(f"{name} at {int(step):,}" for name, _, step in runs)  # short: two charts share a row
    if metric == "loss":
        title, ytitle, yaxis = "Loss (log scale)", "cross-entropy loss", {"type": "log"}
    else:
        title, ytitle, yaxis = "Accuracy", "accuracy", {"range": [0, 1.05], "tickformat": ".0%"}
    layout = base_layout(f"{title} — {steps}", None, "training step", ytitle, height=400, yaxis=yaxis,
                     hovermode="x unified", legend=legend_below(-0.3), shapes=shapes)
    return figure(data, layout)


def loss_vs_weight_norm(runs: list[tuple[str, dict, int]]):
    """runs: (name, progress, step) each, progress holding "step", "sum_sq_weights", "train_loss", "test_loss".

    Omnigrok's view (Liu et al. 2023): training moves through weight-norm space; with weight decay the
    norm shrinks and test loss falls with it, without it the norm grows and test loss stays high.
    """
    data = []
    for (name, prog, step), color in zip(runs, RUN_COLORS):
        w, s = np.asarray(prog["sum_sq_weights"], dtype=float), np.asarray(prog["step"])
        for split, dash in (("train", None), ("test", "dash")):
            data.append({**line_trace(w, prog[f"{split}_loss"], f"{name}: {split}", color, dash=dash, legendgroup=name,
                                 hover=f"{split} loss %{{y:.3g}}<br>Σ w² %{{x:.4g}}<br>step %{{customdata:,}}"
                                       "<extra></extra>"),
                         "customdata": s, "mode": "lines+markers", "marker": {"size": 3, "color": color}})
        data.append({"type": "scatter", "mode": "text", "x": [w[0]], "y": [float(prog["test_loss"][0])],
                     "text": ["start"], "textposition": "top center", "textfont": {"color": color}, "showlegend": False,
                     "legendgroup": name, "hoverinfo": "skip"})
        i = int(np.argmin(np.abs(s - int(step))))
        data.append({"type": "scatter", "mode": "markers", "x": [w[i], w[i]],
                     "y": [float(prog["train_loss"][i]), float(prog["test_loss"][i])], "name": f"{name}: step {int(s[i]):,}",
                     "legendgroup": name, "marker": {"size": 11, "color": color, "line": {"color": CURRENT, "width": 2},
                                                     "symbol": ["circle", "diamond"]},
                     "hovertemplate": f"step {int(s[i]):,}<br>loss %{{y:.3g}}<extra></extra>"})
    title = "Loss against the sum of squared weights — " + " · ".join(f"{n} at step {int(st):,}" for n, _, st in runs)
    layout = base_layout(title, None, "sum of squared weights Σ w²", "cross-entropy loss (log scale)", height=430,
                     yaxis={"type": "log"}, legend=legend_below(-0.25), hovermode="closest")
    return figure(data, layout)
