"""Comparing runs: alignment at the same step and the same phase, sentences that follow the numbers, and the
correctness-map, intervention and comparison figures (built, and validated by plotly)."""

from __future__ import annotations

import base64

import numpy as np
import pytest
import torch

from grok_core.analysis import compare, correctness
from grok_core.analysis import interventions as iv
from grok_core.config import ModelConfig
from grok_core.data import labels
from grok_core.model import init_params
from grok_core.phases import phase_spans
from grok_core.plots import compare as plots_compare
from grok_core.plots import correctness as plots_correctness

STEPS = np.arange(0, 1001, 10)


def _metrics(generalise_at: int | None, steps=STEPS) -> dict:
    """Memorised at step 100; test loss peaks at 150, then (if it generalises at g) falls from 0.6·g, 99% right at g."""
    s = steps.astype(float)
    train_acc = np.clip(s / 100, 0, 1)
    if generalise_at is None:
        test_loss, test_acc = 4.0 + s / 1000, np.full_like(s, 0.02)
    else:
        g = generalise_at
        cliff = 5.0 * np.exp(-np.clip(s - 0.6 * g, 0, None) / (0.05 * g))  # flat at 5, then falls from 0.6·g
        test_loss = np.where(s <= 150, 4.0 + s / 150, cliff)
        test_acc = np.clip((s - 0.6 * g) / (0.4 * g), 0.02, 1.0)
    return {"step": steps, "train_acc": train_acc, "test_acc": test_acc, "train_loss": np.exp(-s / 50),
            "test_loss": test_loss}


def test_synthetic_phases():
    assert [name for name, *_ in phase_spans(_metrics(800))] == ["memorising", "circuit forming", "cleanup",
                                                                 "generalised"]
    assert [name for name, *_ in phase_spans(_metrics(None))] == ["memorising"]


def test_align_by_step_and_by_phase():
    a, b = _metrics(400), _metrics(800)
    ck = STEPS[::5]  # checkpoints every 50 steps
    al = compare.align(ck, a, ck, b, 333)
    assert (al.mode, al.step_a, al.step_b, al.note) == ("step", 350, 350, "")
    # By phase: the same fraction of the same phase, whatever step that is in run B.
    spans_a, spans_b = dict((n, (s, e)) for n, s, e in phase_spans(a)), dict((n, (s, e)) for n, s, e in phase_spans(b))
    al = compare.align(ck, a, ck, b, 200, "phase")
    assert al.phase_a == al.phase_b == "circuit forming"
    (a0, a1), (b0, b1) = spans_a["circuit forming"], spans_b["circuit forming"]
    want = b0 + (200 - a0) / (a1 - a0) * (b1 - b0)
    assert abs(al.step_b - want) <= 25 and al.note == ""
    with pytest.raises(ValueError, match="unknown alignment"):
        compare.align(ck, a, ck, b, 300, "epoch")


def test_align_by_phase_when_b_never_gets_there():
    al = compare.align(STEPS, _metrics(400), STEPS, _metrics(None), 900, "phase")
    assert al.phase_a == "generalised" and al.step_b == 1000 and al.phase_b == "memorising"
    assert al.note == "run B never reaches 'generalised'; shown at its last step, still 'memorising'"
    # A run whose test accuracy jumps to 100% the moment its test loss halves has no 'cleanup' to show.
    jump = _metrics(800)
    jump["test_acc"] = np.where(jump["test_loss"] < 2.5, 1.0, 0.02)
    assert "cleanup" not in [name for name, *_ in phase_spans(jump)]
    al = compare.align(STEPS, _metrics(400), STEPS, jump, 300, "phase")
    assert al.phase_a == "cleanup" and al.phase_b == "generalised"
    assert al.step_b == phase_spans(jump)[-1][1] + 10 and al.note.startswith("run B passes 'cleanup' too quickly")
    al = compare.align(STEPS, _metrics(400), STEPS[:51], _metrics(400, STEPS[:51]), 900)
    assert al.step_b == 500 and al.note == "run B stops at step 500"


def _planted_params(cfg: ModelConfig, ks: list[int], seed: int = 0) -> dict:
    """Random weights whose number embeddings are dominated by cos/sin of the frequencies ks."""
    params = init_params(cfg, seed)
    x = torch.arange(cfg.p, dtype=torch.float32)
    for i, k in enumerate(ks):
        w = 2 * np.pi * k * x / cfg.p
        params["embed.W_E"][: cfg.p, 2 * i] += 3 * torch.cos(w)
        params["embed.W_E"][: cfg.p, 2 * i + 1] += 3 * torch.sin(w)
    return params


def test_sentences_follow_the_numbers():
    cfg = ModelConfig(p=23, d_model=32, n_heads=4, d_head=8, d_mlp=64)
    a = ("Run A", _planted_params(cfg, [3, 7]), cfg, _metrics(400), [3, 7])
    b = ("Run B", init_params(cfg, 1), cfg, _metrics(None), [])
    al = compare.align(STEPS, a[3], STEPS, b[3], 900, "phase")
    cp = compare.compare(a, b, al)
    assert cp.a.key_freqs == (3, 7) and set(cp.a.standing_out) == {3, 7} and cp.a.key_share > 0.8
    assert cp.b.key_freqs == () and cp.b.standing_out == () and cp.b.top_share < 0.2
    assert cp.a.generalised_step == 400 and cp.b.generalised_step is None and cp.b.memorised_step == 100
    s1, s2, s3 = cp.sentences
    assert s1 == ("Run A generalises: test accuracy passes 99% at step 400; Run B never generalises: it memorises "
                  "its training sums by step 100, but after 1,000 steps it gets only 2% of the others right.")
    assert s2.startswith(f"Run A's key frequencies 3, 7 hold {cp.a.key_share:.0%} of its embedding at step 900; "
                         f"Run B's key frequencies never stand out (at step 1,000 its strongest, k = {cp.b.top_freq}")
    assert s3.endswith("run B never reaches 'generalised'; shown at its last step, still 'memorising'.")
    # Two runs that both have key frequencies: which they share.
    c = ("Run C", _planted_params(cfg, [7, 2], seed=2), cfg, _metrics(800), [7, 2])
    cp = compare.compare(a, c, compare.align(STEPS, a[3], STEPS, c[3], 900))
    assert cp.shared_freqs == (7,) and cp.sentences[1].endswith("; they share 7.")


def _typed(spec, shape) -> np.ndarray:
    """A typed array as plots.figure packs it (base64 float32), or a plain list, as numpy."""
    if isinstance(spec, dict):
        return np.frombuffer(base64.b64decode(spec["bdata"]), dtype=np.float32).reshape(shape)
    return np.asarray(spec, dtype=float).reshape(shape)


# -- figures --------------------------------------------------------------------------------------------
def test_correctness_map_counts_and_figure():
    p = 5
    answer = labels(p).numpy()
    pred = answer.copy()
    pred[[0, 1, 7]] = (pred[[0, 1, 7]] + 1) % p  # three wrong answers
    train = np.zeros(p * p, dtype=bool)
    train[[0, 2, 3, 4]] = True  # problem 0 is train and wrong, 2-4 train and right; 1 and 7 test and wrong
    cm = correctness.from_predictions(pred, train, step=42)
    assert cm.counts == {"train, right": 3, "train, wrong": 1, "test, right": 19, "test, wrong": 2}
    assert cm.codes[0, 0] == correctness.TRAIN_WRONG and cm.codes[0, 1] == correctness.TEST_WRONG
    assert cm.codes[1, 2] == correctness.TEST_WRONG and cm.codes[0, 2] == correctness.TRAIN_RIGHT
    assert cm.train_acc == 0.75 and cm.test_acc == pytest.approx(19 / 21)
    logits = torch.nn.functional.one_hot(torch.from_numpy(pred), p).double()
    for source in (logits, {"logits": logits}):  # grid logits, or a grid cache holding them
        assert np.array_equal(correctness.correctness_map(source, train, 42).codes, cm.codes)
    fig = plots_correctness.correctness_map(cm)
    assert fig.title == "Which sums the model gets right (train 75% right, test 90%) — step 42"
    full = fig.full()
    test_wrong = full.data[correctness.TEST_WRONG]
    z = _typed(fig.to_dict()["data"][correctness.TEST_WRONG]["z"], (p, p))
    assert z[1, 0] == 1 and np.isnan(z[0, 1]) and np.nansum(z) == 2  # z is [y, x]: x = 0, y = 1 is problem 1
    assert test_wrong.name == "test, wrong" and "test, wrong" in test_wrong.hovertemplate
    assert [t.name for t in full.data[4:]] == ["train, right: 3", "train, wrong: 1", "test, right: 19",
                                               "test, wrong: 2"]
    with pytest.raises(ValueError, match="p×p grid"):
        correctness.from_predictions(pred[:-1], train[:-1], 0)


def test_intervention_and_comparison_figures_validate():
    sc = iv.Scores(1.0, 1.0, 1e-6, 1e-5)
    after = iv.Scores(0.02, 0.01, 5.0, 6.0)
    res = [iv.Intervention("logits", (3, 7), "all 2 key frequencies (3, 7)", sc, after, np.zeros(25, bool),
                           np.zeros(25, int))]
    for metric in ("acc", "loss"):
        fig = plots_correctness.intervention_bars(res, 900, metric).full()
        assert [list(t.x) for t in fig.data] == [["before", "all 2 key frequencies (3, 7)"]] * 2
    assert list(plots_correctness.intervention_bars(res, 900).full().data[1].y) == [1.0, 0.01]
    a, b = _metrics(400), _metrics(None)
    fig = plots_compare.compare_curves([("A", a, 500), ("B", b, 900)]).full()
    assert len(fig.data) == 4 and [sh.x0 for sh in fig.layout.shapes] == [500, 900]
    prog = {"step": STEPS, "sum_sq_weights": 2000 - STEPS, "train_loss": a["train_loss"], "test_loss": a["test_loss"]}
    fig = plots_compare.loss_vs_weight_norm([("A", prog, 500)]).full()
    marker = fig.data[3]  # train, test, the start label, then the current step
    assert list(marker.x) == [1500, 1500] and list(marker.y) == [a["train_loss"][50], a["test_loss"][50]]
