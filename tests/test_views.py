"""Every view's readings (grok_core.views), without Streamlit: known answers on tiny inputs, and the bundled run's
numbers behind the pages' texts at its first, middle (step 6,400) and last checkpoint. Each runs in milliseconds."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from grok_core import metrics, phases
from grok_core.config import ModelConfig
from grok_core.model import grid_attention, grid_cache
from grok_core.views import (
    attention,
    crests,
    curves,
    embeddings,
    inputs,
    level,
    phase_diagram,
    progress,
    reference,
    surfaces,
    waves,
)
from grok_core.views.level import Level

SWEEP = Path(__file__).resolve().parents[1] / "checkpoints" / "sweeps" / "cpu-tiny-p31.json"


# -- the shared rules ---------------------------------------------------------------------------
def test_first_step_reaching_counts_the_threshold_itself():
    steps = [0, 10, 20, 30]
    assert metrics.first_step_reaching(steps, [0.5, 0.989, 0.99, 1.0]) == 20
    assert metrics.first_step_reaching(steps, [0.5, 0.6, 0.7, 0.98]) is None
    assert metrics.first_step_reaching(steps, [0.0, 0.4, 0.6, 0.9], threshold=0.5) == 20


def test_grid_metrics_known_answers():
    labels = torch.tensor([0, 1, 2, 0])
    logits = torch.zeros(4, 3)  # uniform: loss ln 3 everywhere; argmax 0 is right for problems 0 and 3
    out = metrics.grid_metrics(logits, labels, np.array([True, True, False, False]))
    assert math.isclose(float(out["train_loss"]), math.log(3)) and math.isclose(float(out["test_loss"]), math.log(3))
    assert float(out["train_acc"]) == 0.5 and float(out["test_acc"]) == 0.5
    sharp = torch.nn.functional.one_hot(labels, 3).double() * 50  # right with certainty: loss ~ 2 e^-50
    batched = metrics.grid_metrics(torch.stack([logits.double(), sharp]), labels, torch.tensor([True, False, True, False]))
    assert batched["train_acc"].tolist() == [0.5, 1.0] and float(batched["test_loss"][1]) < 1e-20


def test_levels_cut_at_30_and_80_percent():
    assert [level.level(v) for v in (0.0, 0.299, 0.3, 0.799, 0.8, 1.0)] == [Level.LOW, Level.LOW, Level.MID, Level.MID,
                                                                           Level.HIGH, Level.HIGH]
    assert level.level(0.2, cuts=(0.18, 0.8)) == Level.MID


def test_curves_reading_at_a_step():
    m = {"step": np.array([0, 10, 20]), "train_loss": np.array([3.0, 1.0, 0.5]), "test_loss": np.array([3.0, 4.0, 5.0]),
         "train_acc": np.array([0.1, 1.0, 1.0]), "test_acc": np.array([0.0, 0.1, 0.2])}
    r = curves.curves_at(m, phases.phase_spans(m), 15)  # between checkpoints: the one at or after; test loss still rising
    assert (r.step, r.train_loss, r.test_loss, r.test_acc, r.phase) == (20, 0.5, 5.0, 0.2, phases.Phase.MEMORISING)


# -- readings on known inputs -------------------------------------------------------------------
def test_wave_purity_of_pure_and_flat_waves():
    p = 31
    y = np.arange(p)
    w = np.stack([np.cos(2 * np.pi * 3 * y / p), np.sin(2 * np.pi * 3 * y / p + 1), np.zeros(p)], axis=1)  # [p, 3]
    wp = waves.purity(w, ModelConfig(p=p))
    assert wp.k.tolist() == [3, 3, 0] and np.allclose(wp.share[:2], 1.0)
    assert math.isclose(wp.mean, 1.0) and wp.level == Level.HIGH and wp.freq_words == "frequency 3"
    assert math.isclose(wp.noise, sum(1 / i for i in range(1, 16)) / 15)  # H_15 / 15 for the 15 frequencies of p = 31


def test_spectrum_of_a_wave_of_x_plus_y():
    p, k = 31, 4
    x = np.arange(p)
    surface = np.cos(2 * np.pi * k * (x[:, None] + x[None, :]) / p)  # = cos kx cos ky − sin kx sin ky
    r = surfaces.spectrum_at(surface, neuron=5, k=k)
    assert math.isclose(r.k_share, 1.0) and r.level == Level.HIGH
    assert sorted(t["name"] for t in r.top[:2]) == ["cos 4x·cos 4y", "sin 4x·sin 4y"]
    assert [round(t["frac"], 6) for t in r.top[:2]] == [0.5, 0.5]
    assert r.parts[0][0] == "neuron #5 − mean" and len(r.parts) == 5


def test_key_share_and_its_level():
    norms = np.ones(56)  # every frequency equally strong: the key ones hold exactly their fair share
    r = embeddings.EmbeddingReading(8, norms, {})
    ks = embeddings.key_share(r, [8, 14, 51])
    assert math.isclose(ks.share, 3 / 56) and math.isclose(ks.fair, 3 / 56) and ks.level == Level.LOW
    norms[[7, 13, 50]] = 20.0  # 3·400 of 3·400 + 53
    assert math.isclose(embeddings.key_share(r, [8, 14, 51]).share, 1200 / 1253)


def test_progress_stages():
    prog = {"step": np.array([0, 100, 200, 300]), "restricted_loss": np.array([2.0, 1.0, 0.05, 0.01]),
            "excluded_loss": np.array([1.0, 0.5, 5.0, 50.0]), "test_loss": np.array([5.0, 5.0, 5.0, 0.01])}
    r0, r2, r3 = (progress.progress_at(prog, s) for s in (0, 200, 300))
    assert r0.stage == progress.Stage.NOT_YET and r2.stage == progress.Stage.HIDDEN
    assert r3.stage == progress.Stage.TAKEN_OVER
    assert (r2.low_step, r2.rise, r2.rise_worth_telling) == (100, 10.0, False)
    assert (r3.rise, r3.rise_worth_telling) == (100.0, True)


def test_display_frequency_is_the_lowest_key_frequency():
    assert reference.display_frequency([51, 8, 29]) == 8 and reference.display_frequency([]) == 1


def test_phase_diagram_cells_of_the_bundled_sweep():
    from grok_core.sweep import GROKS, load_sweep

    sw = load_sweep(SWEEP)
    cells = phase_diagram.cells(sw)
    first = next(c for c in cells if c.id == phase_diagram.default_cell(cells))
    groks = [c.info["delay"] for c in cells if c.info["category"] == GROKS]
    assert first.info["category"] == GROKS and first.info["delay"] == max(groks)
    rows = phase_diagram.run_rows(sw, first)
    assert len(rows) == len(first.info["runs"]) and all(r["generalised at"] > r["memorised at"] for r in rows)
    assert phase_diagram.sweep_order({"b": sw, "a": sw}) == ["a", "b"]


# -- the bundled run: the numbers behind the pages' texts ---------------------------------------
@pytest.fixture(scope="module")
def run(bundled):
    """The bundled series, its last checkpoint's grid and references (computed once: ~0.1-1 s)."""
    cfg, last = bundled.model_cfg, bundled.params_at(int(bundled.steps[-1]))
    full = grid_cache(last, cfg)
    grid = {k: full[k] for k in ("blocks.0.mlp.hook_pre", "blocks.0.mlp.hook_post")}
    keys = reference.key_frequencies(last, cfg, grid)
    steps = [int(s) for s in bundled.steps]
    return {"s": bundled, "cfg": cfg, "grid": grid, "keys": keys, "k": reference.display_frequency(keys),
            "show": reference.showcase_neurons(grid, cfg, reference.display_frequency(keys), 7),
            "picks": (steps[0], steps[len(steps) // 2], steps[-1])}


def test_bundled_references(run):
    assert run["keys"] == [51, 8, 29, 34, 27] and run["k"] == 8
    assert run["show"][:5] == [498, 196, 112, 475, 76]  # the neurons the waves page opens on (README's link)
    assert reference.neuron_frequencies(run["grid"], run["cfg"])[run["show"]].tolist() == [8] * 7


def _at(run, step):
    params = run["s"].params_at(step)
    return params, grid_attention(params, run["cfg"])


def test_bundled_story_levels(run):
    """At step 0 noise, at 6,400 (phase: cleanup) half-formed, at 25,000 clean: the levels the texts follow."""
    cfg, got = run["cfg"], []
    for step in run["picks"]:
        params, mid = _at(run, step)
        wp = waves.purity(waves.x_slice(params, cfg, 0)["blocks.0.mlp.hook_post"][:, run["show"][:5]], cfg)
        ks = embeddings.key_share(embeddings.embedding_at(params, cfg, run["k"]), run["keys"])
        sp = surfaces.spectrum_at(surfaces.neuron_surface(params, cfg, mid, 498), 498, 8)
        cr = crests.crest_at(params, cfg, mid, "logit", 7)
        att = attention.attention_at(mid, cfg)
        got.append((wp.level, ks.level, sp.level, cr.level, att.level))
    L, M, H = Level.LOW, Level.MID, Level.HIGH
    assert got == [(L, L, L, L, L), (M, M, M, M, L), (H, H, H, H, H)]


def test_bundled_readings_at_6400(run):
    cfg = run["cfg"]
    params, mid = _at(run, 6400)
    wp = waves.purity(waves.x_slice(params, cfg, 0)["blocks.0.mlp.hook_post"][:, run["show"][:5]], cfg)
    assert wp.freqs == (8,) and 0.40 < wp.mean < 0.50
    cr = crests.crest_at(params, cfg, mid, "logit", 7)
    assert cr.c == 7 and cr.is_crest and 0.30 < cr.diagonal_fraction < 0.35
    assert attention.attention_at(mid, cfg).head_freqs == [51, 51, 29, 34]
    assert curves.curves_at(run["s"].metrics, phases.phase_spans(run["s"].metrics), 6400).phase == phases.Phase.CLEANUP


def test_bundled_crest_points_and_inputs(run):
    cfg, last = run["cfg"], run["s"].params_at(run["picks"][-1])
    cr = crests.crest_at(last, cfg, grid_attention(last, cfg), "logit", 65)
    line1, line2 = cr.shown_points()
    assert cr.c == 65 and line1[0] == (0, 65) and line2[0] == (66, 112)  # DESIGN.md's example
    assert all(a + b == 65 for a, b in line1) and all(a + b == 65 + 113 for a, b in line2)
    io = inputs.inputs_at(last, cfg, 1, 2, run["s"].train_mask)
    assert io.tokens == (1, 2, 113) and io.answer == io.correct == 3 and io.is_right and not io.in_train
    assert io.probs[3] > 0.99 and io.embed.shape == (3, 128)
