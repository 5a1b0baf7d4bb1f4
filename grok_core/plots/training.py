"""The training page: live loss and accuracy curves."""

from __future__ import annotations

from .base import TEST, TRAIN, Figure, base_layout, figure, legend_below, line_trace


def live_curves(steps: list[int], train: list[float], test: list[float], ytitle: str, log: bool) -> Figure:
    data = [line_trace(steps, train, "train", TRAIN), line_trace(steps, test, "test", TEST)]
    layout = base_layout(f"Live {ytitle}", None, "training step", ytitle, height=300, legend=legend_below(-0.3),
                     yaxis={"type": "log"} if log else None)
    return figure(data, layout)
