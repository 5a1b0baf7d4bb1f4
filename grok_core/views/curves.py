"""View 1, training curves: the metrics at the step and its phase."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..phases import Phase, Span, phase_at


@dataclass(frozen=True)
class CurvesReading:
    step: int  # the checkpoint's step (the metrics row at or after the step asked for)
    phase: Phase
    train_loss: float
    test_loss: float
    train_acc: float
    test_acc: float


def curves_at(metrics: dict, spans: list[Span], step: int) -> CurvesReading:
    i = int(np.searchsorted(metrics["step"], step).clip(0, len(metrics["step"]) - 1))
    return CurvesReading(int(metrics["step"][i]), phase_at(spans, step),
                         *(float(metrics[k][i]) for k in ("train_loss", "test_loss", "train_acc", "test_acc")))
