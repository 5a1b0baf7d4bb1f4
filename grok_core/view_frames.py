"""Each view's figures at any step, without streamlit: what an animation renders frame by frame.

A view is named by its page's URL path (curves, inputs, waves, grid, embeddings, surfaces,
crests, attention, progress) and takes the page's URL parameters under the same names, with
the same defaults (neurons and frequencies picked once on the final checkpoint, so every frame
shows the same ones). Figures are named as the page's charts (their PNG file names).

    frames = Frames("crests", series, source="logit", c=7)   # checks the parameters once
    fig = frames.at(6400)                                    # plots.Figure, title "... — step 6400"
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from . import phases, plots
from .analysis import progress as prog
from .analysis.attention import frequency_order
from .model import grid_attention, grid_cache
from .views import attention, crests, embeddings, inputs, reference, surfaces, waves

HOOK_POST = reference.HOOK_POST
GRID_HOOKS = ("blocks.0.mlp.hook_pre", "blocks.0.mlp.hook_post")  # what the per-series references read


class ViewError(ValueError):
    """An unknown view, figure or parameter value; the message says what is valid."""


class Context:
    """One series and what every frame of it shares, computed once: the final checkpoint's neurons and
    key frequencies (the views' defaults, from grok_core.views.reference as the pages pick them), the
    phases, the progress measures."""

    def __init__(self, series):
        self.series, self.cfg, self.metrics = series, series.model_cfg, series.metrics
        self._showcase: dict[int, list[int]] = {}

    @cached_property
    def final_params(self) -> dict:
        return self.series.params_at(int(self.series.steps[-1]))

    @cached_property
    def final_grid(self) -> dict:
        g = grid_cache(self.final_params, self.cfg)
        return {k: g[k] for k in GRID_HOOKS}

    @cached_property
    def key_freqs(self) -> list[int]:
        return reference.key_frequencies(self.final_params, self.cfg, self.final_grid)

    @cached_property
    def display_freq(self) -> int:
        return reference.display_frequency(self.key_freqs)

    @cached_property
    def neuron_freqs(self) -> np.ndarray:
        return reference.neuron_frequencies(self.final_grid, self.cfg)

    def showcase(self, n: int) -> list[int]:
        if n not in self._showcase:
            self._showcase[n] = reference.showcase_neurons(self.final_grid, self.cfg, self.display_freq, n)
        return self._showcase[n]

    def neuron_freq(self, neuron: int) -> int:
        return int(self.neuron_freqs[int(neuron)])

    @cached_property
    def spans(self) -> list[phases.Span]:
        return phases.phase_spans(self.metrics)

    @cached_property
    def progress(self) -> dict[str, np.ndarray]:
        return {k: np.asarray(v) for k, v in prog.series_progress(self.series).items()}

    def x_slice(self, step: int, x: int) -> np.ndarray:
        """MLP neurons on 'x + y =' for every y: [p(y), d_mlp]."""
        return waves.x_slice(self.series.params_at(step), self.cfg, x)[HOOK_POST]

    def mid(self, step: int) -> dict:
        return grid_attention(self.series.params_at(step), self.cfg)


# -- the views: the pages' readings (grok_core.views) drawn by the pages' builders ---------------
def _curves(cx: Context, step: int, fig: str, v: dict):
    build = plots.loss_curves if fig == "loss-curves" else plots.accuracy_curves
    return build(cx.metrics, step, cx.spans)


def _inputs(cx: Context, step: int, fig: str, v: dict):
    out = inputs.inputs_at(cx.series.params_at(step), cx.cfg, v["x"], v["y"], cx.series.train_mask)
    if fig == "one-hot-input":
        return plots.one_hot_matrix(list(out.tokens), cx.cfg.d_vocab)
    if fig == "embedding":
        return plots.embedding_matrix(out.embed, list(out.tokens), cx.cfg.eq_token, step)
    return plots.answer_probs(out.probs, out.correct, step)


def _waves(cx: Context, step: int, fig: str, v: dict):
    w = cx.x_slice(step, v["x"])[:, v["neurons"]]  # [p(y), n]
    wp = waves.purity(w, cx.cfg)
    return plots.neuron_waves(w, v["neurons"], v["x"], step, purity=(wp.k, wp.share))


def _grid(cx: Context, step: int, fig: str, v: dict):
    acts = cx.x_slice(step, v["x"])[:, v["neurons"]].T  # [n, p(y)]
    return plots.scatter_grid(acts, v["neurons"], v["x"], step, webgl=v["render"] == "webgl")


def _embeddings(cx: Context, step: int, fig: str, v: dict):
    emb = embeddings.embedding_at(cx.series.params_at(step), cx.cfg, v["k"])
    if fig == "embedding-frequency-norms":
        return plots.freq_norms(emb.norms, cx.key_freqs, step)
    build = plots.probe_circles if fig == "probe-circles" else plots.probe_curves
    return build(emb.fits, emb.k, step, emb.r2)


def _surfaces(cx: Context, step: int, fig: str, v: dict):
    k, n = v["k"], v["neuron"]
    surface = surfaces.neuron_surface(cx.series.params_at(step), cx.cfg, cx.mid(step), n)
    if fig == "neuron-surface":
        title = f"Neuron #{n} over all (x, y)"
        if v["view"] == "heatmap":
            return plots.surface_heatmap(surface, title, step)
        order = frequency_order(k, cx.cfg.p) if v["order"] == "frequency" else None
        return plots.surface_3d(surface, title, step, order=order, k=k)
    spec = surfaces.spectrum_at(surface, n, k)
    if fig == "neuron-spectrum":
        return plots.spectrum_2d(spec.coefs, step, f"2-D Fourier spectrum of neuron #{n}")
    if fig == "neuron-top-terms":
        return plots.top_terms_bar(spec.top, step)
    if fig == "trig-identity":
        return plots.trig_identity(spec.identity, k)
    return plots.decomposition(spec.parts, step, n)


def _crests(cx: Context, step: int, fig: str, v: dict):
    src = v["source"]
    which = v["neuron"] if src == "neuron" else v["c"]
    crest = crests.crest_at(cx.series.params_at(step), cx.cfg, cx.mid(step), src, which)
    if fig == "crest-profile":
        return plots.diagonal_profile(crest.surface, crest.c, step, "Diagonal means")
    title = {"logit": f"Logit of answer {which}", "mlp_out": f"MLP output projected on answer {which}",
             "neuron": f"Neuron #{which}"}[src]
    return plots.surface_heatmap(crest.surface, title, step, colorbar="value", lines_c=crest.c)


def _attention(cx: Context, step: int, fig: str, v: dict):
    a = attention.attention_at(cx.mid(step), cx.cfg)
    orders = a.orders(cx.cfg.p) if v["order"] == "frequency" else None
    if fig == "attention-vs-x":
        return plots.attention_vs_x(a.to_x, step, a.head_freqs, orders)
    return plots.attention_heads(a.to_x, step, a.head_freqs, orders, shares=a.head_shares)


def _progress(cx: Context, step: int, fig: str, v: dict):
    if fig == "progress-panels":
        return plots.progress_panels(cx.progress, step, cx.spans)
    return plots.progress_losses(cx.progress, cx.metrics, step, cx.spans)


# -- parameters, named and defaulted as the pages' URL parameters -------------------------------
@dataclass(frozen=True)
class Param:
    """One URL parameter: an int in [lo, hi], a list of such ints (neurons), or one of `choices`."""

    name: str
    help: str
    default: Callable[[Context, dict], object]  # from the series and the parameters before it
    bounds: Callable[[object], tuple[int, int]] | None = None  # from the ModelConfig
    choices: tuple[str, ...] = ()
    max_len: int = 0  # > 0: a list of ints ("3,17,250")
    exact: Callable[[dict], int] | None = None  # the list's exact length, from the parameters before it


def _upto(attr: str) -> Callable[[object], tuple[int, int]]:
    return lambda cfg: (0, getattr(cfg, attr) - 1)


_X = Param("x", "the first number of the sum, held fixed", lambda cx, v: 0, _upto("p"))


def _FREQ(cfg) -> tuple[int, int]:
    return 1, cfg.n_frequencies


_ORDER = Param("order", "order x and y by k·x mod p (frequency) or by x itself (value)", lambda cx, v: "frequency",
               choices=("frequency", "value"))


@dataclass(frozen=True)
class View:
    name: str
    figures: tuple[str, ...]  # the page's charts; the first is the default
    params: tuple[Param, ...]
    build: Callable[[Context, int, str, dict], plots.Figure]


VIEWS = {v.name: v for v in (
    View("curves", ("loss-curves", "accuracy-curves"), (), _curves),
    View("inputs", ("embedding", "answer-probabilities", "one-hot-input"), (
        Param("x", "first number", lambda cx, v: 1, _upto("p")),
        Param("y", "second number", lambda cx, v: 2, _upto("p"))), _inputs),
    View("waves", ("neuron-waves",), (
        _X, Param("neurons", "up to 10 neuron numbers, e.g. 3,17,250", lambda cx, v: cx.showcase(7)[:5],
                  _upto("d_mlp"), max_len=10)), _waves),
    View("grid", ("neuron-grid",), (
        Param("n", "grid size N (N neurons, N×N pairs)", lambda cx, v: 7, lambda cfg: (2, 10)), _X,
        Param("neurons", "exactly N neuron numbers", lambda cx, v: cx.showcase(v["n"]), _upto("d_mlp"), max_len=10,
              exact=lambda v: v["n"]),
        Param("render", "scatter renderer", lambda cx, v: "webgl", choices=("webgl", "svg"))), _grid),
    View("embeddings", ("embedding-frequency-norms", "probe-circles", "probe-curves"), (
        Param("k", "frequency to probe for", lambda cx, v: cx.display_freq, _FREQ),
        Param("probes", "show the circles, or also the waves (the page's choice)", lambda cx, v: "circles",
              choices=("circles", "waves"))), _embeddings),
    View("surfaces", ("neuron-surface", "neuron-spectrum", "neuron-top-terms", "neuron-decomposition", "trig-identity"), (
        Param("neuron", "MLP neuron", lambda cx, v: cx.showcase(7)[0], _upto("d_mlp")),
        Param("k", "frequency for the identity and the 3-D order", lambda cx, v: cx.neuron_freq(v["neuron"]), _FREQ),
        Param("view", "the surface as a heatmap or in 3-D (3d-anim draws as 3d)", lambda cx, v: "heatmap",
              choices=("heatmap", "3d", "3d-anim")),
        Param("explain", "the page's third chart: terms, parts or identity", lambda cx, v: "terms",
              choices=("terms", "parts", "identity")), _ORDER), _surfaces),
    View("crests", ("crest-surface", "crest-profile"), (
        Param("source", "surface: the logit of answer c, the MLP output towards it, or one neuron",
              lambda cx, v: "logit", choices=("logit", "mlp_out", "neuron")),
        Param("c", "answer c (source logit or mlp_out)", lambda cx, v: 7, _upto("p")),
        Param("neuron", "MLP neuron (source neuron)", lambda cx, v: cx.showcase(7)[0] if v["source"] == "neuron" else None,
              _upto("d_mlp"))), _crests),
    View("attention", ("attention-heads", "attention-vs-x"), (_ORDER,), _attention),
    View("progress", ("progress-losses", "progress-panels"), (), _progress),
)}


def _parse(p: Param, raw, cfg, v: dict):
    """raw (a URL-style string, or a value) -> the checked value; ViewError says what is valid."""
    if p.choices:
        if str(raw) not in p.choices:
            raise ViewError(f"{p.name}={raw!r} is not one of {', '.join(p.choices)}")
        return str(raw)
    lo, hi = p.bounds(cfg)
    try:
        if p.max_len:
            vals = [int(t) for t in (str(raw).replace(" ", "").split(",") if isinstance(raw, str) else raw) if t != ""]
        else:
            vals = int(raw) if not isinstance(raw, float) or raw.is_integer() else int("x")
    except (TypeError, ValueError):
        raise ViewError(f"{p.name}={raw!r} is not {'a list of integers' if p.max_len else 'an integer'}") from None
    for t in vals if p.max_len else [vals]:
        if not lo <= t <= hi:
            raise ViewError(f"{p.name}: {t} is out of range; this series allows {lo}..{hi}")
    if p.max_len:
        n = p.exact(v) if p.exact else None
        if not vals or len(vals) > (n or p.max_len) or len(set(vals)) != len(vals) or (n and len(vals) != n):
            want = f"exactly {n}" if n else f"1 to {p.max_len}"
            raise ViewError(f"{p.name}: give {want} different numbers, not {raw!r}")
    return vals


def resolve(view: View, cx: Context, given: dict) -> dict:
    """The view's parameters: given ones checked, the rest defaulted as the page would (in order)."""
    unknown = set(given) - {p.name for p in view.params}
    if unknown:
        names = ", ".join(p.name for p in view.params) or "none"
        raise ViewError(f"view {view.name} has no parameter {', '.join(sorted(unknown))} (it takes: {names})")
    v: dict = {}
    for p in view.params:
        v[p.name] = _parse(p, given[p.name], cx.cfg, v) if given.get(p.name) is not None else p.default(cx, v)
    return v


def get_view(name: str) -> View:
    if name not in VIEWS:
        raise ViewError(f"unknown view {name!r}; views: {', '.join(VIEWS)}")
    return VIEWS[name]


class Frames:
    """A view of one series with fixed parameters; .at(step) builds the chosen figure at a checkpoint."""

    def __init__(self, name: str, series, /, figure: str | None = None, context: Context | None = None, **params):
        self.view = get_view(name)  # positional-only: "view" is also a parameter (of surfaces)
        if figure is not None and figure not in self.view.figures:
            raise ViewError(f"view {name} has no figure {figure!r}; figures: {', '.join(self.view.figures)}")
        self.figure = figure or self.view.figures[0]
        self.context = context or Context(series)
        self.params = resolve(self.view, self.context, params)

    def at(self, step: int) -> plots.Figure:
        return self.view.build(self.context, int(step), self.figure, self.params)


def figure_at(name: str, series, step: int, /, figure: str | None = None, **params) -> plots.Figure:
    """One view's figure at one step (the parameters as in the page's URL)."""
    return Frames(name, series, figure=figure, **params).at(step)
