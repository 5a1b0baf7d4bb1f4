"""Views 3 and 4: neuron waves over y, and the N×N grid of pairwise neuron scatters."""

from __future__ import annotations

import numpy as np

from .base import CYCLIC, QUALITATIVE, Figure, base_layout, figure, line_trace


def neuron_waves(waves: np.ndarray, neurons: list[int], x: int, step: int, purity=None) -> Figure:
    """waves [p(y), n]: activation of each neuron on 'x + y =' for all y.

    purity: optional (k [n], frac [n]) from analysis.fourier.wave_purity, shown in the legend as each
    neuron's strongest frequency and the share of its variation it carries.
    """
    p = waves.shape[0]
    ys = np.arange(p)
    names = [f"#{n}" for n in neurons]
    legend = "neuron"
    if purity is not None:
        names = [f"#{n} · k {k} · {f:.0%}" if k else f"#{n} · flat" for n, k, f in zip(neurons, *purity)]
        legend = "neuron · k · share in k"
    data = [line_trace(ys, waves[:, j], names[j], QUALITATIVE[j % 10]) for j in range(len(neurons))]
    layout = base_layout(f"MLP neurons with x = {x} fixed, y swept over 0..{p - 1}", step, "y",
                     "neuron activation (after ReLU)", height=430, legend={"title": {"text": legend}},
                     hovermode="x unified")
    return figure(data, layout)


# -- view 4: neuron scatter grid ----------------------------------------------------------------
def scatter_grid(acts: np.ndarray, neurons: list[int], x: int, step: int, webgl: bool = False) -> Figure:
    """acts [n, p(y)]: an n x n grid of pairwise scatters drawn as ONE trace laid out in panels.

    Panel (row i, column j) plots neuron i (up) against neuron j (across) for every y; each
    neuron is scaled to its own range so every panel fills its cell. Only the lower triangle is
    drawn (panel (j, i) is panel (i, j) mirrored), and the diagonal shows each neuron's wave over y.
    Colour is y, on a cyclic scale. One trace in one pair of axes draws far faster than n² subplots.
    """
    n, p = acts.shape
    lo, hi = acts.min(1, keepdims=True), acts.max(1, keepdims=True)
    u = (acts - lo) / np.where(hi - lo > 1e-12, hi - lo, 1.0)  # [n, p] in [0, 1]
    pad, span = 0.08, 0.84
    ys = np.arange(p)
    i, j = np.tril_indices(n)  # panel rows (neuron on the vertical axis) and columns, j <= i
    diag = (i == j)[:, None]
    px = np.where(diag, ys[None, :] / max(p - 1, 1), u[j])  # [panels, p]
    X = (j[:, None] + pad + span * px).ravel()
    Y = ((n - 1 - i)[:, None] + pad + span * u[i]).ravel()
    nid = np.asarray(neurons)
    custom = np.stack([np.repeat(nid[i], p), np.repeat(nid[j], p), np.tile(ys, len(i)), acts[i].ravel(),
                       acts[j].ravel()], axis=1)
    data = [{
        "type": "scattergl" if webgl else "scatter", "mode": "markers", "x": X, "y": Y,
        "customdata": custom.astype(np.float32), "showlegend": False,  # a 2-D typed array: compact, no per-point lists
        "marker": {"size": 3 if n > 5 else 4, "color": np.tile(ys, len(i)), "colorscale": CYCLIC, "cmin": 0,
                   "cmax": p - 1, "colorbar": {"title": {"text": "y"}, "tickvals": [0, p // 2, p - 1]}},
        "hovertemplate": "neuron #%{customdata[0]:.0f} = %{customdata[3]:.3f}<br>neuron #%{customdata[1]:.0f} = "
                         "%{customdata[4]:.3f}<br>y = %{customdata[2]:.0f}<extra></extra>",
    }]
    centres = np.arange(n) + 0.5
    labels = [f"#{k}" for k in neurons]
    cells = [{"type": "rect", "x0": int(b), "x1": int(b) + 1, "y0": n - 1 - int(a), "y1": n - int(a),
              "line": {"color": "#bbbbbb", "width": 1}, "layer": "below"} for a, b in zip(i, j, strict=True)]
    axis = {"range": [0, n], "ticktext": labels, "constrain": "domain", "showgrid": False, "zeroline": False}
    layout = base_layout(f"{n}×{n} neuron pairs over y (x = {x}), each pair once; diagonal: each neuron's wave", step,
                     "neuron across (its activation →)", "neuron up (its activation →)",
                     height=max(440, min(900, 96 * n + 130)), margin={"l": 70, "r": 20, "t": 60, "b": 60},
                     xaxis={**axis, "tickvals": centres}, yaxis={**axis, "tickvals": centres[::-1], "scaleanchor": "x"},
                     shapes=cells)
    return figure(data, layout)
