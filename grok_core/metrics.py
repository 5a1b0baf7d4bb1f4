"""The shared rules on training metrics: loss and accuracy over the whole grid, and "first step where accuracy ≥ 99%".

Training, the converters, the sweeps, the phases and the views all read these, so each rule is
written once here.
"""

from __future__ import annotations

import numpy as np
import torch

ACCURACY_THRESHOLD = 0.99  # "memorised" (train) / "generalised" (test): accuracy first at or above this


def first_step_reaching(steps, values, threshold: float = ACCURACY_THRESHOLD) -> int | None:
    """The first step whose value is >= threshold (None if never): e.g. when train accuracy memorised."""
    hit = np.flatnonzero(np.asarray(values, dtype=float) >= threshold)
    return int(np.asarray(steps)[hit[0]]) if hit.size else None


@torch.no_grad()
def grid_metrics(logits: torch.Tensor, labels: torch.Tensor, train_mask) -> dict[str, torch.Tensor]:
    """Loss (float64 cross-entropy) and accuracy on the train and test problems of the grid.

    logits [..., n_problems, p], labels [n_problems], train_mask bool [..., n_problems] or [n_problems].
    Returns train_loss, test_loss, train_acc, test_acc, each [...] (a 0-d tensor for one model).
    """
    logp = logits.double().log_softmax(-1)
    nll = -logp.gather(-1, labels.expand(logp.shape[:-1]).unsqueeze(-1)).squeeze(-1)  # [..., n_problems]
    correct = (logits.argmax(-1) == labels).double()
    m = torch.as_tensor(np.asarray(train_mask) if not torch.is_tensor(train_mask) else train_mask).to(nll.device)
    m = m.double().expand(nll.shape)
    out = {}
    for name, w in (("train", m), ("test", 1 - m)):
        n = w.sum(-1).clamp(min=1)
        out[f"{name}_loss"] = (nll * w).sum(-1) / n
        out[f"{name}_acc"] = (correct * w).sum(-1) / n
    return out
