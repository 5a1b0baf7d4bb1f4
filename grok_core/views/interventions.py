"""The interventions view and the correctness map: what a checkpoint gets right, and what breaks when a cut is made.

analysis.interventions makes the cuts (embedding, logits, neurons) and scores them; analysis.correctness
draws the right/wrong × train/test map. Here: one step's map, and one step's comparison of cuts with
each cut's map after, and the levels the pages' sentences follow.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..analysis import correctness as corr
from ..analysis import interventions as iv
from ..analysis.correctness import CorrectnessMap
from ..analysis.interventions import KINDS, Intervention  # noqa: F401 (the page reads KINDS here)
from ..config import ModelConfig
from ..model import grid_cache, grid_forward
from .level import Level, level

BROKEN = 0.5  # a cut that leaves test accuracy below half of what it was "breaks" the answer
KEPT = 0.9  # one that keeps nine tenths of it leaves the answer standing


@dataclass(frozen=True)
class CorrectnessReading:
    cmap: CorrectnessMap

    @property
    def level(self) -> Level:
        """How much of the test grid is filled in: low while memorising (right by chance, ~1/p), high once grokked."""
        return level(self.cmap.test_acc)

    @property
    def memorised(self) -> bool:
        return self.cmap.train_acc >= 0.99


def correctness_at(params, cfg: ModelConfig, train_mask, step: int, operation: str = "add") -> CorrectnessReading:
    """The correctness map of one checkpoint (one forward pass over the p×p grid)."""
    return CorrectnessReading(corr.correctness_map(grid_forward(params, cfg), train_mask, step, operation))


@dataclass(frozen=True)
class CutReading:
    result: Intervention
    cmap: CorrectnessMap  # which problems are right after the cut

    @property
    def kept(self) -> float:
        """Test accuracy after as a share of test accuracy before (1: nothing lost)."""
        before = self.result.before.test_acc
        return self.result.after.test_acc / before if before > 0 else 1.0

    @property
    def broke(self) -> bool:
        return self.kept < BROKEN

    @property
    def survived(self) -> bool:
        return self.kept >= KEPT


@dataclass(frozen=True)
class InterventionsReading:
    step: int
    kind: str
    key_freqs: tuple[int, ...]
    chosen: tuple[int, ...]  # the frequencies chosen; () for the default comparison (all keys, then one)
    before: CorrectnessMap
    cuts: tuple[CutReading, ...]

    @property
    def generalised(self) -> bool:
        """Before any cut the model answers most unseen sums (the comparison teaches most after grokking)."""
        return self.before.test_acc >= 0.9


def _chosen_cut(kind: str, ks: list[int], params, cfg, cache, train_mask, operation, key_freqs) -> Intervention:
    if kind != "neurons":
        return iv.intervene(kind, ks, params, cfg, cache, train_mask, operation, key_freqs)
    clusters = iv.frequency_clusters(cache, cfg, ks=ks)
    neurons = sorted(n for k in ks for n in clusters.get(k, []))
    label = f"the {len(neurons)} neurons of frequenc{'y' if len(ks) == 1 else 'ies'} {', '.join(map(str, ks))}"
    return iv.intervene(kind, neurons, params, cfg, cache, train_mask, operation, key_freqs, label)


def interventions_at(params, cfg: ModelConfig, train_mask, step: int, key_freqs, kind: str = "logits", ks=(),
                     operation: str = "add", neurons=()) -> InterventionsReading:
    """The cuts at one checkpoint: with ks empty, all key frequencies and then just one (default_comparison);
    else the frequencies ks (for kind "neurons": the neurons clustered on them). Each with its map after.
    kind "neurons" with `neurons` given: exactly those neurons zeroed."""
    if kind not in KINDS:
        raise ValueError(f"unknown intervention {kind!r}; expected one of {KINDS}")
    keys, ks = [int(k) for k in key_freqs], [int(k) for k in ks]
    cache = grid_cache(params, cfg)
    before = corr.correctness_map(cache, train_mask, step, operation)
    if kind == "neurons" and len(neurons):
        results = [iv.intervene(kind, [int(n) for n in neurons], params, cfg, cache, train_mask, operation, keys)]
    elif ks:
        results = [_chosen_cut(kind, ks, params, cfg, cache, train_mask, operation, keys)]
    else:
        results = iv.default_comparison(kind, params, cfg, cache, train_mask, keys, operation)
    cuts = tuple(CutReading(r, corr.from_predictions(r.predicted_after, train_mask, step, operation)) for r in results)
    return InterventionsReading(int(step), kind, tuple(keys), tuple(ks), before, cuts)
