"""The one place the app caches (bounded): cache keys, st.cache_* wrappers and the prefetch of the next step.

Every value comes from grok_core (the views' readings in grok_core.views); this file only decides what is
kept and for how long. Every cache has a size bound (max_entries, or a StepStore's maxsize) and the
st.cache_* ones a time to live, so a server shared by many visitors stays within a few hundred MB
(benchmarks/load_test.py measures its RSS after 24 sessions). st.cache_resource holds objects shared read-only by every session (loaded
series, torch tensors of one step, big activation arrays: copying them per call would cost more than
computing them); st.cache_data holds small results that are cheap to pickle. Functions take
(series_id, step, ...) so keys are plain values; `series_id` is a manifest id or "runs/<name>".
"""

from __future__ import annotations

import ctypes
import threading
import time
from pathlib import Path

import numpy as np
import streamlit as st
import torch

from grok_core import hub, phases
from grok_core.analysis import progress as prog
from grok_core.model import grid_attention, grid_cache
from grok_core.series import JSON_NAME, Series
from grok_core.views import attention, crests, embeddings, inputs, reference, surfaces, waves
from grok_core.views import compare as compare_view
from grok_core.views import interventions as interventions_view

from . import sources
from .prefetch import StepStore
from .sources import RUNS, Choice, open_choice  # noqa: F401 (the pages and tests reach them here)

HOOK_POST = reference.HOOK_POST
GRID_HOOKS = ("blocks.0.mlp.hook_pre", "blocks.0.mlp.hook_post")  # what the per-series references read
MID_HOOKS = ("blocks.0.attn.hook_pattern", "blocks.0.hook_resid_mid")  # enough for one neuron or output direction


# time to live of cached results (s): per step they are cheap to recompute; per series, a few seconds each
STEP_TTL_S, SERIES_TTL_S = 600, 3600


@st.cache_data(ttl=10, max_entries=1, show_spinner=False)
def catalog() -> tuple[list[Choice], list[str]]:
    return sources.list_choices(RUNS)


def choice(series_id: str) -> Choice | None:
    """The catalog's Choice, or a Hub repo opened by id ("hub:owner/name[@revision]")."""
    return next((c for c in catalog()[0] if c.id == series_id), None) or sources.hub_choice_for_id(series_id)


_STAMPS: dict[str, tuple[float, int]] = {}  # series id -> (checked at, stamp): part of the cache key below


def _stamp(c: Choice) -> int:
    """Changes when a local series is rewritten (e.g. still training), so the cached copy refreshes.

    Looked up at most every few seconds: a stat per call showed up in the per-step time.
    """
    now = time.monotonic()
    hit = _STAMPS.get(c.id)
    if hit and now - hit[0] < 5.0:
        return hit[1]
    path = c.local_path
    try:
        stamp = (Path(path) / JSON_NAME).stat().st_mtime_ns if path else 0
    except OSError:
        stamp = 0
    _STAMPS[c.id] = (now, stamp)
    return stamp


@st.cache_resource(max_entries=4, ttl=SERIES_TTL_S, show_spinner=False)
def _series(series_id: str, stamp: int) -> Series:
    c = choice(series_id)
    if c is None:
        raise hub.SourceError(f"unknown series {series_id!r}")
    return open_choice(c)


def series(series_id: str) -> Series:
    _memory_trimmer()
    c = choice(series_id)
    return _series(series_id, _stamp(c) if c else 0)


@st.cache_resource
def _memory_trimmer() -> threading.Thread | None:
    """Every 10 s, hand memory freed by evicted entries back to the system (glibc's malloc_trim).

    glibc keeps freed memory in per-thread arenas, and Streamlit runs each session's script in a thread of
    its own, so without this the server's RSS stays at its peak after the visitors have left.
    """
    try:
        trim = ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc: nothing to do
        return None

    def loop():
        while True:
            time.sleep(10.0)
            trim(0)

    t = threading.Thread(target=loop, name="malloc-trim", daemon=True)
    t.start()
    return t


@st.cache_resource(max_entries=32, ttl=STEP_TTL_S, show_spinner=False)
def params(series_id: str, step: int) -> dict[str, torch.Tensor]:
    return series(series_id).params_at(int(step))


# -- per step, computed ahead in the student's direction ----------------------------------------
@st.cache_resource
def _grid_store() -> StepStore:
    return StepStore(maxsize=2)  # full grids (GRID_HOOKS) of final checkpoints: ~52 MB each for p = 113


@st.cache_resource
def _mid_store() -> StepStore:
    return StepStore(maxsize=8)  # the attention half of the grid (MID_HOOKS): ~7 MB each for p = 113


@st.cache_resource
def _small_store() -> StepStore:
    return StepStore(maxsize=64)  # per-step readings of at most ~1 MB


def run_stats() -> dict[str, float]:
    """This session's time in the current run waiting for or computing steps (for GROK_APP_TIMING)."""
    return st.session_state.setdefault("_run_stats", {})


class At:
    """What a per-step computation may use, from any thread: the series, and the cached grids of a step."""

    def __init__(self, series_id: str, s: Series, stats: dict | None):  # built in the script thread
        self.series_id, self.series, self.stats = series_id, s, stats
        self._grids, self._mids = _grid_store(), _mid_store()

    def params(self, step: int) -> dict[str, torch.Tensor]:
        return self.series.params_at(int(step))

    def grid(self, step: int) -> dict[str, torch.Tensor]:
        """The MLP neurons on the whole p×p grid (~70 ms for p = 113); the views need it for the last step only."""
        def full():
            g = grid_cache(self.params(step), self.series.model_cfg)
            return {k: g[k] for k in GRID_HOOKS}
        return self._grids.get(("grid", self.series_id, int(step)), full, self.stats)

    def mid(self, step: int) -> dict[str, torch.Tensor]:
        """The attention half of the grid (~5x cheaper than `grid`)."""
        def half():
            g = grid_attention(self.params(step), self.series.model_cfg)
            return {k: g[k] for k in MID_HOOKS}
        return self._mids.get(("mid", self.series_id, int(step)), half, self.stats)


def _per_step(kind: str, series_id: str, step: int, args: tuple, compute):
    """compute(at, step, *args), cached per step; the next step in the student's direction is computed ahead.

    `compute` runs in the prefetch thread too, so it gets an `At` and touches no Streamlit cache.
    """
    step, store, stats = int(step), _small_store(), run_stats()
    at = At(series_id, series(series_id), stats)
    out = store.get((kind, series_id, step, args), lambda: compute(at, step, *args), stats)
    i = int(np.searchsorted(at.series.steps, step)) + st.session_state.get("_direction", 1)
    if 0 <= i < len(at.series.steps):
        nxt = int(at.series.steps[i])
        ahead = At(series_id, at.series, None)  # the worker's time is not this run's
        store.prefetch((kind, series_id, nxt, args), lambda: compute(ahead, nxt, *args))
    return out


def note_step(series_id: str, step: int) -> None:
    """Remember which way the student is moving, so prefetching goes the same way."""
    prev = st.session_state.get("_last_step")
    if prev is not None and prev[0] == series_id and prev[1] != step:
        st.session_state["_direction"] = 1 if step > prev[1] else -1
    st.session_state["_last_step"] = (series_id, int(step))


def x_slice(series_id: str, step: int, x: int) -> dict[str, np.ndarray]:
    return _per_step("x_slice", series_id, step, (int(x),),
                     lambda at, s, x: waves.x_slice(at.params(s), at.series.model_cfg, x))


def embedding(series_id: str, step: int, k: int) -> embeddings.EmbeddingReading:
    return _per_step("embedding", series_id, step, (int(k),),
                     lambda at, s, k: embeddings.embedding_at(at.params(s), at.series.model_cfg, k))


def _spectrum(at: At, step: int, neuron: int, k: int) -> surfaces.SpectrumReading:
    surface = surfaces.neuron_surface(at.params(step), at.series.model_cfg, at.mid(step), neuron)
    return surfaces.spectrum_at(surface, neuron, k)


def surface_spectrum(series_id: str, step: int, neuron: int, k: int) -> surfaces.SpectrumReading:
    return _per_step("spectrum", series_id, step, (int(neuron), int(k)), _spectrum)


def crest(series_id: str, step: int, source: str, which: int) -> crests.CrestReading:
    return _per_step("crest", series_id, step, (source, int(which)),
                     lambda at, s, src, w: crests.crest_at(at.params(s), at.series.model_cfg, at.mid(s), src, w))


def attention_reading(series_id: str, step: int) -> attention.AttentionReading:
    return _per_step("attention", series_id, step, (),
                     lambda at, s: attention.attention_at(at.mid(s), at.series.model_cfg))


@st.cache_data(max_entries=32, ttl=STEP_TTL_S, show_spinner=False)
def one_problem(series_id: str, step: int, x: int, y: int) -> inputs.InputsReading:
    s = series(series_id)
    return inputs.inputs_at(params(series_id, step), s.model_cfg, x, y, s.train_mask)


# -- per series (the last checkpoint, or all of them) -------------------------------------------
def final_grid(series_id: str) -> dict[str, torch.Tensor]:
    s = series(series_id)
    return At(series_id, s, None).grid(int(s.steps[-1]))


@st.cache_data(max_entries=8, ttl=SERIES_TTL_S, show_spinner=False)
def _spans(series_id: str, n_metrics: int) -> list[phases.Span]:
    return phases.phase_spans(series(series_id).metrics)


def phase_spans(series_id: str) -> list[phases.Span]:
    return _spans(series_id, len(series(series_id).metrics["step"]))


@st.cache_data(max_entries=8, ttl=SERIES_TTL_S, show_spinner="Finding the key frequencies of the trained model…")
def final_key_freqs(series_id: str) -> list[int]:
    s = series(series_id)
    return reference.key_frequencies(params(series_id, int(s.steps[-1])), s.model_cfg, final_grid(series_id))


@st.cache_data(max_entries=8, ttl=SERIES_TTL_S, show_spinner=False)
def display_freq(series_id: str) -> int:
    return reference.display_frequency(final_key_freqs(series_id))


@st.cache_data(max_entries=16, ttl=SERIES_TTL_S, show_spinner="Choosing neurons that show the algorithm…")
def showcase_neurons(series_id: str, n: int) -> list[int]:
    return reference.showcase_neurons(final_grid(series_id), series(series_id).model_cfg, display_freq(series_id), n)


@st.cache_data(max_entries=8, ttl=SERIES_TTL_S, show_spinner=False)
def final_neuron_freqs(series_id: str) -> np.ndarray:
    return reference.neuron_frequencies(final_grid(series_id), series(series_id).model_cfg)


def neuron_frequency(series_id: str, neuron: int) -> int:
    return int(final_neuron_freqs(series_id)[int(neuron)])


@st.cache_data(max_entries=4, ttl=SERIES_TTL_S, show_spinner="Computing progress measures over all checkpoints (once per series)…")
def progress(series_id: str, n_steps: int) -> dict[str, np.ndarray]:
    return {k: np.asarray(v) for k, v in prog.series_progress(series(series_id)).items()}


@st.cache_data(max_entries=8, ttl=SERIES_TTL_S, show_spinner="Computing this neuron at checkpoints across training…")
def neuron_over_training(series_id: str, neuron: int, n_frames: int = 16) -> list[tuple[int, np.ndarray]]:
    return surfaces.frames_over_training(series(series_id), neuron, n_frames)


# -- compare, correctness map, interventions (grok_core.views.compare / .interventions) ----------
@st.cache_data(max_entries=64, show_spinner=False)
def comparison(id_a: str, id_b: str, step: int, mode: str) -> compare_view.CompareReading:
    """Runs A and B aligned for step `step` of A; a few ms once both runs' key frequencies are known."""
    runs = [(i, choice(i).title if choice(i) else i, series(i), final_key_freqs(i)) for i in (id_a, id_b)]
    return compare_view.compare_at(runs[0], runs[1], int(step), mode)


def correctness(series_id: str, step: int) -> interventions_view.CorrectnessReading:
    return _per_step("correctness", series_id, step, (),
                     lambda at, s: interventions_view.correctness_at(at.params(s), at.series.model_cfg,
                                                                     at.series.train_mask, s,
                                                                     at.series.train_cfg.operation))


def interventions(series_id: str, step: int, kind: str, ks: tuple[int, ...],
                  neurons: tuple[int, ...] = ()) -> interventions_view.InterventionsReading:
    keys = tuple(final_key_freqs(series_id))  # in the script thread: a Streamlit cache
    return _per_step("interventions", series_id, step,
                     (kind, tuple(int(k) for k in ks), keys, tuple(int(n) for n in neurons)),
                     lambda at, s, kind, ks, keys, neurons: interventions_view.interventions_at(
                         at.params(s), at.series.model_cfg, at.series.train_mask, s, keys, kind, ks,
                         at.series.train_cfg.operation, neurons))
