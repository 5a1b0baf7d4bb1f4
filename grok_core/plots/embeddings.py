"""View 5: the embedding's strength per frequency, and the sparse-probe circles."""

from __future__ import annotations

import numpy as np

from .base import CYCLIC, TEST, TRAIN, Figure, base_layout, figure, legend_below, line_trace, title_of, two_panels


def freq_norms(norms: np.ndarray, key_freqs: list[int], step: int,
               title: str = "Embedding W_E: strength per frequency") -> Figure:
    k = np.arange(1, norms.shape[0] + 1)
    key = np.isin(k, key_freqs)
    data = [{"type": "bar", "x": k[~key], "y": norms[~key], "name": "other frequencies",
             "marker": {"color": "#9aa5b1"}, "hovertemplate": "k = %{x}: %{y:.3f}<extra></extra>"},
            {"type": "bar", "x": k[key], "y": norms[key], "name": "key frequencies of the trained model",
             "marker": {"color": TEST}, "hovertemplate": "k = %{x}: %{y:.3f}<extra>key</extra>"}]
    p = 2 * norms.shape[0] + 1  # frequencies 1..(p-1)/2 of an odd p
    layout = base_layout(title, step, f"frequency k (waves cos/sin(2πkx/{p}))", "norm of the cos k and sin k components",
                     height=360, showlegend=True, legend=legend_below(-0.25), barmode="overlay", bargap=0.15)
    return figure(data, layout)



def probe_circles(fits: dict[str, tuple[np.ndarray, np.ndarray]], k: int, step: int,
                  r2: dict[str, tuple[float, float]] | None = None) -> Figure:
    """For x and for y, the cos probe against the sin probe: a circle when the embedding holds cos and sin of k·v.

    r2: each probe's R² against the true cos and sin, shown in the panel titles."""
    t = np.linspace(0, 2 * np.pi, 200)
    data, layout = [], {"title": title_of(f"Probe circles (k = {k}): cos probe against sin probe", step), "height": 450,
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
    layout["annotations"] = two_panels(layout, [f"from the embedding of {v}" + (  # two lines: side by side, one is too wide
        f"<br>R²: cos {r2[v][0]:.2f} · sin {r2[v][1]:.2f}" if r2 else "") for v in fits])
    return figure(data, layout)


def probe_curves(fits: dict[str, tuple[np.ndarray, np.ndarray]], k: int, step: int,
                 r2: dict[str, tuple[float, float]] | None = None) -> Figure:
    """For x and for y, the sparse-probe fits against the true cos/sin of 2πk·v/p."""
    p = next(iter(fits.values()))[0].shape[0]
    data, layout = [], {"title": title_of(f"Probes against the true waves cos/sin(2π·{k}·v/{p})", step), "height": 360,
                        "margin": {"l": 60, "r": 20, "t": 80, "b": 50}, "legend": {**legend_below(-0.3), "traceorder": "normal"},  # one row, not a column per group
                        "hovermode": "x unified", "hoverlabel": {"namelength": -1}}
    for n, (var, (cos_fit, sin_fit)) in enumerate(fits.items()):
        ax = "" if n == 0 else "2"
        p = cos_fit.shape[0]
        v = np.arange(p)
        th = 2 * np.pi * k * v / p
        kw = {"xaxis": f"x{ax}", "yaxis": f"y{ax}", "legendgroup": str(n), "showlegend": n == 0}
        data += [line_trace(v, np.cos(th), "true cos", TRAIN, width=1, dash="dot", **kw),
                 line_trace(v, np.sin(th), "true sin", TEST, width=1, dash="dot", **kw),
                 line_trace(v, cos_fit, "probe for cos", TRAIN, **kw), line_trace(v, sin_fit, "probe for sin", TEST, **kw)]
        layout[f"xaxis{ax}"] = {"title": {"text": var}}
        layout[f"yaxis{ax}"] = {"title": {"text": "value"}}
    titles = [f"{var}" + (f" (R² {r2[var][0]:.2f}, {r2[var][1]:.2f})" if r2 else "") for var in fits]
    layout["annotations"] = two_panels(layout, titles)
    return figure(data, layout)
