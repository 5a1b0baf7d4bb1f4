"""View 2, inputs: the one-hot tokens, their embedding and the model's answer."""

from __future__ import annotations

import numpy as np

from .base import DIVERGING, TEST, Figure, base_layout, figure, heatmap_trace


def _position_labels(tokens: list[int], eq: int) -> list[str]:
    return [f"pos {j}: {'=' if t == eq else t}" for j, t in enumerate(tokens)]


def one_hot_matrix(tokens: list[int], d_vocab: int) -> Figure:
    """The d_vocab x 3 one-hot input: column j has a single 1 at row tokens[j]."""
    z = np.zeros((d_vocab, len(tokens)), dtype=np.float32)
    z[tokens, np.arange(len(tokens))] = 1.0
    cols = _position_labels(tokens, d_vocab - 1)
    data = [heatmap_trace(z, [[0, "#f4f4f4"], [1, "#111111"]], None, "%{x}<br>token %{y}: %{z:.0f}<extra></extra>",
                     x=cols, y=np.arange(d_vocab), xgap=2)]
    ann = [{"x": cols[j], "y": t, "text": f"1 at row {t}", "showarrow": True, "arrowhead": 2, "ax": 40, "ay": -25,
            "font": {"color": TEST}} for j, t in enumerate(tokens)]
    layout = base_layout(f"One-hot input ({d_vocab}×{len(tokens)})", None, "position",
                     f"token id (0–{d_vocab - 2} are numbers, {d_vocab - 1} is '=')", height=460, yaxis={"autorange": "reversed"},
                     annotations=ann)
    return figure(data, layout)


def embedding_matrix(embed: np.ndarray, tokens: list[int], eq: int, step: int) -> Figure:
    """W_E[tokens] as d_model x 3: the one-hot matrix times the embedding matrix."""
    lim = float(np.abs(embed).max()) or 1.0
    data = [heatmap_trace(embed.T, DIVERGING, "value", "%{x}<br>dim %{y}: %{z:.3f}<extra></extra>",
                     x=_position_labels(tokens, eq), y=np.arange(embed.shape[1]), zmid=0, zmin=-lim, zmax=lim, xgap=2)]
    layout = base_layout(f"Embedding W_E · one-hot ({embed.shape[1]}×{embed.shape[0]})", step, "position",
                     "embedding dimension", height=460, yaxis={"autorange": "reversed"})
    return figure(data, layout)


def answer_probs(probs: np.ndarray, correct: int, step: int) -> Figure:
    """Softmax over the p answers at the last position; the correct answer highlighted."""
    p = probs.shape[0]
    top = int(np.argmax(probs))
    data = [{"type": "bar", "x": np.arange(p), "y": probs, "showlegend": False,
             "marker": {"color": [TEST if i == correct else "#9aa5b1" for i in range(p)]},
             "hovertemplate": "answer %{x}: %{y:.2%}<extra></extra>"}]
    layout = base_layout(f"The model's answer: {top} (correct: {correct}, orange)", step, "answer",
                     "probability", height=300, yaxis={"range": [0, 1.02], "tickformat": ".0%"})
    return figure(data, layout)
