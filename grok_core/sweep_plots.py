"""Plotly figures for grokking sweeps (grok_core.sweep): the phase diagram and run curves. No streamlit.

The phase diagram has one cell per (train fraction, weight decay): the grokking delay
(generalised − memorised steps, median over seeds) on a colour scale where the runs grok, and a
distinct colour for each other outcome (generalises without a delay, memorises but never
generalises, never fits). Cells are drawn as heatmaps; a transparent square marker on each
cell carries the hover text and makes the cell clickable (Streamlit selects points of scatter
traces, not heatmap cells).
"""

from __future__ import annotations

import json

import numpy as np

from . import plots
from .metrics import first_step_reaching
from .sweep import GROKS, NEVER_FITS, NEVER_GENERALISES, NO_DELAY, Sweep

OUTCOME_COLORS = {NO_DELAY: "#009E73", NEVER_GENERALISES: "#E69F00", NEVER_FITS: "#8C8C8C"}
OUTCOME_MARKS = {GROKS: "", NO_DELAY: "0", NEVER_GENERALISES: "∞", NEVER_FITS: "×"}
# Light to dark blue (ColorBrewer Blues): the longer the delay, the darker. Explicit stops, because named
# scales differ between plotly.py and plotly.js and themes may restyle them.
DELAY_SCALE = [[0.0, "#DEEBF7"], [0.25, "#9ECAE1"], [0.5, "#4292C6"], [0.75, "#2171B5"], [1.0, "#08306B"]]
SELECTED = "#D55E00"


def frac_label(f: float) -> str:
    return f"{f:.0%}" if abs(f * 100 - round(f * 100)) < 1e-9 else f"{f:.1%}"


def wd_label(w: float) -> str:
    return f"{w:g}"


def cell_id(frac: float, wd: float) -> str:
    """Stable text id of a cell (for URLs and widgets): "0.5-2" for 50% data, weight decay 2."""
    return f"{frac:g}-{wd:g}"


def _steps(values) -> str:
    return ", ".join("never" if v is None else f"{v:,}" for v in values)


def cell_hover(sweep: Sweep, cell: dict) -> str:
    runs = [sweep.runs[i] for i in cell["runs"]]
    lines = [f"<b>{frac_label(cell['frac_train'])} of the data, weight decay {wd_label(cell['weight_decay'])}</b>",
             f"{cell['category']} ({cell['n_category']} of {cell['n_runs']} seeds)"]
    if cell["delay"] is not None:
        lines.append(f"grokking delay: {cell['delay']:,.0f} steps (median)")
    lines += [f"memorised (train acc ≥ 99%) at: {_steps(r['memorised_step'] for r in runs)}",
              f"generalised (test acc ≥ 99%) at: {_steps(r['generalised_step'] for r in runs)}",
              "final test loss: " + ", ".join(f"{r['final']['test_loss']:.3g}" for r in runs),
              "final test accuracy: " + ", ".join(f"{r['final']['test_acc']:.1%}" for r in runs)]
    return "<br>".join(lines)


def phase_diagram(sweep: Sweep, selected: str | None = None, height: int = 520) -> plots.Figure:
    """The phase diagram: x = train fraction, y = weight decay (both as categories), one cell each."""
    fracs, wds = sweep.axes["frac_train"], sweep.axes["weight_decay"]
    xs, ys = [frac_label(f) for f in fracs], [wd_label(w) for w in wds]
    cells = sweep.cells()
    by = {(c["frac_train"], c["weight_decay"]): c for c in cells}
    delay = np.full((len(wds), len(fracs)), np.nan)
    outcome = np.full((len(wds), len(fracs)), np.nan)
    codes = {c: i for i, c in enumerate(OUTCOME_COLORS)}
    for j, w in enumerate(wds):
        for i, f in enumerate(fracs):
            c = by[(f, w)]
            if c["category"] == GROKS:
                delay[j, i] = np.log10(max(1.0, c["delay"]))
            else:
                outcome[j, i] = codes[c["category"]]
    data = []
    finite = delay[np.isfinite(delay)]
    if finite.size:
        lo, hi = float(np.floor(finite.min())), float(np.ceil(finite.max()))
        hi = max(hi, lo + 1)
        ticks = [v for e in range(int(lo), int(hi) + 1) for v in (10**e, 2 * 10**e, 5 * 10**e)
                 if lo <= np.log10(v) <= hi]
        data.append({"type": "heatmap", "x": xs, "y": ys, "z": delay.tolist(), "colorscale": DELAY_SCALE,
                     "zmin": lo, "zmax": hi, "hoverinfo": "skip", "xgap": 2, "ygap": 2,
                     "colorbar": {"title": {"text": "grokking delay<br>(steps, log)"},
                                  "tickvals": [float(np.log10(t)) for t in ticks], "ticktext": [f"{t:,}" for t in ticks]}})
    n = len(OUTCOME_COLORS)
    scale = []
    for k, color in enumerate(OUTCOME_COLORS.values()):
        scale += [[k / n, color], [(k + 1) / n, color]]
    data.append({"type": "heatmap", "x": xs, "y": ys, "z": outcome.tolist(), "colorscale": scale, "zmin": -0.5,
                 "zmax": n - 0.5, "showscale": False, "hoverinfo": "skip", "xgap": 2, "ygap": 2})
    # Legend entries for the outcomes (empty traces) and the clickable, hoverable cell markers.
    data.append({"type": "scatter", "x": [None], "y": [None], "mode": "markers", "name": "groks: delay on the blue scale",
                 "marker": {"symbol": "square", "size": 14, "color": "#4A89C8"}, "hoverinfo": "skip"})
    for name, color in OUTCOME_COLORS.items():
        data.append({"type": "scatter", "x": [None], "y": [None], "mode": "markers", "name": f"{name} ({OUTCOME_MARKS[name]})",
                     "marker": {"symbol": "square", "size": 14, "color": color}, "hoverinfo": "skip"})
    order = [(f, w) for w in wds for f in fracs]
    # Light text on the darker (longer-delay) half of the blue scale, dark text elsewhere.
    mid = None if not finite.size else (lo + hi) / 2
    text_colors = ["#FFFFFF" if mid is not None and by[k]["category"] == GROKS
                   and np.log10(max(1.0, by[k]["delay"])) > mid else "#222222" for k in order]
    data.append({
        "type": "scatter", "mode": "markers+text", "showlegend": False, "name": "cells",
        "x": [frac_label(f) for f, _ in order], "y": [wd_label(w) for _, w in order],
        "text": [OUTCOME_MARKS[by[k]["category"]] or f"{by[k]['delay']:,.0f}" for k in order],
        "textfont": {"size": 11, "color": text_colors},
        "customdata": [[cell_id(*k), cell_hover(sweep, by[k])] for k in order],
        "hovertemplate": "%{customdata[1]}<extra></extra>",
        "marker": {"symbol": "square", "size": 40, "color": "rgba(0,0,0,0)", "line": {"width": 0}},
        "selected": {"marker": {"opacity": 1}}, "unselected": {"marker": {"opacity": 1}},
    })
    shapes = []
    if selected is not None:
        for (f, w) in order:
            if cell_id(f, w) == selected:
                i, j = fracs.index(f), wds.index(w)
                shapes.append({"type": "rect", "xref": "x", "yref": "y", "x0": i - 0.5, "x1": i + 0.5,
                               "y0": j - 0.5, "y1": j + 0.5, "line": {"color": SELECTED, "width": 3}})
    layout = {
        "title": {"text": "When does it grok? Delay from memorising to generalising", "x": 0.0, "xanchor": "left"},
        "height": height, "margin": {"l": 70, "r": 20, "t": 60, "b": 110},
        "xaxis": {"title": {"text": "fraction of all sums used for training"}, "type": "category",
                  "categoryorder": "array", "categoryarray": xs, "showgrid": False, "fixedrange": True},
        "yaxis": {"title": {"text": "weight decay"}, "type": "category", "categoryorder": "array",
                  "categoryarray": ys, "showgrid": False, "fixedrange": True},
        "legend": {"orientation": "h", "y": -0.2, "x": 0, "yanchor": "top"},
        "hoverlabel": {"namelength": -1, "align": "left"}, "shapes": shapes,
        "clickmode": "event+select", "dragmode": False, "plot_bgcolor": "white",
    }
    return plots.figure(data, layout)


def _points(selection) -> list:
    try:
        return list(selection["selection"]["points"] or [])
    except (KeyError, TypeError):
        return []


def selection_signature(selection) -> str:
    """A short fingerprint of a chart selection, to tell a new click from the one already handled."""
    return json.dumps(_points(selection), sort_keys=True, default=str)


def selected_cell(selection, sweep: Sweep) -> str | None:
    """The cell id picked by a Streamlit plotly selection event (a click on a cell marker), if any."""
    points = _points(selection)
    ids = {cell_id(c["frac_train"], c["weight_decay"]) for c in sweep.cells()}
    by_label = {(frac_label(c["frac_train"]), wd_label(c["weight_decay"])): cell_id(c["frac_train"], c["weight_decay"])
                for c in sweep.cells()}
    for pt in points or []:
        cd = pt.get("customdata")
        if isinstance(cd, (list, tuple)) and cd and cd[0] in ids:
            return cd[0]
        hit = by_label.get((pt.get("x"), pt.get("y")))
        if hit:
            return hit
    return None


def _milestones(mem, gen, color, row_name) -> list[dict]:
    shapes = []
    for step, dash in ((mem, "dot"), (gen, "dash")):
        if step is not None:
            shapes.append({"type": "line", "xref": "x", "yref": "paper", "x0": step, "x1": step, "y0": 0, "y1": 1,
                           "line": {"color": color, "width": 1, "dash": dash}, "name": row_name})
    return shapes


def curves_figure(series_list: list[dict], title: str, kind: str = "accuracy", height: int = 360) -> plots.Figure:
    """Train (dashed) and test (solid) curves of several runs.

    series_list: dicts with name, step, train_loss, test_loss, train_acc, test_acc, memorised, generalised.
    Dotted and dashed vertical lines mark where each run memorised and generalised.
    """
    data, shapes = [], []
    for i, s in enumerate(series_list):
        color = plots.QUALITATIVE[i % len(plots.QUALITATIVE)] if len(series_list) > 1 else plots.TEST
        train_color = color if len(series_list) > 1 else plots.TRAIN
        fmt = "%{y:.1%}" if kind == "accuracy" else "%{y:.3g}"
        for part, dash, c in (("train", "dash", train_color), ("test", None, color)):
            data.append({"type": "scatter", "mode": "lines", "x": np.asarray(s["step"]).tolist(),
                         "y": np.asarray(s[f"{part}_{'acc' if kind == 'accuracy' else 'loss'}"]).tolist(),
                         "name": f"{s['name']}: {part}", "legendgroup": s["name"],
                         "line": {"color": c, "width": 2, **({"dash": dash} if dash else {})},
                         "hovertemplate": f"{s['name']} {part}: {fmt} at step %{{x:,}}<extra></extra>"})
        shapes += _milestones(s.get("memorised"), s.get("generalised"), color, s["name"])
    yaxis = ({"title": {"text": "accuracy"}, "range": [0, 1.05], "tickformat": ".0%"} if kind == "accuracy"
             else {"title": {"text": "cross-entropy loss"}, "type": "log"})
    layout = {"title": {"text": title, "x": 0.0, "xanchor": "left"}, "height": height,
              "margin": {"l": 60, "r": 20, "t": 60, "b": 50},
              "xaxis": {"title": {"text": "training step"}}, "yaxis": yaxis, "shapes": shapes,
              "legend": {"orientation": "h", "y": -0.25, "x": 0, "yanchor": "top"}, "hoverlabel": {"namelength": -1}}
    return plots.figure(data, layout)


def cell_curves(sweep: Sweep, cid: str, kind: str = "accuracy") -> plots.Figure:
    """The curves of every seed in one cell of the phase diagram."""
    cell = next(c for c in sweep.cells() if cell_id(c["frac_train"], c["weight_decay"]) == cid)
    rows = []
    for i in cell["runs"]:
        r = sweep.runs[i]
        rows.append({"name": f"seed {r['seed']}", **sweep.curves(i),
                     "memorised": r["memorised_step"], "generalised": r["generalised_step"]})
    title = (f"{frac_label(cell['frac_train'])} of the data, weight decay {wd_label(cell['weight_decay'])} "
             f"(p = {sweep.model_cfg.p})")
    return curves_figure(rows, title, kind)


def default_curves(metrics: dict, title: str, kind: str = "accuracy") -> plots.Figure:
    """The bundled default series' curves, in the same style, for comparison."""
    row = {"name": "default run", **{k: metrics[k] for k in ("step", "train_loss", "test_loss", "train_acc", "test_acc")},
           "memorised": first_step_reaching(metrics["step"], metrics["train_acc"]),
           "generalised": first_step_reaching(metrics["step"], metrics["test_acc"])}
    return curves_figure([row], title, kind)
