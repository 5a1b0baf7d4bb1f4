"""View 9: the progress measures over all checkpoints."""

from __future__ import annotations

from .base import (
    EXCLUDED,
    RESTRICTED,
    TEST,
    TRAIN,
    Figure,
    base_layout,
    figure,
    legend_below,
    line_trace,
    phase_marks,
    title_of,
)


def progress_losses(prog: dict, metrics: dict, step: int, spans) -> Figure:
    s = prog["step"]
    shapes, ann = phase_marks(spans, step)
    data = [line_trace(metrics["step"], metrics["train_loss"], "train loss", TRAIN, width=1.5),
            line_trace(metrics["step"], metrics["test_loss"], "test loss", TEST, width=1.5),
            line_trace(s, prog["restricted_loss"], "restricted loss (key frequencies only)", RESTRICTED, width=2.5),
            line_trace(s, prog["excluded_loss"], "excluded loss (key frequencies removed)", EXCLUDED, width=2.5)]
    layout = base_layout("Progress measures: restricted and excluded loss", step, "training step", "loss (log scale)",
                     height=430, yaxis={"type": "log"}, hovermode="x unified", legend=legend_below(), shapes=shapes,
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
    layout = {"title": title_of("Weights, frequency concentration and key frequencies", step), "height": 350,
              "margin": {"l": 55, "r": 20, "t": 100, "b": 50}, "showlegend": False, "hoverlabel": {"namelength": -1}}
    for n, (key, name, ytitle, color) in enumerate(panels):
        ax = "" if n == 0 else str(n + 1)
        data.append(line_trace(prog["step"], prog[key], name, color, hover="step %{x}<br>%{y:.4g}<extra></extra>",
                          xaxis=f"x{ax}", yaxis=f"y{ax}"))
        d0 = n * (w + gap)
        layout[f"xaxis{ax}"] = {"domain": [d0, min(1.0, d0 + w)], "anchor": f"y{ax}", "title": {"text": "training step"}}
        layout[f"yaxis{ax}"] = {"anchor": f"x{ax}", "title": {"text": ytitle},
                                **({"tickformat": ".0%", "range": [0, 1]} if key == "key_share" else {})}
        marks, _ = phase_marks(spans, step, label_phases=False)
        for m in marks:
            m["xref"] = f"x{ax}"
            m["yref"] = f"y{ax} domain"
        shapes += marks
        ann.append({"x": d0 + w / 2, "y": 1.02, "xref": "paper", "yref": "paper", "yanchor": "bottom",
                    "text": f"<b>{name}</b>", "showarrow": False})
    layout["shapes"], layout["annotations"] = shapes, ann
    return figure(data, layout)
