"""View 9, progress measures: the measures at the step and what they say about the hidden progress."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ..analysis.progress import reading_at

ANSWERS_LOSS = 0.1  # a loss below this answers the sums (about 90% probability on the right answer)
CHANCE_LOSS = 1.0  # a test loss above this is still far from answering the unseen sums
RISE_SHOWN = 10.0  # an excluded-loss rise worth telling


class Stage(StrEnum):
    NOT_YET = "not yet"  # the key frequencies alone do not answer the sums
    HIDDEN = "hidden"  # they would, but the memorised rest drowns them (test loss still high)
    TAKEN_OVER = "taken over"  # the model answers through them


@dataclass(frozen=True)
class ProgressReading:
    step: int
    restricted_loss: float
    excluded_loss: float
    test_loss: float
    low_step: int  # where the excluded loss was lowest so far
    rise: float  # excluded loss / its lowest so far

    @property
    def stage(self) -> Stage:
        if self.restricted_loss >= ANSWERS_LOSS:
            return Stage.NOT_YET
        return Stage.HIDDEN if self.test_loss > CHANCE_LOSS else Stage.TAKEN_OVER

    @property
    def rise_worth_telling(self) -> bool:
        return self.rise > RISE_SHOWN


def progress_at(prog: dict, step: int) -> ProgressReading:
    r = reading_at(prog, step)
    return ProgressReading(int(step), r["restricted_loss"], r["excluded_loss"], r["test_loss"], int(r["low_step"]),
                           float(r["rise"]))
