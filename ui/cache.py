"""The one place the app caches (bounded): series, per-step parameters and activations, per-series results.

st.cache_resource holds objects shared read-only by every session (loaded series, torch tensors
of one step, big activation arrays: copying them per call would cost more than computing them);
st.cache_data holds small results that are cheap to pickle. Functions take (series_id, step, ...)
so keys are plain values; `series_id` is a manifest id or "runs/<name>" for a series trained here.
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import streamlit as st
import torch

from grok_core import hub, plots
from grok_core.model import forward_last, grid_attention, grid_cache, grid_neuron, run_with_cache
from grok_core.series import JSON_NAME, Series, open_series

REPO = Path(__file__).resolve().parents[1]
RUNS = Path(os.environ.get("GROK_APP_RUNS", REPO / "runs"))  # series trained from the app's training page
HOOK_POST = "blocks.0.mlp.hook_post"


@dataclass(frozen=True)
class Choice:
    """One series the picker offers."""

    id: str
    title: str
    description: str
    offline: bool  # opens without the network
    size_mb: float | None = None
    entry: hub.ManifestEntry | None = None  # None for local runs
    path: str | None = None


@st.cache_data(ttl=10, show_spinner=False)
def catalog() -> tuple[list[Choice], list[str]]:
    """Manifest entries (default first) then series trained here; plus manifest problems for a notice."""
    entries, errors = hub.load_manifest()
    out = []
    for e in entries:
        try:
            offline = hub.is_available_offline(e)
        except Exception:  # a damaged cache must not hide the entry
            offline = False
        out.append(Choice(e.id, e.title, e.description, offline, e.size_mb, entry=e))
    if RUNS.is_dir():
        for d in sorted(RUNS.iterdir()):
            if (d / JSON_NAME).is_file():
                out.append(Choice(f"runs/{d.name}", f"Trained here: {d.name}", f"Series trained in this app ({d}).",
                                  True, path=str(d)))
    if not out:  # no manifest at all: still offer the bundled series
        out.append(Choice("default", "Bundled run", "checkpoints/default", True, path=str(REPO / "checkpoints/default")))
    return out, errors


def choice(series_id: str) -> Choice | None:
    return next((c for c in catalog()[0] if c.id == series_id), None)


_STAMPS: dict[str, tuple[float, int]] = {}  # series id -> (checked at, stamp)


def _stamp(c: Choice) -> int:
    """Changes when a local series is rewritten (e.g. still training), so the cached copy refreshes.

    Looked up at most every few seconds: a stat per call showed up in the per-step time.
    """
    now = time.monotonic()
    hit = _STAMPS.get(c.id)
    if hit and now - hit[0] < 5.0:
        return hit[1]
    path = Path(c.path) if c.path else (hub.local_path(c.entry) if c.entry is not None and c.entry.is_local else None)
    try:
        stamp = (path / JSON_NAME).stat().st_mtime_ns if path else 0
    except OSError:
        stamp = 0
    _STAMPS[c.id] = (now, stamp)
    return stamp


def open_choice(c: Choice, progress=None) -> Series:
    """Open without caching (downloads and conversions report to progress(done, total, message))."""
    if c.entry is not None:
        return hub.open_entry(c.entry, progress=progress)
    return open_series(c.path)


@st.cache_resource(max_entries=4, show_spinner=False)
def _series(series_id: str, stamp: int) -> Series:
    c = choice(series_id)
    if c is None:
        raise hub.SourceError(f"unknown series {series_id!r}")
    return open_choice(c)


def series(series_id: str) -> Series:
    c = choice(series_id)
    return _series(series_id, _stamp(c) if c else 0)


# -- per step -----------------------------------------------------------------------------------
@st.cache_resource(max_entries=64, show_spinner=False)
def params(series_id: str, step: int) -> dict[str, torch.Tensor]:
    return series(series_id).params_at(int(step))


# Per run, for the browser benchmark's server timing (GROK_APP_TIMING): how long the script waited for a
# step computed ahead, and how long it computed steps itself. Only the script's own thread counts.
RUN_STATS: dict[str, float] = {}
PREFETCH = "prefetch"  # name prefix of the StepStore worker threads


def _in_prefetch_thread() -> bool:
    return threading.current_thread().name.split("_")[0] == PREFETCH


def _count(what: str, t0: float) -> None:
    if not _in_prefetch_thread():
        RUN_STATS[what] = RUN_STATS.get(what, 0.0) + 1e3 * (time.perf_counter() - t0)


class StepStore:
    """A bounded LRU of per-step results with one background thread that computes the next step ahead.

    Moving the slider by one checkpoint then finds the step already computed, so the page only
    draws. A step being prefetched when it is asked for is waited for, not computed twice.
    """

    def __init__(self, maxsize: int):
        self.maxsize = maxsize
        self._items: OrderedDict = OrderedDict()
        self._pending: dict = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=PREFETCH)

    def get(self, key, compute):
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            fut: Future | None = self._pending.get(key)
        t0 = time.perf_counter()
        if fut is not None and not _in_prefetch_thread():
            out = fut.result()  # being computed ahead: wait rather than compute twice (never from our own worker)
            _count("waited_ms", t0)
            return out
        out = self._put(key, compute())
        _count("computed_ms", t0)
        return out

    def prefetch(self, key, compute) -> None:
        with self._lock:
            if key in self._items or key in self._pending:
                return
            self._pending[key] = self._pool.submit(self._run, key, compute)

    def _run(self, key, compute):
        try:
            return self._put(key, compute())
        finally:
            with self._lock:
                self._pending.pop(key, None)

    def _put(self, key, value):
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)
        return value


@st.cache_resource
def _grid_store() -> StepStore:
    return StepStore(maxsize=4)  # full grids (GRID_HOOKS) of final checkpoints: ~52 MB each for p = 113


@st.cache_resource
def _mid_store() -> StepStore:
    return StepStore(maxsize=16)  # the attention half of the grid (MID_HOOKS): ~7 MB each for p = 113


@st.cache_resource
def _small_store() -> StepStore:
    return StepStore(maxsize=128)  # per-step results of at most ~1 MB


class At:
    """What a per-step computation may use, from any thread: the series, and the cached grids of a step."""

    def __init__(self, series_id: str, s: Series):  # from the script thread: the stores are Streamlit resources
        self.series_id, self.series = series_id, s
        self._grids, self._mids = _grid_store(), _mid_store()

    def grid(self, step: int) -> dict[str, torch.Tensor]:
        """The MLP neurons on the whole p×p grid (~70 ms for p = 113); the views need it for the last step only."""
        return self._grids.get(("grid", self.series_id, int(step), ()), lambda: _grid(self.series, int(step)))

    def mid(self, step: int) -> dict[str, torch.Tensor]:
        """The attention half of the grid: pattern and resid_mid (~5x cheaper than `grid`); enough for one
        neuron, one output direction or the attention patterns."""
        return self._mids.get(("mid", self.series_id, int(step), ()), lambda: _mid(self.series, int(step)))


def _per_step(kind: str, series_id: str, step: int, args: tuple, compute):
    """compute(at, step, *args), cached per step; the next step in the student's direction is computed ahead.

    `compute` runs in the prefetch thread too, so it gets an `At` and touches no Streamlit cache.
    """
    step = int(step)
    store = _small_store()
    at = At(series_id, series(series_id))
    out = store.get((kind, series_id, step, args), lambda: compute(at, step, *args))
    i = int(np.searchsorted(at.series.steps, step)) + st.session_state.get("_direction", 1)
    if 0 <= i < len(at.series.steps):
        nxt = int(at.series.steps[i])
        store.prefetch((kind, series_id, nxt, args), lambda: compute(at, nxt, *args))
    return out


def note_step(series_id: str, step: int) -> None:
    """Remember which way the student is moving, so prefetching goes the same way."""
    prev = st.session_state.get("_last_step")
    if prev is not None and prev[0] == series_id and prev[1] != step:
        st.session_state["_direction"] = 1 if step > prev[1] else -1
    st.session_state["_last_step"] = (series_id, int(step))


def _readonly(d: dict) -> dict:
    for v in d.values():
        if isinstance(v, np.ndarray):
            v.flags.writeable = False
    return d


# The hooks read from the full grid (key frequencies, neuron frequencies, showcase neurons); the rest is dropped.
GRID_HOOKS = ("blocks.0.mlp.hook_pre", "blocks.0.mlp.hook_post")


def _grid(s: Series, step: int) -> dict[str, torch.Tensor]:
    full = grid_cache(s.params_at(step), s.model_cfg)
    return {k: full[k] for k in GRID_HOOKS}


MID_HOOKS = ("blocks.0.attn.hook_pattern", "blocks.0.hook_resid_mid")


def _mid(s: Series, step: int) -> dict[str, torch.Tensor]:
    att = grid_attention(s.params_at(step), s.model_cfg)
    return {k: att[k] for k in MID_HOOKS}


def final_grid(series_id: str) -> dict[str, torch.Tensor]:
    """The MLP neurons on the p×p grid at the series' last checkpoint (GRID_HOOKS, TransformerLens names)."""
    s = series(series_id)
    return At(series_id, s).grid(int(s.steps[-1]))


def _x_slice(at: At, step: int, x: int) -> dict[str, np.ndarray]:
    s = at.series
    cfg = s.model_cfg
    ys = torch.arange(cfg.p)
    cache: dict = {}
    with torch.no_grad():
        forward_last(s.params_at(step), cfg, torch.full_like(ys, int(x)), ys, cache=cache)
    return _readonly({k: v.numpy() for k, v in cache.items()})


def x_slice(series_id: str, step: int, x: int) -> dict[str, np.ndarray]:
    """Activations for 'x + y =' with x fixed and every y: [p, ...] per hook (113 problems: cheap)."""
    return _per_step("x_slice", series_id, step, (int(x),), _x_slice)


@st.cache_data(max_entries=64, show_spinner=False)
def one_problem(series_id: str, step: int, x: int, y: int) -> dict[str, np.ndarray]:
    """'x + y =' through the full model: embeddings [3, d_model] and answer probabilities [p]."""
    cfg = series(series_id).model_cfg
    tokens = torch.tensor([[int(x), int(y), cfg.eq_token]])
    with torch.no_grad():
        logits, c = run_with_cache(params(series_id, step), cfg, tokens)
    return {
        "tokens": tokens[0].numpy(),
        "embed": c["hook_embed"][0].numpy(),  # [3, d_model]: W_E rows picked by the one-hot columns
        "probs": logits[0, -1].double().softmax(-1).numpy(),  # [p]
    }


# -- per series ---------------------------------------------------------------------------------
@st.cache_data(max_entries=8, show_spinner=False)
def spans(series_id: str, n_metrics: int) -> list[tuple[str, int, int]]:
    return plots.phase_spans(series(series_id).metrics)


def phase_spans(series_id: str) -> list[tuple[str, int, int]]:
    s = series(series_id)
    return spans(series_id, len(s.metrics["step"]))


@st.cache_data(max_entries=8, show_spinner="Finding the key frequencies of the trained model…")
def final_key_freqs(series_id: str) -> list[int]:
    """Key frequencies of the last checkpoint: fixed reference for every step."""
    from grok_core.analysis import fourier

    s = series(series_id)
    p = params(series_id, int(s.steps[-1]))
    return [int(k) for k in fourier.key_frequencies(p, s.model_cfg, final_grid(series_id))]


@st.cache_data(max_entries=8, show_spinner=False)
def display_freq(series_id: str) -> int:
    """The key frequency the views show by default: the lowest, because with only 113 samples a wave of a high
    frequency (say 51) looks jagged and aliased, while a low one (say 8) is visibly a smooth wave."""
    ks = final_key_freqs(series_id)
    return min(ks) if ks else 1


@st.cache_data(max_entries=16, show_spinner="Choosing neurons that show the algorithm…")
def showcase_neurons(series_id: str, n: int) -> list[int]:
    """Neurons chosen once on the last checkpoint, so every step shows the same neurons.

    Among the neurons well explained by the display frequency, those most active at x = 0 (a ReLU
    neuron that is silent for most y draws a flat line), spread over phases by default_neurons.
    """
    from grok_core.analysis import fourier, neurons

    g = neurons.neuron_grid(final_grid(series_id), series(series_id).model_cfg)  # [p, p, d_mlp]
    best_k, frac = fourier.neuron_frequencies(g)
    cand = np.flatnonzero((best_k == display_freq(series_id)) & (frac > 0.5))
    if len(cand) < n:
        return [int(i) for i in neurons.default_neurons(g, n=n)]
    cand = cand[np.argsort(-g[0][:, cand].var(axis=0))][: 3 * n]
    return [int(cand[i]) for i in neurons.default_neurons(g[:, :, cand], n=n)]


@st.cache_data(max_entries=4, show_spinner="Computing progress measures over all checkpoints (once per series)…")
def progress(series_id: str, n_steps: int) -> dict[str, np.ndarray]:
    from grok_core.analysis import progress as prog

    return {k: np.asarray(v) for k, v in prog.series_progress(series(series_id)).items()}


@st.cache_data(max_entries=8, show_spinner=False)
def final_neuron_freqs(series_id: str) -> np.ndarray:
    """Each neuron's main frequency in the trained model (last checkpoint)."""
    from grok_core.analysis import fourier

    p = series(series_id).model_cfg.p
    return np.asarray(fourier.neuron_frequencies(final_grid(series_id)[HOOK_POST].reshape(p, p, -1))[0])


def neuron_frequency(series_id: str, neuron: int) -> int:
    return int(final_neuron_freqs(series_id)[int(neuron)])


# -- per step, through grok_core.analysis -------------------------------------------------------
def _probe_dict(r) -> dict:
    return {"fit": np.asarray(r.fit), "dims": [int(d) for d in r.dims], "r2": float(r.r2)}


def _embedding(at: At, step: int, k: int) -> dict:
    from grok_core.analysis import fourier, probes

    s = at.series
    params = s.params_at(step)
    out = {"norms": np.asarray(fourier.embedding_freq_norms(params, s.model_cfg, position=0))}
    for pos, var in enumerate(("x", "y")):
        cos, sin = probes.circle_probes(params, s.model_cfg, int(k), position=pos)
        out[var] = (_probe_dict(cos), _probe_dict(sin))
    return out


def embedding(series_id: str, step: int, k: int) -> dict:
    """Fourier norms of W_E per frequency, and the cos/sin probes of frequency k for x and for y."""
    return _per_step("embedding", series_id, step, (int(k),), _embedding)


def _neuron_surface(at: At, step: int, neuron: int) -> np.ndarray:
    s = at.series
    a = grid_neuron(s.params_at(step), s.model_cfg, at.mid(step)["blocks.0.hook_resid_mid"], neuron)
    return a.numpy().reshape(s.model_cfg.p, s.model_cfg.p).astype(np.float64)


def _spectrum(at: At, step: int, neuron: int, k: int) -> dict:
    from grok_core.analysis import fourier

    surface = _neuron_surface(at, step, neuron)
    dec = fourier.decompose(surface, int(k))
    biggest = sorted(dec["terms"], key=lambda n: -dec["frac"].get(n, 0.0))[:4]
    parts = [(f"neuron #{neuron} − mean", surface - surface.mean())]
    parts += [(f"{n} ({dec['frac'].get(n, 0.0):.0%})", np.asarray(dec["terms"][n])) for n in biggest]
    return {"surface": surface, "coefs": np.asarray(fourier.fourier_2d(surface)),
            "top": list(fourier.top_terms(surface, n=8)), "parts": parts, "identity": dec["identity"],
            "k_share": float(sum(dec["frac"].values()))}  # the variance in the 8 terms of frequency k


def surface_spectrum(series_id: str, step: int, neuron: int, k: int) -> dict:
    """A neuron's surface [p, p], its 2-D spectrum, top terms, largest components at frequency k, the identity."""
    return _per_step("spectrum", series_id, step, (int(neuron), int(k)), _spectrum)


def _crest(at: At, step: int, source: str, which: int) -> dict:
    from grok_core.analysis import crests

    cfg = at.series.model_cfg
    if source == "logit":
        surface = crests.logit_surface(at.mid(step), at.series.params_at(step), cfg, which)
    elif source == "mlp_out":
        surface = crests.mlp_out_surface(at.mid(step), at.series.params_at(step), cfg, which)
    else:
        surface = _neuron_surface(at, step, which)
    surface = np.asarray(surface, dtype=np.float64)
    c = int(crests.crest(surface))
    return {"surface": surface, "c": c, "diagonal_fraction": float(crests.diagonal_fraction(surface)),
            "points": [(int(a), int(b)) for a, b in crests.crest_points(c, cfg.p)]}


def crest(series_id: str, step: int, source: str, which: int) -> dict:
    """The surface for the crests view (logit / MLP output for answer `which`, or neuron `which`) and its crest."""
    return _per_step("crest", series_id, step, (source, int(which)), _crest)


def _attention(at: At, step: int) -> dict:
    from grok_core.analysis import attention as att

    cfg = at.series.model_cfg
    g = at.mid(step)
    ks, shares = att.head_frequency_shares(g, cfg)
    return {"to_x": np.asarray(att.attention_to(g, cfg))[..., 0], "head_freqs": [int(k) for k in ks],
            "head_shares": np.asarray(shares)}


def attention(series_id: str, step: int) -> dict:
    """Attention from '=' to x for every problem and head [p, p, h], and each head's frequency."""
    return _per_step("attention", series_id, step, (), _attention)


@st.cache_data(max_entries=8, show_spinner="Computing this neuron at checkpoints across training…")
def neuron_over_training(series_id: str, neuron: int, n_frames: int = 16) -> list[tuple[int, np.ndarray]]:
    """The neuron's surface at n_frames checkpoints spread over training (one full forward pass each)."""
    s = series(series_id)
    idx = np.unique(np.linspace(0, len(s.steps) - 1, n_frames).round().astype(int))
    at = At(series_id, s)
    return [(int(s.steps[i]), _neuron_surface(at, int(s.steps[i]), neuron)) for i in idx]
