"""View 1, training curves: loss and accuracy over training, phases shaded, the step marked."""

from __future__ import annotations

from .base import TEST, TRAIN, Figure, base_layout, figure, legend_below, line_trace, phase_marks


def loss_curves(metrics: dict, step: int, spans) -> Figure:
    s = metrics["step"]
    shapes, ann = phase_marks(spans, step)
    data = [line_trace(s, metrics["train_loss"], "train loss", TRAIN), line_trace(s, metrics["test_loss"], "test loss", TEST)]
    layout = base_layout("Loss (log scale)", step, "training step", "cross-entropy loss", yaxis={"type": "log"},
                     hovermode="x unified", legend=legend_below(-0.3), shapes=shapes, annotations=ann)
    layout["margin"]["t"] = 95  # room for the phase labels; the legend goes lower, clear of the axis title
    return figure(data, layout)


def accuracy_curves(metrics: dict, step: int, spans) -> Figure:
    s = metrics["step"]
    shapes, ann = phase_marks(spans, step)
    data = [line_trace(s, metrics["train_acc"], "train accuracy", TRAIN, hover="%{y:.1%}"),
            line_trace(s, metrics["test_acc"], "test accuracy", TEST, hover="%{y:.1%}")]
    layout = base_layout("Accuracy", step, "training step", "accuracy", yaxis={"range": [0, 1.05], "tickformat": ".0%"},
                     hovermode="x unified", legend=legend_below(-0.3), shapes=shapes, annotations=ann)
    layout["margin"]["t"] = 95  # room for the phase labels; the legend goes lower, clear of the axis title
    return figure(data, layout)
