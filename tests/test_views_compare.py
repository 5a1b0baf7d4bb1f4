"""The compare, interventions and correctness-map readings (grok_core.views.compare / .interventions), without
Streamlit: known answers on tiny inputs, and the bundled run's numbers behind the pages' texts."""

from __future__ import annotations

import numpy as np
import pytest

from grok_core.analysis.correctness import TEST_RIGHT, TEST_WRONG, TRAIN_RIGHT
from grok_core.views import compare as cv
from grok_core.views import interventions as ivv

KEYS = [51, 8, 29, 34, 27]  # the bundled run's key frequencies (its final checkpoint's, tests/test_views.py)


# -- loss against weight norm -------------------------------------------------------------------
def test_omnigrok_reading_known_answers():
    prog = {"step": np.array([0, 10, 20, 30]), "sum_sq_weights": np.array([100.0, 200.0, 150.0, 90.0]),
            "test_loss": np.array([5.0, 6.0, 4.0, 0.1])}
    up = cv.omnigrok_at(prog, 10)  # at the peak so far: nothing shrinking yet
    assert (up.now, up.peak, up.peak_step, up.shrinking, up.ratio_to_peak) == (200.0, 200.0, 10, False, 1.0)
    down = cv.omnigrok_at(prog, 29)  # nearest checkpoint 30: 45% of the peak, test loss far below it
    assert (down.step, down.peak_step, down.shrinking) == (30, 10, True) and down.ratio_to_peak == pytest.approx(0.45)
    grows = {**prog, "sum_sq_weights": np.array([100.0, 200.0, 300.0, 400.0])}  # no weight decay: the norm only grows
    assert not cv.omnigrok_at(grows, 30).shrinking and cv.omnigrok_at(grows, 30).peak_step == 30


def test_omnigrok_on_the_bundled_progress(bundled):
    from grok_core.analysis.progress import series_progress

    prog = series_progress(bundled)
    last = cv.omnigrok_at(prog, int(bundled.steps[-1]))
    assert last.shrinking and last.ratio_to_peak < 0.5  # weight decay halves the weights after grokking
    first = cv.omnigrok_at(prog, 0)
    assert first.ratio_to_peak == 1.0 and not first.shrinking


# -- compare ------------------------------------------------------------------------------------
def test_compare_reading_of_one_run_at_two_moments(bundled):
    """The bundled run against itself: by step the two sides are identical; the sentences carry its numbers."""
    a = ("default", "Bundled", bundled, KEYS)
    r = cv.compare_at(a, a, 6400, "step")
    assert r.same_run and r.identical and (r.a.step, r.b.step) == (6400, 6400)
    assert r.a.k == r.b.k == 8  # the lowest key frequency draws the circles
    assert r.comparison.shared_freqs == tuple(KEYS)
    s = r.sentences
    assert len(s) == 3
    assert "Run A generalises: test accuracy passes 99% at step 7,900" in s[0]
    assert f"hold {r.comparison.a.key_share:.0%} of its embedding at step 6,400" in s[1]
    late = cv.compare_at(a, a, int(bundled.steps[-1]), "phase")
    assert late.identical and late.comparison.a.test_acc > 0.99 and "same point of the same phase" in late.sentences[2]


def test_compare_reading_follows_a_run_without_key_frequencies(bundled):
    """Run B given no key frequencies: the sentence says they never stand out, and its circles use its strongest."""
    r = cv.compare_at(("default", "A", bundled, KEYS), ("other", "B", bundled, []), 200, "step")
    assert not r.same_run and not r.identical
    assert r.b.k == r.comparison.b.top_freq
    assert "Run B's key frequencies never stand out" in r.sentences[1]
    assert f"k = {r.comparison.b.top_freq}" in r.sentences[1]


# -- correctness map and interventions ------------------------------------------------------------
def test_correctness_reading_levels_follow_the_test_cells(bundled):
    mask = bundled.train_mask
    early = ivv.correctness_at(bundled.params_at(1400), bundled.model_cfg, mask, 1400)
    assert early.memorised and early.cmap.test_acc < 0.3 and int(early.level) == 0
    codes = early.cmap.codes.ravel()
    assert (codes[mask] == TRAIN_RIGHT).mean() > 0.99  # memorised: the train cells are right
    assert (codes[~mask] == TEST_WRONG).mean() > 0.7
    last = int(bundled.steps[-1])
    done = ivv.correctness_at(bundled.params_at(last), bundled.model_cfg, mask, last)
    assert int(done.level) == 2 and (done.cmap.codes.ravel()[~mask] == TEST_RIGHT).mean() > 0.99


def test_interventions_reading_default_comparison_after_grokking(bundled):
    """All key frequencies removed from the logits: the answer is gone; the least important alone: it survives."""
    last = int(bundled.steps[-1])
    r = ivv.interventions_at(bundled.params_at(last), bundled.model_cfg, bundled.train_mask, last, KEYS, "logits")
    assert r.generalised and r.chosen == () and len(r.cuts) == 2
    every, one = r.cuts
    assert every.result.removed == tuple(KEYS) and every.broke and every.result.after.test_acc < 0.1
    assert one.result.removed == (27,) and one.survived
    assert every.cmap.test_acc == pytest.approx(every.result.after.test_acc)  # the map after is the cut's answers
    assert r.before.test_acc == pytest.approx(every.result.before.test_acc)


def test_interventions_reading_chosen_frequencies_and_neurons(bundled):
    last = int(bundled.steps[-1])
    params, cfg, mask = bundled.params_at(last), bundled.model_cfg, bundled.train_mask
    emb = ivv.interventions_at(params, cfg, mask, last, KEYS, "embedding", (8,))
    assert emb.chosen == (8,) and len(emb.cuts) == 1 and emb.cuts[0].result.label == "frequency 8"
    off = ivv.interventions_at(params, cfg, mask, last, KEYS, "embedding", (3,))  # not a key frequency: nothing lost
    assert off.cuts[0].survived
    neurons = ivv.interventions_at(params, cfg, mask, last, KEYS, "neurons", tuple(KEYS))
    cut = neurons.cuts[0]
    assert cut.result.label.startswith(f"the {len(cut.result.removed)} neurons of frequencies")
    assert len(cut.result.removed) > 100 and cut.broke  # zeroing every key cluster breaks the answer
    with pytest.raises(ValueError, match="unknown intervention"):
        ivv.interventions_at(params, cfg, mask, last, KEYS, "attention")


def test_cut_reading_known_answers():
    from grok_core.analysis.correctness import from_predictions
    from grok_core.analysis.interventions import Intervention, Scores

    p, mask = 3, np.array([True, False] * 4 + [True])
    cmap = from_predictions(np.zeros(p * p, dtype=int), mask, 0)

    def cut(test_before, test_after):
        r = Intervention("logits", (1,), "x", Scores(1, test_before, 0, 0), Scores(1, test_after, 0, 0),
                         np.zeros(p * p, bool), np.zeros(p * p, int))
        return ivv.CutReading(r, cmap)

    assert cut(1.0, 0.02).broke and not cut(1.0, 0.02).survived
    assert cut(1.0, 0.95).survived and not cut(1.0, 0.95).broke
    mid = cut(0.8, 0.6)
    assert mid.kept == pytest.approx(0.75) and not mid.broke and not mid.survived
    assert cut(0.0, 0.0).kept == 1.0  # nothing to lose


def test_interventions_reading_zeroes_exactly_the_neurons_chosen(bundled):
    """Neurons by number: the cut is those neurons; zeroing a few of 512 leaves a grokked model standing."""
    last = int(bundled.steps[-1])
    r = ivv.interventions_at(bundled.params_at(last), bundled.model_cfg, bundled.train_mask, last, KEYS, "neurons",
                             neurons=(3, 17, 250))
    assert len(r.cuts) == 1 and r.cuts[0].result.removed == (3, 17, 250) and r.cuts[0].result.label == "3 neurons"
    assert r.cuts[0].survived
