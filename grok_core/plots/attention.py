"""View 8: attention from '=' to x per head."""

from __future__ import annotations

import numpy as np

from .base import ATTENTION, QUALITATIVE, Figure, base_layout, figure, heat_row, legend_below, line_trace


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
    return heat_row(panels, "Attention from '=' to x, per head" + (", ordered by k·v mod p" if ordered else ""), step,
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
            data.append(line_trace(np.arange(p), mean[:, i], name, QUALITATIVE[i % 10], hover="%{y:.1%}"))
        else:
            data.append(line_trace(np.arange(p), mean[o, i], name, QUALITATIVE[i % 10], customdata=o,
                              hover="x = %{customdata}: %{y:.1%}"))
    ordered = orders is not None
    layout = base_layout("Attention to x averaged over y" + (", x ordered by k·x mod p" if ordered else ""), step,
                     "k·x mod p (k = each head's frequency)" if ordered else "x", "attention to x", height=330,
                     hovermode="x unified", yaxis={"tickformat": ".0%"}, legend=legend_below(-0.3))
    return figure(data, layout)
