"""Figures for the correctness map and for interventions (numpy and dataclasses in, plots.Figure out)."""

from __future__ import annotations

import numpy as np

from ..analysis.correctness import CATEGORIES, CorrectnessMap
from ..analysis.interventions import Intervention
from .base import TEST, TRAIN, base_layout, figure, legend_below, square_axes

# Right is the full train / test colour, wrong a pale tint of it: train vs test by hue, right vs wrong by lightness.
CATEGORY_COLORS = (TRAIN, "#B9D7EC", TEST, "#F4C9AE")


def correctness_map(cmap: CorrectnessMap, title: str = "Which sums the model gets right", height: int = 470):
    """The p×p grid of sums with x across and y up, one colour per category; hover gives the model's answer.

    One heatmap per category (its cells 1, the rest empty) so that each names its category on hover and in
    the legend, with every array sent as a typed array (a figure of p² text labels takes ~10× longer).
    """
    p = cmap.p
    said = cmap.predicted.T.astype(np.float32)  # [p(y), p(x)]: heatmap rows are y
    data, legend = [], []
    for i, (name, color) in enumerate(zip(CATEGORIES, CATEGORY_COLORS)):
        z = np.where(cmap.codes.T == i, 1.0, np.nan).astype(np.float32)
        data.append({"type": "heatmap", "z": z, "customdata": said, "zmin": 0, "zmax": 1, "showscale": False,
                     "colorscale": [[0, color], [1, color]], "name": name, "hoverongaps": False,
                     "hovertemplate": f"%{{x}} + %{{y}}: the model says %{{customdata}}<br>{name}<extra></extra>"})
        legend.append({"type": "scatter", "mode": "markers", "x": [None], "y": [None], "hoverinfo": "skip",
                       "name": f"{name}: {cmap.counts[name]:,}", "marker": {"symbol": "square", "size": 13, "color": color}})
    xa, ya = square_axes(p)
    subtitle = f" (train {cmap.train_acc:.0%} right, test {cmap.test_acc:.0%})"
    layout = base_layout(title + subtitle, cmap.step, "x", "y", height=height, xaxis=xa, yaxis=ya,
                     legend={"x": 1.02, "y": 1, "xanchor": "left", "title": {"text": "problems"}})
    return figure(data + legend, layout)


def intervention_bars(results: list[Intervention], step: int, metric: str = "acc"):
    """Train and test accuracy (metric "acc") or loss ("loss") before and after each intervention, grouped bars."""
    if metric not in ("acc", "loss"):
        raise ValueError(f"metric must be 'acc' or 'loss', got {metric!r}")
    labels = ["before"] + [r.label for r in results]
    data = []
    for split, color in (("train", TRAIN), ("test", TEST)):
        key = f"{split}_{metric}"
        first = getattr(results[0].before, key) if results else float("nan")
        ys = [first] + [getattr(r.after, key) for r in results]
        fmt = "%{y:.1%}" if metric == "acc" else "%{y:.3g}"
        data.append({"type": "bar", "x": labels, "y": ys, "name": f"{split} {'accuracy' if metric == 'acc' else 'loss'}",
                     "marker": {"color": color}, "hovertemplate": f"%{{x}}<br>{split}: {fmt}<extra></extra>",
                     "texttemplate": fmt, "textposition": "outside"})
    yaxis = {"range": [0, 1.12], "tickformat": ".0%"} if metric == "acc" else {"type": "log"}
    ytitle = "accuracy" if metric == "acc" else "cross-entropy loss (log scale)"
    what = "Accuracy" if metric == "acc" else "Loss"
    layout = base_layout(f"{what} before and after removing", step, "", ytitle, height=400, yaxis=yaxis,
                     barmode="group", legend=legend_below(-0.25))
    return figure(data, layout)
