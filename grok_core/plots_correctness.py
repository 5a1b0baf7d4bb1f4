"""Figures for the correctness map and for interventions (numpy and dataclasses in, plots.Figure out)."""

from __future__ import annotations

import numpy as np

from .analysis.correctness import CATEGORIES, CorrectnessMap
from .analysis.interventions import Intervention
from .plots import TEST, TRAIN, _layout, _legend_below, _square_axes, figure

# Right is the full train / test colour, wrong a pale tint of it: train vs test by hue, right vs wrong by lightness.
CATEGORY_COLORS = (TRAIN, "#B9D7EC", TEST, "#F4C9AE")


def _stepped_scale(colors) -> list[list]:
    """A colour scale with one flat band per category code 0 … n−1 (for zmin −0.5, zmax n − 0.5)."""
    n = len(colors)
    scale = []
    for i, c in enumerate(colors):
        scale += [[i / n, c], [(i + 1) / n, c]]
    return scale


def correctness_map(cmap: CorrectnessMap, title: str = "Which sums the model gets right", height: int = 470):
    """The p×p grid of sums with x across and y up, one colour per category; hover gives the model's answer."""
    p = cmap.p
    answer = (np.arange(p)[:, None] + np.arange(p)[None, :]) % p  # [p(x), p(y)]
    names = np.array(CATEGORIES)[cmap.codes]  # [p, p]
    custom = np.stack([answer.T, cmap.predicted.T], axis=-1).tolist()  # [p(y), p(x), 2]
    data = [{
        "type": "heatmap", "z": cmap.codes.T.astype(np.int32).tolist(), "text": names.T.tolist(),
        "customdata": custom, "zmin": -0.5, "zmax": len(CATEGORIES) - 0.5,
        "colorscale": _stepped_scale(CATEGORY_COLORS),
        "colorbar": {"tickvals": list(range(len(CATEGORIES))),
                     "ticktext": [f"{c} ({cmap.counts[c]:,})" for c in CATEGORIES], "title": {"text": "problem"}},
        "hovertemplate": "%{x} + %{y} = %{customdata[0]}<br>model says %{customdata[1]}<br>%{text}<extra></extra>",
    }]
    xa, ya = _square_axes(p)
    subtitle = f" (train {cmap.train_acc:.0%} right, test {cmap.test_acc:.0%})"
    return figure(data, _layout(title + subtitle, cmap.step, "x", "y", height=height, xaxis=xa, yaxis=ya))


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
    layout = _layout(f"{what} before and after removing", step, "", ytitle, height=400, yaxis=yaxis,
                     barmode="group", legend=_legend_below(-0.25))
    return figure(data, layout)
