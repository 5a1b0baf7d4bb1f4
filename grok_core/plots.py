"""Plotly figure builders for the explorer: numpy in, `go.Figure` out, no streamlit.

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

# Okabe-Ito colours: distinguishable with the common colour-vision deficiencies.
TRAIN = "#0072B2"
TEST = "#D55E00"
RESTRICTED = "#009E73"
EXCLUDED = "#CC79A7"
CURRENT = "#222222"
PHASES = ("memorising", "circuit forming", "cleanup", "generalised")
PHASE_COLORS = {"memorising": "#E69F00", "circuit forming": "#56B4E9", "cleanup": "#9467BD", "generalised": "#009E73"}
QUALITATIVE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#8C564B", "#F0C808", "#7F7F7F", "#17BECF"]
# Colour scales as explicit lists: plotly.js knows only a few names, and not plotly.py's (e.g. "RdBu_r").
CYCLIC = get_colorscale("Twilight")  # for x or y mod p: 0 and p-1 get neighbouring colours
DIVERGING = get_colorscale("RdBu_r")  # signed values, white at zero
SEQUENTIAL = get_colorscale("Viridis")
MAGNITUDE = get_colorscale("Blues")  # white (0) to dark blue
ATTENTION = get_colorscale("Cividis")

PNG_CONFIG = {"displaylogo": False, "toImageButtonOptions": {"format": "png", "scale": 2}}
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


def _pack(v):
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
        return {k: _pack(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_pack(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    return v


def figure(data: list[dict], layout: dict) -> Figure:
    return Figure({"data": _pack(data), "layout": _pack(layout)})


def _title(text: str, step: int | None = None) -> dict:
    return {"text": text if step is None else f"{text} — step {int(step)}", "x": 0.0, "xanchor": "left"}


def _layout(title: str, step: int | None, xtitle: str, ytitle: str, height: int = 380, xaxis=None, yaxis=None,
            **kw) -> dict:
    return {"title": _title(title, step), "height": height, "margin": dict(_MARGIN), "hoverlabel": {"namelength": -1},
            "xaxis": {"title": {"text": xtitle}, **(xaxis or {})}, "yaxis": {"title": {"text": ytitle}, **(yaxis or {})},
            **kw}


def _line(x, y, name: str, color: str, width: float = 2, dash: str | None = None, hover: str = "%{y:.3g}",
          **kw) -> dict:
    return {"type": "scatter", "mode": "lines", "x": x, "y": y, "name": name,
            "line": {"color": color, "width": width, **({"dash": dash} if dash else {})}, "hovertemplate": hover, **kw}


def _heatmap(z, colorscale, colorbar: str | None, hover: str, cbar: dict | None = None, **kw) -> dict:
    d = {"type": "heatmap", "z": z, "colorscale": colorscale, "hovertemplate": hover, **kw}
    if colorbar is None:
        d["showscale"] = False
    else:
        d["colorbar"] = {"title": {"text": colorbar}, **(cbar or {})}
    return d


def _legend_below(y: float = -0.22) -> dict:
    return {"orientation": "h", "y": y, "x": 0, "yanchor": "top"}


# -- phases of training -------------------------------------------------------------------------
def phase_spans(metrics: dict) -> list[tuple[str, int, int]]:
    """(phase, first_step, last_step) from the metrics, for shading and the sidebar badge.

    memorising: until training accuracy reaches 99% and test loss peaks (memorising more only
    hurts the test set); circuit forming: the plateau after that peak; cleanup: from when test
    loss has fallen to half its peak (the cliff) until test accuracy reaches 99%; generalised: after.
    """
    steps = np.asarray(metrics["step"])
    if steps.size == 0:
        return []
    tr_acc, te_loss, te_acc = (np.asarray(metrics[k], dtype=float) for k in ("train_acc", "test_loss", "test_acc"))
    first, last = int(steps[0]), int(steps[-1])
    hit = np.flatnonzero(tr_acc >= 0.99)
    if hit.size == 0:
        return [("memorising", first, last)]
    i_peak = int(hit[0] + np.argmax(te_loss[hit[0]:]))
    bounds = [("memorising", i_peak)]
    fell = np.flatnonzero(te_loss[i_peak:] < 0.5 * te_loss[i_peak])
    if fell.size:
        i_clean = i_peak + int(fell[0])
        bounds.append(("circuit forming", i_clean))
        gen = np.flatnonzero(te_acc[i_clean:] >= 0.99)
        if gen.size:
            bounds.append(("cleanup", i_clean + int(gen[0])))
            bounds.append(("generalised", len(steps) - 1))
        else:
            bounds.append(("cleanup", len(steps) - 1))
    else:
        bounds.append(("circuit forming", len(steps) - 1))
    spans, start = [], first
    for name, i_end in bounds:
        end = int(steps[i_end])
        if end > start or not spans:
            spans.append((name, start, end))
        start = end
    return spans


def phase_at(spans: list[tuple[str, int, int]], step: int) -> str:
    for name, a, b in spans:
        if a <= step <= b:
            return name
    return spans[-1][0] if spans else "memorising"


def _phase_marks(spans, step: int | None, label_phases: bool = True) -> tuple[list[dict], list[dict]]:
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


# -- view 1: training curves --------------------------------------------------------------------
def loss_curves(metrics: dict, step: int, spans) -> Figure:
    s = metrics["step"]
    shapes, ann = _phase_marks(spans, step)
    data = [_line(s, metrics["train_loss"], "train loss", TRAIN), _line(s, metrics["test_loss"], "test loss", TEST)]
    layout = _layout("Loss (log scale)", step, "training step", "cross-entropy loss", yaxis={"type": "log"},
                     hovermode="x unified", legend=_legend_below(-0.3), shapes=shapes, annotations=ann)
    layout["margin"]["t"] = 95  # room for the phase labels; the legend goes lower, clear of the axis title
    return figure(data, layout)


def accuracy_curves(metrics: dict, step: int, spans) -> Figure:
    s = metrics["step"]
    shapes, ann = _phase_marks(spans, step)
    data = [_line(s, metrics["train_acc"], "train accuracy", TRAIN, hover="%{y:.1%}"),
            _line(s, metrics["test_acc"], "test accuracy", TEST, hover="%{y:.1%}")]
    layout = _layout("Accuracy", step, "training step", "accuracy", yaxis={"range": [0, 1.05], "tickformat": ".0%"},
                     hovermode="x unified", legend=_legend_below(-0.3), shapes=shapes, annotations=ann)
    layout["margin"]["t"] = 95  # room for the phase labels; the legend goes lower, clear of the axis title
    return figure(data, layout)


# -- view 2: inputs -----------------------------------------------------------------------------
def _position_labels(tokens: list[int], eq: int) -> list[str]:
    return [f"pos {j}: {'=' if t == eq else t}" for j, t in enumerate(tokens)]


def one_hot_matrix(tokens: list[int], d_vocab: int) -> Figure:
    """The d_vocab x 3 one-hot input: column j has a single 1 at row tokens[j]."""
    z = np.zeros((d_vocab, len(tokens)), dtype=np.float32)
    z[tokens, np.arange(len(tokens))] = 1.0
    cols = _position_labels(tokens, d_vocab - 1)
    data = [_heatmap(z, [[0, "#f4f4f4"], [1, "#111111"]], None, "%{x}<br>token %{y}: %{z:.0f}<extra></extra>",
                     x=cols, y=np.arange(d_vocab), xgap=2)]
    ann = [{"x": cols[j], "y": t, "text": f"1 at row {t}", "showarrow": True, "arrowhead": 2, "ax": 40, "ay": -25,
            "font": {"color": TEST}} for j, t in enumerate(tokens)]
    layout = _layout(f"One-hot input ({d_vocab}×{len(tokens)})", None, "position",
                     f"token id (0–{d_vocab - 2} are numbers, {d_vocab - 1} is '=')", height=460, yaxis={"autorange": "reversed"},
                     annotations=ann)
    return figure(data, layout)


def embedding_matrix(embed: np.ndarray, tokens: list[int], eq: int, step: int) -> Figure:
    """W_E[tokens] as d_model x 3: the one-hot matrix times the embedding matrix."""
    lim = float(np.abs(embed).max()) or 1.0
    data = [_heatmap(embed.T, DIVERGING, "value", "%{x}<br>dim %{y}: %{z:.3f}<extra></extra>",
                     x=_position_labels(tokens, eq), y=np.arange(embed.shape[1]), zmid=0, zmin=-lim, zmax=lim, xgap=2)]
    layout = _layout(f"Embedding W_E · one-hot ({embed.shape[1]}×{embed.shape[0]})", step, "position",
                     "embedding dimension", height=460, yaxis={"autorange": "reversed"})
    return figure(data, layout)


def answer_probs(probs: np.ndarray, correct: int, step: int) -> Figure:
    """Softmax over the p answers at the last position; the correct answer highlighted."""
    p = probs.shape[0]
    top = int(np.argmax(probs))
    data = [{"type": "bar", "x": np.arange(p), "y": probs, "showlegend": False,
             "marker": {"color": [TEST if i == correct else "#9aa5b1" for i in range(p)]},
             "hovertemplate": "answer %{x}: %{y:.2%}<extra></extra>"}]
    layout = _layout(f"The model's answer: {top} (correct: {correct}, orange)", step, "answer",
                     "probability", height=300, yaxis={"range": [0, 1.02], "tickformat": ".0%"})
    return figure(data, layout)


# -- view 3: neuron waves -----------------------------------------------------------------------
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
    data = [_line(ys, waves[:, j], names[j], QUALITATIVE[j % 10]) for j in range(len(neurons))]
    layout = _layout(f"MLP neurons with x = {x} fixed, y swept over 0..{p - 1}", step, "y",
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
    layout = _layout(f"{n}×{n} neuron pairs over y (x = {x}), each pair once; diagonal: each neuron's wave", step,
                     "neuron across (its activation →)", "neuron up (its activation →)",
                     height=max(440, min(900, 96 * n + 130)), margin={"l": 70, "r": 20, "t": 60, "b": 60},
                     xaxis={**axis, "tickvals": centres}, yaxis={**axis, "tickvals": centres[::-1], "scaleanchor": "x"},
                     shapes=cells)
    return figure(data, layout)


# -- view 5: embeddings and probes --------------------------------------------------------------
def freq_norms(norms: np.ndarray, key_freqs: list[int], step: int,
               title: str = "Embedding W_E: strength per frequency") -> Figure:
    k = np.arange(1, norms.shape[0] + 1)
    key = np.isin(k, key_freqs)
    data = [{"type": "bar", "x": k[~key], "y": norms[~key], "name": "other frequencies",
             "marker": {"color": "#9aa5b1"}, "hovertemplate": "k = %{x}: %{y:.3f}<extra></extra>"},
            {"type": "bar", "x": k[key], "y": norms[key], "name": "key frequencies of the trained model",
             "marker": {"color": TEST}, "hovertemplate": "k = %{x}: %{y:.3f}<extra>key</extra>"}]
    p = 2 * norms.shape[0] + 1  # frequencies 1..(p-1)/2 of an odd p
    layout = _layout(title, step, f"frequency k (waves cos/sin(2πkx/{p}))", "norm of the cos k and sin k components",
                     height=360, showlegend=True, legend=_legend_below(-0.25), barmode="overlay", bargap=0.15)
    return figure(data, layout)


def _two_panels(layout: dict, titles: list[str], gap: float = 0.1) -> list[dict]:
    """Axes x/y and x2/y2 side by side; returns the panel-title annotations."""
    w = (1 - gap) / 2
    ann = []
    for n, t in enumerate(titles):
        ax = "" if n == 0 else "2"
        d0 = n * (w + gap)
        layout[f"xaxis{ax}"] = {**layout.get(f"xaxis{ax}", {}), "domain": [d0, d0 + w], "anchor": f"y{ax}"}
        layout[f"yaxis{ax}"] = {**layout.get(f"yaxis{ax}", {}), "anchor": f"x{ax}"}
        ann.append({"x": d0 + w / 2, "y": 1.0, "xref": "paper", "yref": "paper", "yanchor": "bottom",
                    "text": f"<b>{t}</b>", "showarrow": False})
    return ann


def probe_circles(fits: dict[str, tuple[np.ndarray, np.ndarray]], k: int, step: int,
                  r2: dict[str, tuple[float, float]] | None = None) -> Figure:
    """For x and for y, the cos probe against the sin probe: a circle when the embedding holds cos and sin of k·v.

    r2: each probe's R² against the true cos and sin, shown in the panel titles."""
    t = np.linspace(0, 2 * np.pi, 200)
    data, layout = [], {"title": _title(f"Probe circles (k = {k}): cos probe against sin probe", step), "height": 450,
                        "margin": {"l": 60, "r": 20, "t": 100, "b": 50}, "showlegend": False,
                        "hoverlabel": {"namelength": -1}}
    for n, (var, (cos_fit, sin_fit)) in enumerate(fits.items()):
        ax = "" if n == 0 else "2"
        p = cos_fit.shape[0]
        v = np.arange(p)
        data.append({"type": "scatter", "mode": "lines", "x": np.cos(t), "y": np.sin(t), "hoverinfo": "skip",
                     "line": {"color": "#bbbbbb", "dash": "dot"}, "xaxis": f"x{ax}", "yaxis": f"y{ax}"})
        data.append({"type": "scatter", "mode": "markers", "x": cos_fit, "y": sin_fit, "customdata": v,
                     "xaxis": f"x{ax}", "yaxis": f"y{ax}",
                     "marker": {"size": 7, "color": v, "colorscale": CYCLIC, "cmin": 0, "cmax": p - 1,
                                "showscale": n == 1, "colorbar": {"title": {"text": "x or y"},
                                                                  "tickvals": [0, p // 2, p - 1]}},
                     "hovertemplate": f"{var} = %{{customdata}}<br>cos probe %{{x:.3f}}<br>sin probe %{{y:.3f}}"
                                      "<extra></extra>"})
        layout[f"xaxis{ax}"] = {"range": [-1.5, 1.5], "title": {"text": f"probe for cos(2π·{k}{var}/{p})"},
                                "constrain": "domain"}
        layout[f"yaxis{ax}"] = {"range": [-1.5, 1.5], "title": {"text": f"probe for sin(2π·{k}{var}/{p})"},
                                "scaleanchor": f"x{ax}", "constrain": "domain"}
    layout["annotations"] = _two_panels(layout, [f"from the embedding of {v}" + (  # two lines: side by side, one is too wide
        f"<br>R²: cos {r2[v][0]:.2f} · sin {r2[v][1]:.2f}" if r2 else "") for v in fits])
    return figure(data, layout)


def probe_curves(fits: dict[str, tuple[np.ndarray, np.ndarray]], k: int, step: int,
                 r2: dict[str, tuple[float, float]] | None = None) -> Figure:
    """For x and for y, the sparse-probe fits against the true cos/sin of 2πk·v/p."""
    p = next(iter(fits.values()))[0].shape[0]
    data, layout = [], {"title": _title(f"Probes against the true waves cos/sin(2π·{k}·v/{p})", step), "height": 360,
                        "margin": {"l": 60, "r": 20, "t": 80, "b": 50}, "legend": {**_legend_below(-0.3), "traceorder": "normal"},  # one row, not a column per group
                        "hovermode": "x unified", "hoverlabel": {"namelength": -1}}
    for n, (var, (cos_fit, sin_fit)) in enumerate(fits.items()):
        ax = "" if n == 0 else "2"
        p = cos_fit.shape[0]
        v = np.arange(p)
        th = 2 * np.pi * k * v / p
        kw = {"xaxis": f"x{ax}", "yaxis": f"y{ax}", "legendgroup": str(n), "showlegend": n == 0}
        data += [_line(v, np.cos(th), "true cos", TRAIN, width=1, dash="dot", **kw),
                 _line(v, np.sin(th), "true sin", TEST, width=1, dash="dot", **kw),
                 _line(v, cos_fit, "probe for cos", TRAIN, **kw), _line(v, sin_fit, "probe for sin", TEST, **kw)]
        layout[f"xaxis{ax}"] = {"title": {"text": var}}
        layout[f"yaxis{ax}"] = {"title": {"text": "value"}}
    titles = [f"{var}" + (f" (R² {r2[var][0]:.2f}, {r2[var][1]:.2f})" if r2 else "") for var in fits]
    layout["annotations"] = _two_panels(layout, titles)
    return figure(data, layout)


# -- view 6: surfaces, spectra, decomposition ---------------------------------------------------
def _square_axes(p: int) -> tuple[dict, dict]:
    return ({"range": [-0.5, p - 0.5], "constrain": "domain"},
            {"range": [-0.5, p - 0.5], "scaleanchor": "x", "constrain": "domain"})


def surface_heatmap(surface: np.ndarray, title: str, step: int | None, colorbar: str = "activation",
                    signed: bool | None = None, height: int = 440, lines_c: int | None = None) -> Figure:
    """surface [p(x), p(y)] as a heatmap with x across and y up (optionally the crest lines x + y ≡ c)."""
    p = surface.shape[0]
    signed = bool(surface.min() < 0) if signed is None else signed
    kw = {"colorscale": DIVERGING, "zmid": 0} if signed else {"colorscale": SEQUENTIAL}
    data = [_heatmap(surface.T, kw.pop("colorscale"), colorbar,
                     "x = %{x}, y = %{y}<br>" + colorbar + " = %{z:.3f}<extra></extra>", **kw)]
    xa, ya = _square_axes(p)
    layout = _layout(title, step, "x", "y", height=height, xaxis=xa, yaxis=ya)
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
    layout = {"title": _title(title, step), "height": 520, "margin": {"l": 0, "r": 0, "t": 60, "b": 0},
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
    layout = {"title": _title(title), "height": 600, "margin": {"l": 0, "r": 0, "t": 60, "b": 0},
              "uirevision": "keep", "sliders": [slider], "updatemenus": [play],
              "scene": _scene(axis, ztitle, range=[-lim if signed else 0, lim])}
    spec = {"data": [_pack(trace)], "layout": _pack(layout),
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
    names = ["const"] + [f"{t} {k}" for k in range(1, (p - 1) // 2 + 1) for t in ("cos", "sin")]
    top = [divmod(int(i), p) for i in np.argsort(-mag, axis=None)[:4]]
    upto = int(min(p - 1, max(24, max(max(a, b) for a, b in top) + 8)))
    every = 5 if upto < 60 else 10
    ticks = ["const"] + [f"cos {k}" for k in range(every, (p - 1) // 2 + 1, every) if 2 * k - 1 <= upto]
    data = [_heatmap(mag.T, MAGNITUDE, "|coefficient|", "%{x}x · %{y}y<br>|coefficient| = %{z:.3f}<extra></extra>",
                     x=names, y=names)]
    ann = [{"x": names[a], "y": names[b], "text": f"{names[a]}x · {names[b]}y" if a and b else
            (f"{names[a]}x" if a else f"{names[b]}y"), "showarrow": True, "arrowhead": 2, "ax": 45,
            "ay": -22 - 18 * n, "font": {"size": 11}, "bgcolor": "rgba(255,255,255,0.85)"}
           for n, (a, b) in enumerate(top)]
    axis = {"type": "category", "tickvals": ticks, "range": [-0.5, upto + 0.5], "constrain": "domain"}
    layout = _layout(title, step, "term in x (constant term not shown)", "term in y", height=440, xaxis=dict(axis),
                     yaxis={**axis, "scaleanchor": "x"}, annotations=ann)
    return figure(data, layout)


def top_terms_bar(terms: list[dict], step: int) -> Figure:
    names = [t["name"] for t in terms][::-1]
    data = [{"type": "bar", "orientation": "h", "x": [t["frac"] for t in terms][::-1], "y": names,
             "customdata": [t["coef"] for t in terms][::-1], "marker": {"color": TRAIN},
             "hovertemplate": "%{y}<br>share %{x:.1%}<br>coefficient %{customdata:.3f}<extra></extra>"}]
    layout = _layout("Largest 2-D Fourier terms (share of the surface's variance)", step, "share of variance", "",
                     height=max(260, 34 * len(terms) + 110), xaxis={"tickformat": ".1%"})
    layout["margin"]["l"] = 140
    return figure(data, layout)


def _heat_row(panels: list[tuple[str, np.ndarray]], title: str, step: int | None, colorscale=DIVERGING,
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
    layout = {"title": _title(title, step), "height": height, "margin": {"l": 50, "r": 20, "t": 60, "b": 40},
              "hoverlabel": {"namelength": -1}}
    for i, (name, z) in enumerate(panels):
        ax = "" if i == 0 else str(i + 1)
        data.append(_heatmap(z.T, colorscale, colorbar if i == n - 1 else None,
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


def decomposition(parts: list[tuple[str, np.ndarray]], step: int, neuron: int) -> Figure:
    return _heat_row(parts, f"Neuron #{neuron} split into its main Fourier components", step)


def trig_identity(identity: dict, k: int) -> Figure:
    """The four surfaces of cos kx·cos ky − sin kx·sin ky = cos k(x+y) (the same for every step)."""
    keys = ["cos kx·cos ky", "sin kx·sin ky", "difference", "cos k(x+y)"]
    names = [f"cos {k}x·cos {k}y", f"sin {k}x·sin {k}y", "cos·cos − sin·sin", f"cos {k}(x+y)"]
    panels = [(n, np.asarray(identity[kk])) for n, kk in zip(names, keys, strict=True)]
    err = identity.get("max_abs_error")
    tail = f" (largest mismatch {err:.1e})" if err is not None else ""
    return _heat_row(panels, f"cos({k}x)cos({k}y) − sin({k}x)sin({k}y) = cos({k}(x+y)){tail}", None)


# -- view 7: crests -----------------------------------------------------------------------------
def crest_lines(c: int, p: int) -> tuple[list[dict], list[dict]]:
    """Dashed lines x + y = c and x + y = c + p (where x + y ≡ c mod p inside the grid), and their label."""
    lines = []
    for total in (c, c + p):
        x0, x1 = max(0, total - (p - 1)), min(p - 1, total)
        if x0 <= x1:
            lines.append({"type": "scatter", "mode": "lines", "x": [x0, x1], "y": [total - x0, total - x1],
                          "showlegend": False, "hoverinfo": "skip", "line": {"color": "#111111", "width": 2,
                                                                            "dash": "dash"}})
    ann = [{"x": 1, "y": 1.0, "xref": "paper", "yref": "paper", "yanchor": "bottom", "xanchor": "right",
            "showarrow": False, "text": f"dashed: x + y ≡ {c} (mod {p})"}]
    return lines, ann


def diagonal_profile(surface: np.ndarray, c: int, step: int, title: str) -> Figure:
    """Mean of the surface along each diagonal x + y ≡ s: one peak at s = c for a crest surface."""
    p = surface.shape[0]
    s = (np.arange(p)[:, None] + np.arange(p)[None, :]) % p
    prof = np.bincount(s.ravel(), weights=surface.ravel(), minlength=p) / p
    data = [{"type": "bar", "x": np.arange(p), "y": prof, "showlegend": False,
             "marker": {"color": [TEST if i == c else "#9aa5b1" for i in range(p)]},
             "hovertemplate": "x + y ≡ %{x}: %{y:.3f}<extra></extra>"}]
    return figure(data, _layout(title, step, "(x + y) mod p", "mean value on that diagonal", height=300,
                                showlegend=False))


# -- view 8: attention --------------------------------------------------------------------------
def attention_heads(att_to_x: np.ndarray, step: int, freqs: list[int] | None = None,
                    orders: list[np.ndarray | None] | None = None, shares=None) -> Figure:
    """att_to_x [p, p, h]: how much '=' attends to x, per head (the rest goes mostly to y).

    With orders (one per head, from analysis.attention.frequency_order), each head's panel has x and y
    ordered by k·v mod p for that head's frequency k: a wave of frequency k becomes one smooth wave.
    shares: the share of each head's pattern that its frequency carries, in the panel titles.
    """
    h = att_to_x.shape[-1]
    ordered = orders is not None
    panels = []
    for i in range(h):
        z, o = att_to_x[:, :, i], orders[i] if ordered else None
        name = f"head {i}" + (f" (k = {freqs[i]}" + (f", {shares[i]:.0%})" if shares is not None else ")")
                              if freqs else "")
        panels.append((name, z[np.ix_(o, o)] if o is not None else z))
    return _heat_row(panels, "Attention from '=' to x, per head" + (", ordered by k·v mod p" if ordered else ""), step,
                     colorscale=ATTENTION, colorbar="attention<br>to x", zrange=(0.0, 1.0), hover_fmt=".1%",
                     height=340, cbar={"tickformat": ".0%"},
                     **({"xtitle": "k·x mod p", "ytitle": "k·y mod p"} if ordered else {}))


def attention_vs_x(att_to_x: np.ndarray, step: int, freqs: list[int] | None = None,
                   orders: list[np.ndarray | None] | None = None) -> Figure:
    """Attention to x averaged over y, per head: a wave once the circuit forms (ordered like attention_heads)."""
    p, _, h = att_to_x.shape
    mean = att_to_x.mean(axis=1)  # [p, h]
    data = []
    for i in range(h):
        o = orders[i] if orders is not None else None
        name = f"head {i}" + (f" (k = {freqs[i]})" if freqs else "")
        if o is None:
            data.append(_line(np.arange(p), mean[:, i], name, QUALITATIVE[i % 10], hover="%{y:.1%}"))
        else:
            data.append(_line(np.arange(p), mean[o, i], name, QUALITATIVE[i % 10], customdata=o,
                              hover="x = %{customdata}: %{y:.1%}"))
    ordered = orders is not None
    layout = _layout("Attention to x averaged over y" + (", x ordered by k·x mod p" if ordered else ""), step,
                     "k·x mod p (k = each head's frequency)" if ordered else "x", "attention to x", height=330,
                     hovermode="x unified", yaxis={"tickformat": ".0%"}, legend=_legend_below(-0.3))
    return figure(data, layout)


# -- view 9: progress measures ------------------------------------------------------------------
def progress_losses(prog: dict, metrics: dict, step: int, spans) -> Figure:
    s = prog["step"]
    shapes, ann = _phase_marks(spans, step)
    data = [_line(metrics["step"], metrics["train_loss"], "train loss", TRAIN, width=1.5),
            _line(metrics["step"], metrics["test_loss"], "test loss", TEST, width=1.5),
            _line(s, prog["restricted_loss"], "restricted loss (key frequencies only)", RESTRICTED, width=2.5),
            _line(s, prog["excluded_loss"], "excluded loss (key frequencies removed)", EXCLUDED, width=2.5)]
    layout = _layout("Progress measures: restricted and excluded loss", step, "training step", "loss (log scale)",
                     height=430, yaxis={"type": "log"}, hovermode="x unified", legend=_legend_below(), shapes=shapes,
                     annotations=ann)
    layout["margin"]["t"] = 95
    return figure(data, layout)


def progress_panels(prog: dict, step: int, spans) -> Figure:
    """Sum of squared weights, Gini of the embedding's frequency norms, the key frequencies' share of it (where
    given) and their count, side by side."""
    panels = [("sum_sq_weights", "Sum of squared<br>weights", "Σ w²", "#444444"),
              ("gini", "Gini of the embedding's<br>frequency norms", "Gini (1: concentrated)", RESTRICTED),
              ("key_share", "Key frequencies'<br>share of the embedding", "share of Σ norm²", EXCLUDED),
              ("n_key_freqs", "Key frequencies: norm² >10×<br>the median, ≥⅓ of the max", "count", "#7a5195")]
    panels = [pn for pn in panels if pn[0] in prog]
    n_p = len(panels)
    gap = 0.09  # room for the panels' axis titles
    w = (1 - gap * (n_p - 1)) / n_p
    data, shapes, ann = [], [], []
    layout = {"title": _title("Weights, frequency concentration and key frequencies", step), "height": 350,
              "margin": {"l": 55, "r": 20, "t": 100, "b": 50}, "showlegend": False, "hoverlabel": {"namelength": -1}}
    for n, (key, name, ytitle, color) in enumerate(panels):
        ax = "" if n == 0 else str(n + 1)
        data.append(_line(prog["step"], prog[key], name, color, hover="step %{x}<br>%{y:.4g}<extra></extra>",
                          xaxis=f"x{ax}", yaxis=f"y{ax}"))
        d0 = n * (w + gap)
        layout[f"xaxis{ax}"] = {"domain": [d0, min(1.0, d0 + w)], "anchor": f"y{ax}", "title": {"text": "training step"}}
        layout[f"yaxis{ax}"] = {"anchor": f"x{ax}", "title": {"text": ytitle},
                                **({"tickformat": ".0%", "range": [0, 1]} if key == "key_share" else {})}
        marks, _ = _phase_marks(spans, step, label_phases=False)
        for m in marks:
            m["xref"] = f"x{ax}"
            m["yref"] = f"y{ax} domain"
        shapes += marks
        ann.append({"x": d0 + w / 2, "y": 1.02, "xref": "paper", "yref": "paper", "yanchor": "bottom",
                    "text": f"<b>{name}</b>", "showarrow": False})
    layout["shapes"], layout["annotations"] = shapes, ann
    return figure(data, layout)


# -- training page ------------------------------------------------------------------------------
def live_curves(steps: list[int], train: list[float], test: list[float], ytitle: str, log: bool) -> Figure:
    data = [_line(steps, train, "train", TRAIN), _line(steps, test, "test", TEST)]
    layout = _layout(f"Live {ytitle}", None, "training step", ytitle, height=300, legend=_legend_below(-0.3),
                     yaxis={"type": "log"} if log else None)
    return figure(data, layout)
