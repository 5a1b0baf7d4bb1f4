"""The correctness map: every sum x + y on the p×p grid, marked right or wrong and train or test.

Memorisation is right on the train cells only (test cells right by chance, about 1 in p);
grokking fills in the test cells. The same map after an intervention shows what it broke.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..data import labels as make_labels

# Codes of the map, in this order; the names are what a legend says.
CATEGORIES = ("train, right", "train, wrong", "test, right", "test, wrong")
TRAIN_RIGHT, TRAIN_WRONG, TEST_RIGHT, TEST_WRONG = range(4)


@dataclass(frozen=True)
class CorrectnessMap:
    """codes [p(x), p(y)] uint8 (indices into CATEGORIES), the model's answers [p, p], counts per category."""

    step: int
    codes: np.ndarray
    predicted: np.ndarray
    counts: dict[str, int]

    @property
    def p(self) -> int:
        return int(self.codes.shape[0])

    @property
    def train_acc(self) -> float:
        right, wrong = self.counts["train, right"], self.counts["train, wrong"]
        return right / max(right + wrong, 1)

    @property
    def test_acc(self) -> float:
        right, wrong = self.counts["test, right"], self.counts["test, wrong"]
        return right / max(right + wrong, 1)


def from_predictions(predicted, train_mask, step: int, operation: str = "add") -> CorrectnessMap:
    """The map from the model's answer to every problem (predicted [p*p] ints, row-major x*p + y)."""
    pred = np.asarray(predicted, dtype=np.int64).ravel()
    p = int(round(np.sqrt(pred.size)))
    if p * p != pred.size:
        raise ValueError(f"expected one answer per problem of a p×p grid, got {pred.size}")
    train = np.asarray(train_mask, dtype=bool).ravel()
    if train.size != pred.size:
        raise ValueError(f"train mask has {train.size} entries for {pred.size} problems")
    right = pred == make_labels(p, operation).numpy()
    codes = np.where(train, np.where(right, TRAIN_RIGHT, TRAIN_WRONG), np.where(right, TEST_RIGHT, TEST_WRONG))
    counts = np.bincount(codes, minlength=len(CATEGORIES))
    return CorrectnessMap(step=int(step), codes=codes.astype(np.uint8).reshape(p, p), predicted=pred.reshape(p, p),
                          counts={name: int(n) for name, n in zip(CATEGORIES, counts)})


def correctness_map(cache_or_logits, train_mask, step: int, operation: str = "add") -> CorrectnessMap:
    """The map at a checkpoint from its grid logits [p*p, p] (a tensor, or a grid cache holding "logits")."""
    logits = cache_or_logits["logits"] if isinstance(cache_or_logits, dict) else cache_or_logits
    return from_predictions(torch.as_tensor(logits).argmax(-1).numpy(), train_mask, step, operation)
