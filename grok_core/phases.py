"""The phases of training, read off the loss and accuracy curves: one enum for the badge, the texts and the plots.

memorising: until train accuracy reaches 99% and test loss peaks (memorising more only hurts the
test set); circuit forming: the plateau after that peak; cleanup: from when test loss has fallen
to half its peak (the cliff) until test accuracy reaches 99%; generalised: after.
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np

from .metrics import ACCURACY_THRESHOLD


class Phase(StrEnum):
    MEMORISING = "memorising"
    CIRCUIT_FORMING = "circuit forming"
    CLEANUP = "cleanup"
    GENERALISED = "generalised"


Span = tuple[Phase, int, int]  # (phase, first step, last step)


def _first(mask: np.ndarray) -> int | None:
    hit = np.flatnonzero(mask)
    return int(hit[0]) if hit.size else None


def phase_spans(metrics: dict) -> list[Span]:
    """(phase, first_step, last_step) from the metrics (see the module docstring), in order."""
    steps = np.asarray(metrics["step"])
    if steps.size == 0:
        return []
    tr_acc, te_loss, te_acc = (np.asarray(metrics[k], dtype=float) for k in ("train_acc", "test_loss", "test_acc"))
    last = len(steps) - 1
    i_mem = _first(tr_acc >= ACCURACY_THRESHOLD)
    if i_mem is None:
        return [(Phase.MEMORISING, int(steps[0]), int(steps[-1]))]
    i_peak = i_mem + int(np.argmax(te_loss[i_mem:]))
    bounds = [(Phase.MEMORISING, i_peak)]
    fell = _first(te_loss[i_peak:] < 0.5 * te_loss[i_peak])
    if fell is None:
        bounds.append((Phase.CIRCUIT_FORMING, last))
    else:
        i_clean = i_peak + fell
        bounds.append((Phase.CIRCUIT_FORMING, i_clean))
        gen = _first(te_acc[i_clean:] >= ACCURACY_THRESHOLD)
        if gen is None:
            bounds.append((Phase.CLEANUP, last))
        else:
            bounds += [(Phase.CLEANUP, i_clean + gen), (Phase.GENERALISED, last)]
    spans, start = [], int(steps[0])
    for name, i_end in bounds:
        end = int(steps[i_end])
        if end > start or not spans:
            spans.append((name, start, end))
        start = end
    return spans


def phase_at(spans: list[Span], step: int) -> Phase:
    """The phase a step falls in (the last one past the end; memorising for no metrics)."""
    for name, a, b in spans:
        if a <= step <= b:
            return name
    return spans[-1][0] if spans else Phase.MEMORISING
