"""The compare view: two runs aligned at the same step or phase, and the numbers their sentences speak of.

analysis.compare does the aligning, the readings and the sentences; this module picks the other views'
settings for each run (the frequency its circles are drawn for) and says when the two sides are the same.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..analysis import compare as cmp
from ..analysis.compare import MODES, Comparison  # noqa: F401 (the page reads MODES here)
from .reference import display_frequency

SHOWN_VIEWS = ("crests", "grid")  # the one extra view drawn for each run
NAMES = ("Run A", "Run B")


@dataclass(frozen=True)
class Side:
    """What the page needs of one run besides the comparison: its title, step, and the frequency to probe."""

    name: str
    title: str
    step: int
    k: int  # the frequency its embedding circles are drawn for: its lowest key frequency, else its strongest


@dataclass(frozen=True)
class CompareReading:
    comparison: Comparison
    a: Side
    b: Side
    same_run: bool  # A and B are one series

    @property
    def sentences(self) -> tuple[str, ...]:
        return self.comparison.sentences

    @property
    def identical(self) -> bool:
        """One series at one checkpoint: both sides show the same thing."""
        return self.same_run and self.a.step == self.b.step


def compare_at(a, b, step: int, mode: str = "step") -> CompareReading:
    """Runs a and b, each (series id, title, Series, key frequencies), aligned for step `step` of run A.

    Reads only the two aligned checkpoints' embeddings (milliseconds) and both runs' metrics.
    """
    (id_a, title_a, sa, keys_a), (id_b, title_b, sb, keys_b) = a, b
    al = cmp.align(sa.steps, sa.metrics, sb.steps, sb.metrics, int(step), mode)
    c = cmp.compare((NAMES[0], sa.params_at(al.step_a), sa.model_cfg, sa.metrics, keys_a),
                    (NAMES[1], sb.params_at(al.step_b), sb.model_cfg, sb.metrics, keys_b), al)

    def side(name, title, r):
        k = display_frequency(list(r.key_freqs)) if r.key_freqs else r.top_freq
        return Side(name, title, r.step, int(k))

    return CompareReading(c, side(NAMES[0], title_a, c.a), side(NAMES[1], title_b, c.b), id_a == id_b)


@dataclass(frozen=True)
class WeightNorm:
    """The sum of squared weights at the step, against its peak over training (Omnigrok's x axis)."""

    step: int
    now: float
    peak: float
    peak_step: int
    shrinking: bool  # past the peak and well below it, while test loss is falling

    @property
    def ratio_to_peak(self) -> float:
        return self.now / self.peak if self.peak > 0 else 1.0


def omnigrok_at(prog: dict, step: int) -> WeightNorm:
    """prog: the progress measures of every checkpoint ("step", "sum_sq_weights", "test_loss")."""
    steps = np.asarray(prog["step"])
    w, test = np.asarray(prog["sum_sq_weights"], dtype=float), np.asarray(prog["test_loss"], dtype=float)
    i = int(np.argmin(np.abs(steps - int(step))))
    j = int(np.argmax(w[: i + 1]))
    shrinking = i > j and w[i] < 0.9 * w[j] and test[i] < test[j]
    return WeightNorm(int(steps[i]), float(w[i]), float(w[j]), int(steps[j]), bool(shrinking))
