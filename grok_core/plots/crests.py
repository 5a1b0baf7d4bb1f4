"""View 7: the crest lines x + y ≡ c and the mean along each diagonal."""

from __future__ import annotations

import numpy as np

from .base import TEST, Figure, base_layout, figure


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
    return figure(data, base_layout(title, step, "(x + y) mod p", "mean value on that diagonal", height=300,
                                showlegend=False))
