"""View 6: a neuron over the (x, y) grid (heatmap, 3-D), its 2-D spectrum, its parts, the trig identity."""

from __future__ import annotations

import numpy as np

from ..analysis.fourier import basis_names
from .base import (
    DIVERGING,
    MAGNITUDE,
    SEQUENTIAL,
    TRAIN,
    Figure,
    base_layout,
    figure,
    heat_row,
    heatmap_trace,
    pack,
    square_axes,
    title_of,
)
from .crests import crest_lines


def surface_heatmap(surface: np.ndarray, title: str, step: int | None, colorbar: str = "activation",
                    signed: bool | None = None, height: int = 440, lines_c: int | None = None) -> Figure:
    """surface [p(x), p(y)] as a heatmap with x across and y up (optionally the crest lines x + y ≡ c)."""
    p = surface.shape[0]
    signed = bool(surface.min() < 0) if signed is None else signed
    kw = {"colorscale": DIVERGING, "zmid": 0} if signed else {"colorscale": SEQUENTIAL}
    data = [heatmap_trace(surface.T, kw.pop("colorscale"), colorbar,
                     "x = %{x}, y = %{y}<br>" + colorbar + " = %{z:.3f}<extra></extra>", **kw)]
    xa, ya = square_axes(p)
    layout = base_layout(title, step, "x", "y", height=height, xaxis=xa, yaxis=ya)
    if lines_c is not None:
        lines, ann = crest_lines(lines_c, p)
        data += lines
        layout["annotations"] = ann
    return figure(data, layout)


def _grid_3d(p: int, stride: int | None, order: np.ndarray | None, k: int | None):
    """Which values of x (and y) a 3-D surface draws, at which positions, the axis titles, and the trace's
    hover fields (the real x and y when the positions are reordered).

    About 40 per side by default (every `stride`-th): WebGL in a software-rendered browser is slow, and
    38×38 points draw in ~60% of the time of 57×57 (the heatmap shows every value). Sampled in x order a
    wave of frequency k gets only p/(k·stride) points per cycle (under 5 for k = 8) and is drawn as
    spikes; with `order` (analysis.attention.frequency_order(k, p)) position j holds x = order[j], the
    wave becomes cos(2πj/p + φ) and every sampled point lies on one smooth cycle.
    """
    stride = stride or max(1, -(-p // 40))
    pos = np.arange(0, p, stride)
    vals = pos if order is None else np.asarray(order)[pos]
    axis = ("x", "y") if order is None else (f"{k}·x mod {p}", f"{k}·y mod {p}")
    if order is None:
        return pos, vals, axis, {"x": pos, "y": pos, "hovertemplate": "x = %{x}, y = %{y}"}
    text = [[f"x = {vx}, y = {vy}" for vx in vals] for vy in vals]
    return pos, vals, axis, {"x": pos, "y": pos, "text": text, "hovertemplate": "%{text}"}


def _scene(axis: tuple[str, str], ztitle: str, **z) -> dict:
    return {"xaxis": {"title": {"text": axis[0]}}, "yaxis": {"title": {"text": axis[1]}},
            "zaxis": {"title": {"text": ztitle}, **z}, "uirevision": "keep",
            "camera": {"eye": {"x": 1.65, "y": -1.65, "z": 1.1}}}  # far enough that the tick labels are not cut


def surface_3d(surface: np.ndarray, title: str, step: int, ztitle: str = "activation", stride: int | None = None,
               order: np.ndarray | None = None, k: int | None = None) -> Figure:
    """The surface in 3-D, about 40 values of x and y per side, in x order or ordered by k·x mod p (_grid_3d)."""
    _, vals, axis, xy = _grid_3d(surface.shape[0], stride, order, k)
    surface = surface[np.ix_(vals, vals)]
    signed = bool(surface.min() < 0)
    data = [{"type": "surface", "z": surface.T, **xy,
             "colorscale": DIVERGING if signed else SEQUENTIAL, **({"cmid": 0} if signed else {}),
             "colorbar": {"title": {"text": ztitle}},
             "hovertemplate": xy["hovertemplate"] + "<br>" + ztitle + " = %{z:.3f}<extra></extra>"}]
    layout = {"title": title_of(title, step), "height": 520, "margin": {"l": 0, "r": 0, "t": 60, "b": 0},
              # uirevision keeps the camera the student set when the step (and so the data) changes
              "uirevision": "keep", "scene": _scene(axis, ztitle)}
    return figure(data, layout)


def surface_3d_animated(frames: list[tuple[int, np.ndarray]], title: str, ztitle: str = "activation",
                        stride: int | None = None, order: np.ndarray | None = None, k: int | None = None) -> Figure:
    """One surface per checkpoint as plotly frames, with a slider and play button inside the figure.

    The figure does not depend on the sidebar's step, so Streamlit keeps it mounted when the step
    changes, and plotly animates it in the browser: the camera the student set survives both.
    Values drawn and their order as surface_3d.
    """
    _, vals, axis, xy = _grid_3d(frames[0][1].shape[0], stride, order, k)
    zs = [np.round(s[np.ix_(vals, vals)].T.astype(np.float64), 4) for _, s in frames]
    lim = max(float(np.abs(z).max()) for z in zs) or 1.0
    signed = any(float(z.min()) < 0 for z in zs)
    last = len(frames) - 1
    trace = {"type": "surface", "z": zs[last].tolist(), **xy,
             "colorscale": DIVERGING if signed else SEQUENTIAL, "cmin": -lim if signed else 0, "cmax": lim,
             "colorbar": {"title": {"text": ztitle}},
             "hovertemplate": xy["hovertemplate"] + "<br>" + ztitle + " = %{z:.3f}<extra></extra>"}
    anim = {"mode": "immediate", "frame": {"duration": 0, "redraw": True}, "transition": {"duration": 0}}
    slider = {"active": last, "currentvalue": {"prefix": "step "}, "pad": {"t": 30},
              "steps": [{"label": str(st), "method": "animate", "args": [[str(st)], anim]} for st, _ in frames]}
    play = {"type": "buttons", "direction": "left", "x": 0, "y": 0, "xanchor": "right", "yanchor": "top",
            "pad": {"t": 40, "r": 10}, "showactive": False,
            "buttons": [{"label": "▶", "method": "animate",
                         "args": [None, {"frame": {"duration": 400, "redraw": True}, "fromcurrent": True,
                                         "transition": {"duration": 0}}]},
                        {"label": "❚❚", "method": "animate", "args": [[None], anim]}]}
    layout = {"title": title_of(title), "height": 600, "margin": {"l": 0, "r": 0, "t": 60, "b": 0},
              "uirevision": "keep", "sliders": [slider], "updatemenus": [play],
              "scene": _scene(axis, ztitle, range=[-lim if signed else 0, lim])}
    spec = {"data": [pack(trace)], "layout": pack(layout),
            "frames": [{"name": str(st), "data": [{"type": "surface", "z": z.tolist()}]} for (st, _), z in zip(frames, zs, strict=True)]}
    return Figure(spec)


def spectrum_2d(coefs: np.ndarray, step: int, title: str = "2-D Fourier spectrum") -> Figure:
    """|C| of surface = B.T @ C @ B; rows are x-basis terms, columns y-basis terms.

    The view opens zoomed on the region holding the largest terms (double-click to see all), and
    names the four largest: single cells are hard to spot in a p×p map.
    """
    p = coefs.shape[0]
    mag = np.abs(coefs)
    mag[0, 0] = 0.0  # the mean (constant term) would drown everything else
    names = basis_names(p)  # row a of coefs is the term names[a]: const, cos 1, sin 1, cos 2, ...
    top = [divmod(int(i), p) for i in np.argsort(-mag, axis=None)[:4]]
    upto = int(min(p - 1, max(24, max(max(a, b) for a, b in top) + 8)))
    every = 5 if upto < 60 else 10
    ticks = ["const"] + [names[2 * k - 1] for k in range(every, (upto + 1) // 2 + 1, every)]  # cos k sits at 2k-1
    data = [heatmap_trace(mag.T, MAGNITUDE, "|coefficient|", "%{x}x · %{y}y<br>|coefficient| = %{z:.3f}<extra></extra>",
                     x=names, y=names)]
    ann = [{"x": names[a], "y": names[b], "text": f"{names[a]}x · {names[b]}y" if a and b else
            (f"{names[a]}x" if a else f"{names[b]}y"), "showarrow": True, "arrowhead": 2, "ax": 45,
            "ay": -22 - 18 * n, "font": {"size": 11}, "bgcolor": "rgba(255,255,255,0.85)"}
           for n, (a, b) in enumerate(top)]
    axis = {"type": "category", "tickvals": ticks, "range": [-0.5, upto + 0.5], "constrain": "domain"}
    layout = base_layout(title, step, "term in x (constant term not shown)", "term in y", height=440, xaxis=dict(axis),
                     yaxis={**axis, "scaleanchor": "x"}, annotations=ann)
    return figure(data, layout)


def top_terms_bar(terms: list[dict], step: int) -> Figure:
    names = [t["name"] for t in terms][::-1]
    data = [{"type": "bar", "orientation": "h", "x": [t["frac"] for t in terms][::-1], "y": names,
             "customdata": [t["coef"] for t in terms][::-1], "marker": {"color": TRAIN},
             "hovertemplate": "%{y}<br>share %{x:.1%}<br>coefficient %{customdata:.3f}<extra></extra>"}]
    layout = base_layout("Largest 2-D Fourier terms (share of the surface's variance)", step, "share of variance", "",
                     height=max(260, 34 * len(terms) + 110), xaxis={"tickformat": ".1%"})
    layout["margin"]["l"] = 140
    return figure(data, layout)



def decomposition(parts: list[tuple[str, np.ndarray]], step: int, neuron: int) -> Figure:
    return heat_row(parts, f"Neuron #{neuron} split into its main Fourier components", step)


def trig_identity(identity: dict, k: int) -> Figure:
    """The four surfaces of cos kx·cos ky − sin kx·sin ky = cos k(x+y) (the same for every step)."""
    keys = ["cos kx·cos ky", "sin kx·sin ky", "difference", "cos k(x+y)"]
    names = [f"cos {k}x·cos {k}y", f"sin {k}x·sin {k}y", "cos·cos − sin·sin", f"cos {k}(x+y)"]
    panels = [(n, np.asarray(identity[kk])) for n, kk in zip(names, keys, strict=True)]
    err = identity.get("max_abs_error")
    tail = f" (largest mismatch {err:.1e})" if err is not None else ""
    return heat_row(panels, f"cos({k}x)cos({k}y) − sin({k}x)sin({k}y) = cos({k}(x+y)){tail}", None)
