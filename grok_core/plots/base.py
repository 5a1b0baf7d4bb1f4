"""The plumbing every figure builder shares: colours, the fast dict-backed Figure, layout helpers.

Every figure has a title (step-dependent ones end in "step N", which the browser benchmark
waits for), axis titles, hover values and colour bars that say what the colour means. Colours
are shared by all views: TRAIN/TEST, the four PHASE_COLORS, CYCLIC for values of x or y mod p
(the colour wraps around, like the numbers), DIVERGING around zero for signed quantities.
"""

from __future__ import annotations

import base64

import numpy as np
import plotly.graph_objects as go
from plotly.colors import get_colorscale

from ..phases import Phase

# Okabe-Ito colours: distinguishable with the common colour-vision deficiencies.
TRAIN = "#0072B2"
TEST = "#D55E00"
RESTRICTED = "#009E73"
EXCLUDED = "#CC79A7"
CURRENT = "#222222"
PHASE_COLORS = {Phase.MEMORISING: "#E69F00", Phase.CIRCUIT_FORMING: "#56B4E9", Phase.CLEANUP: "#9467BD",
                Phase.GENERALISED: "#009E73"}
QUALITATIVE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#8C564B", "#F0C808", "#7F7F7F", "#17BECF"]
# Colour scales as explicit lists: plotly.js knows only a few names, and not plotly.py's (e.g. "RdBu_r").
CYCLIC = get_colorscale("Twilight")  # for x or y mod p: 0 and p-1 get neighbouring colours
DIVERGING = get_colorscale("RdBu_r")  # signed values, white at zero
SEQUENTIAL = get_colorscale("Viridis")
MAGNITUDE = get_colorscale("Blues")  # white (0) to dark blue
ATTENTION = get_colorscale("Cividis")

_MARGIN = dict(l=60, r=20, t=60, b=50)


def png_config(filename: str) -> dict:
    """Plotly config for st.plotly_chart: modebar PNG export with a meaningful file name."""
    return {"displaylogo": False, "toImageButtonOptions": {"format": "png", "scale": 2, "filename": filename}}


# -- building blocks ----------------------------------------------------------------------------
class Figure(go.Figure):
    """A plotly figure held as the plain dict plotly.js reads.

    Building figures through plotly's object model (validation, deep copies) costs 10-40 ms each
    on this machine, most of a step's budget, so builders assemble dicts and st.plotly_chart
    serialises this one directly (it only calls `to_dict`). Large numeric arrays travel as
    base64 typed arrays. `full()` gives the validated go.Figure (notebooks, tests).
    """

    def __init__(self, spec: dict):  # deliberately skips go.Figure.__init__ (see above)
        self._spec = spec

    def to_dict(self) -> dict:
        return self._spec

    def to_plotly_json(self) -> dict:
        return self._spec

    @property
    def title(self) -> str:
        return self._spec.get("layout", {}).get("title", {}).get("text", "")

    def full(self) -> Figure:
        return go.Figure(self._spec)

    def show(self, *args, **kwargs):
        return self.full().show(*args, **kwargs)

    def _repr_mimebundle_(self, *args, **kwargs):
        return self.full()._repr_mimebundle_(*args, **kwargs)

    def __repr__(self) -> str:
        return f"plots.Figure({self.title!r})"


_DTYPES = {np.dtype(np.float32): "f4", np.dtype(np.int32): "i4", np.dtype(np.uint8): "u1"}


def pack(v):
    """numpy arrays -> base64 typed arrays (plotly.js reads them natively) or lists; recurse into containers."""
    if isinstance(v, np.ndarray):
        if v.dtype.kind == "f" and v.size >= 64:
            a = np.ascontiguousarray(v, dtype=np.float32)
        elif v.dtype.kind in "iub" and v.size >= 64 and v.ndim == 1:
            a = np.ascontiguousarray(v, dtype=np.int32)
        else:
            return v.tolist()
        spec = {"dtype": _DTYPES[a.dtype], "bdata": base64.b64encode(a.tobytes()).decode("ascii")}
        if a.ndim > 1:
            spec["shape"] = ", ".join(map(str, a.shape))
        return spec
    if isinstance(v, dict):
        return {k: pack(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [pack(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    return v


def figure(data: list[dict], layout: dict) -> Figure:
    return Figure({"data": pack(data), "layout": pack(layout)})


def title_of(text: str, step: int | None = None) -> dict:
    return {"text": text if step is None else f"{text} — step {int(step)}", "x": 0.0, "xanchor": "left"}


def base_layout(title: str, step: int | None, xtitle: str, ytitle: str, height: int = 380, xaxis=None, yaxis=None,
            **kw) -> dict:
    return {"title": title_of(title, step), "height": height, "margin": dict(_MARGIN), "hoverlabel": {"namelength": -1},
            "xaxis": {"title": {"text": xtitle}, **(xaxis or {})}, "yaxis": {"title": {"text": ytitle}, **(yaxis or {})},
            **kw}


def line_trace(x, y, name: str, color: str, width: float = 2, dash: str | None = None, hover: str = "%{y:.3g}",
          **kw) -> dict:
    return {"type": "scatter", "mode": "lines", "x": x, "y": y, "name": name,
            "line": {"color": color, "width": width, **({"dash": dash} if dash else {})}, "hovertemplate": hover, **kw}


def heatmap_trace(z, colorscale, colorbar: str | None, hover: str, cbar: dict | None = None, **kw) -> dict:
    d = {"type": "heatmap", "z": z, "colorscale": colorscale, "hovertemplate": hover, **kw}
    if colorbar is None:
        d["showscale"] = False
    else:
        d["colorbar"] = {"title": {"text": colorbar}, **(cbar or {})}
    return d


def legend_below(y: float = -0.22) -> dict:
    return {"orientation": "h", "y": y, "x": 0, "yanchor": "top"}



def phase_marks(spans, step: int | None, label_phases: bool = True) -> tuple[list[dict], list[dict]]:
    """Shapes (shaded phases, dashed current step) and annotations (phase names) for a step axis."""
    shapes, ann = [], []
    for i, (name, a, b) in enumerate(spans):
        shapes.append({"type": "rect", "xref": "x", "yref": "paper", "x0": a, "x1": b, "y0": 0, "y1": 1,
                       "fillcolor": PHASE_COLORS[name], "opacity": 0.12, "line": {"width": 0}, "layer": "below"})
        if label_phases:  # at the start of each phase, on two alternating rows: short phases stay legible
            ann.append({"x": a, "xanchor": "left", "y": 1.0 + 0.075 * (i % 2), "yref": "paper", "yanchor": "bottom",
                        "text": name, "showarrow": False, "font": {"size": 11, "color": PHASE_COLORS[name]}})
    if step is not None:
        shapes.append({"type": "line", "xref": "x", "yref": "paper", "x0": step, "x1": step, "y0": 0, "y1": 1,
                       "line": {"color": CURRENT, "width": 2, "dash": "dash"}})
    return shapes, ann



def heat_row(panels: list[tuple[str, np.ndarray]], title: str, step: int | None, colorscale=DIVERGING,
              colorbar: str = "value", zrange: tuple[float, float] | None = None, hover_fmt: str = ".3f",
              height: int = 330, cbar: dict | None = None, xtitle: str = "x", ytitle: str = "y") -> Figure:
    """Small heatmaps side by side on one shared colour scale (one trace each, laid out by axis domains)."""
    n, p = len(panels), panels[0][1].shape[0]
    if zrange is None:
        lim = max(float(np.abs(z).max()) for _, z in panels) or 1.0
        zrange = (-lim, lim)
    gap = 0.035
    w = (1 - gap * (n - 1)) / n
    data, ann = [], []
    layout = {"title": title_of(title, step), "height": height, "margin": {"l": 50, "r": 20, "t": 60, "b": 40},
              "hoverlabel": {"namelength": -1}}
    for i, (name, z) in enumerate(panels):
        ax = "" if i == 0 else str(i + 1)
        data.append(heatmap_trace(z.T, colorscale, colorbar if i == n - 1 else None,
                             name + f"<br>{xtitle} = %{{x}}, {ytitle} = %{{y}}<br>value = %{{z:" + hover_fmt + "}<extra></extra>",
                             x=np.arange(p), y=np.arange(p), xaxis=f"x{ax}", yaxis=f"y{ax}", zmin=zrange[0],
                             zmax=zrange[1], name=name, cbar={"len": 0.9, **(cbar or {})}))
        d0 = i * (w + gap)
        layout[f"xaxis{ax}"] = {"domain": [d0, d0 + w], "title": {"text": xtitle}, "anchor": f"y{ax}",
                                "range": [-0.5, p - 0.5]}
        layout[f"yaxis{ax}"] = {"domain": [0, 0.86], "title": {"text": ytitle if i == 0 else ""}, "anchor": f"x{ax}",
                                "range": [-0.5, p - 0.5], "showticklabels": i == 0}
        ann.append({"x": d0 + w / 2, "y": 0.9, "xref": "paper", "yref": "paper", "text": f"<b>{name}</b>",
                    "showarrow": False, "yanchor": "bottom"})
    layout["annotations"] = ann
    return figure(data, layout)



def two_panels(layout: dict, titles: list[str], gap: float = 0.1) -> list[dict]:
    """Axes x/y and x2/y2 side by side; returns the panel-title annotations."""
    w = (1 - gap) / 2
    ann = []
    for n, t in enumerate(titles):
        ax = "" if n == 0 else "2"
        d0 = n * (w + gap)
        layout[f"xaxis{ax}"] = {**layout.get(f"xaxis{ax}", {}), "domain": [d0, d0 + w], "anchor": f"y{ax}"}
        layout[f"yaxis{ax}"] = {**layout.get(f"yaxis{ax}", {}), "anchor": f"x{ax}"}
        # centred on the axis as drawn: a square panel (scaleanchor) is narrower than its domain in a small frame
        ann.append({"x": 0.5, "y": 1.0, "xref": f"x{ax} domain", "yref": "paper", "yanchor": "bottom",
                    "text": f"<b>{t}</b>", "showarrow": False})
    return ann



def square_axes(p: int) -> tuple[dict, dict]:
    return ({"range": [-0.5, p - 0.5], "constrain": "domain"},
            {"range": [-0.5, p - 0.5], "scaleanchor": "x", "constrain": "domain"})
