"""Two runs side by side: aligned at the same step or the same phase, their key frequencies, and what differs.

The phase of a step is read off the loss curves (grok_core.phases). Aligning by phase puts each run at
the same fraction of the same phase (e.g. halfway through its plateau), so runs that grok at different
times can be compared at the same moment of their story. The sentences are chosen from the numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config import ModelConfig
from ..phases import Phase, phase_at, phase_spans
from .fourier import embedding_freq_norms, key_freqs_from_norms, share_of

PHASES = list(Phase)
MODES = ("step", "phase")


@dataclass(frozen=True)
class Alignment:
    """Which checkpoint of each run to show, and how they were matched."""

    mode: str  # "step" | "phase"
    step_a: int
    step_b: int
    phase_a: str
    phase_b: str
    note: str  # empty, or why run B could not be matched exactly (e.g. it never reaches the phase)


@dataclass(frozen=True)
class RunReading:
    """One run at its aligned checkpoint."""

    name: str
    step: int
    phase: str
    train_acc: float
    test_acc: float
    key_freqs: tuple[int, ...]  # the run's key frequencies (its final checkpoint's, as in the paper)
    key_share: float  # their share of W_E's squared Fourier norms at this step (0 when there are none)
    standing_out: tuple[int, ...]  # frequencies standing out in W_E at this step (key_freqs_from_norms)
    top_freq: int  # the strongest frequency in W_E at this step
    top_share: float  # its share (1 / n_freq, about 2% for p = 113, when all are equal)
    memorised_step: int | None  # first step with train accuracy ≥ 99%
    generalised_step: int | None  # first step with test accuracy ≥ 99%
    last_step: int
    final_test_acc: float


@dataclass(frozen=True)
class Comparison:
    alignment: Alignment
    a: RunReading
    b: RunReading
    shared_freqs: tuple[int, ...]
    sentences: tuple[str, ...]


def _first(metrics: dict, name: str, threshold: float) -> int | None:
    hit = np.flatnonzero(np.asarray(metrics[name]) >= threshold)
    return int(np.asarray(metrics["step"])[hit[0]]) if hit.size else None


def _nearest(steps, step: int) -> int:
    steps = np.asarray(steps)
    return int(steps[np.argmin(np.abs(steps - int(step)))])


def align(steps_a, metrics_a: dict, steps_b, metrics_b: dict, step: int, mode: str = "step") -> Alignment:
    """Checkpoints of runs A and B to show for `step` of run A (checkpoint steps [n] and metrics of each).

    mode "step": the checkpoint of each nearest to `step`. mode "phase": B at the same fraction of the
    same phase as A; if B never reaches that phase, B's last checkpoint, and the note says so.
    """
    if mode not in MODES:
        raise ValueError(f"unknown alignment {mode!r}; expected one of {MODES}")
    spans_a, spans_b = phase_spans(metrics_a), phase_spans(metrics_b)
    step_a = _nearest(steps_a, step)
    phase_a = phase_at(spans_a, step_a)
    note = ""
    if mode == "step":
        step_b = _nearest(steps_b, step_a)
        if step_a > int(np.max(steps_b)):
            note = f"run B stops at step {int(np.max(steps_b)):,}"
    else:
        span_b = next((s for s in spans_b if s[0] == phase_a), None)
        later = [s for s in spans_b if PHASES.index(s[0]) > PHASES.index(phase_a)]
        if span_b is None and later:  # B went past this phase between two measurements
            after = np.asarray(steps_b)[np.asarray(steps_b) > later[0][1]]  # a phase's first step closes the one before
            step_b = int(after[0]) if after.size else int(np.max(steps_b))
            note = f"run B passes '{phase_a}' too quickly to show; shown where '{later[0][0]}' begins"
        elif span_b is None:
            step_b = int(np.max(steps_b))
            reached = phase_at(spans_b, step_b)
            note = f"run B never reaches '{phase_a}'; shown at its last step, still '{reached}'"
        else:
            _, a0, a1 = next(s for s in spans_a if s[0] == phase_a)
            frac = (step_a - a0) / (a1 - a0) if a1 > a0 else 1.0
            step_b = _nearest(steps_b, span_b[1] + frac * (span_b[2] - span_b[1]))
    return Alignment(mode=mode, step_a=step_a, step_b=step_b, phase_a=phase_a,
                     phase_b=phase_at(spans_b, step_b), note=note)


def run_reading(name: str, params, cfg: ModelConfig, metrics: dict, step: int, key_freqs) -> RunReading:
    """The numbers the comparison speaks of, for one run at checkpoint `step` (params are that checkpoint's).

    key_freqs: the run's own (e.g. its progress measures' "key_freqs", read at its final checkpoint).
    """
    norms = embedding_freq_norms(params, cfg)  # [n_freq]
    keys = tuple(int(k) for k in key_freqs)
    top = int(np.argmax(norms)) + 1
    m_steps = np.asarray(metrics["step"])
    i = int(np.argmin(np.abs(m_steps - int(step))))
    return RunReading(
        name=name, step=int(step), phase=phase_at(phase_spans(metrics), int(step)),
        train_acc=float(metrics["train_acc"][i]), test_acc=float(metrics["test_acc"][i]),
        key_freqs=keys, key_share=share_of(norms, keys) if keys else 0.0,
        standing_out=tuple(key_freqs_from_norms(norms)), top_freq=top, top_share=share_of(norms, [top]),
        memorised_step=_first(metrics, "train_acc", 0.99), generalised_step=_first(metrics, "test_acc", 0.99),
        last_step=int(m_steps[-1]), final_test_acc=float(metrics["test_acc"][-1]),
    )


def _outcome(r: RunReading) -> str:
    if r.generalised_step is not None:
        return f"{r.name} generalises: test accuracy passes 99% at step {r.generalised_step:,}"
    if r.memorised_step is not None:
        return (f"{r.name} never generalises: it memorises its training sums by step {r.memorised_step:,}, "
                f"but after {r.last_step:,} steps it gets only {r.final_test_acc:.0%} of the others right")
    return f"{r.name} has not yet learned its training sums by step {r.last_step:,}"


def _frequencies(r: RunReading) -> str:
    if r.key_freqs:
        ks = ", ".join(map(str, r.key_freqs))
        return (f"{r.name}'s key frequenc{'y' if len(r.key_freqs) == 1 else 'ies'} {ks} hold {r.key_share:.0%} "
                f"of its embedding at step {r.step:,}")
    return (f"{r.name}'s key frequencies never stand out (at step {r.step:,} its strongest, k = {r.top_freq}, "
            f"holds {r.top_share:.0%} of its embedding)")


def explain(a: RunReading, b: RunReading, alignment: Alignment) -> tuple[str, ...]:
    """Two or three sentences from the numbers: how each run ends, which frequencies each uses, the aligned moment."""
    out = [f"{_outcome(a)}; {_outcome(b)}."]
    freq = f"{_frequencies(a)}; {_frequencies(b)}"
    shared = [k for k in a.key_freqs if k in b.key_freqs]
    if a.key_freqs and b.key_freqs:
        freq += f"; they share {', '.join(map(str, shared))}" if shared else "; they share none"
    out.append(freq + ".")
    how = "the same step" if alignment.mode == "step" else "the same point of the same phase"
    moment = (f"Aligned at {how}: {a.name} at step {a.step:,} ({a.phase}, test accuracy {a.test_acc:.0%}), "
              f"{b.name} at step {b.step:,} ({b.phase}, {b.test_acc:.0%})")
    out.append(moment + (f"; {alignment.note}." if alignment.note else "."))
    return tuple(out)


def compare(a_run: tuple, b_run: tuple, alignment: Alignment) -> Comparison:
    """Both readings at the aligned checkpoints and the sentences.

    a_run, b_run: (name, params at the aligned checkpoint, ModelConfig, metrics, the run's key frequencies).
    """
    a = run_reading(*a_run[:4], alignment.step_a, a_run[4])
    b = run_reading(*b_run[:4], alignment.step_b, b_run[4])
    shared = tuple(k for k in a.key_freqs if k in b.key_freqs)
    return Comparison(alignment=alignment, a=a, b=b, shared_freqs=shared, sentences=explain(a, b, alignment))
