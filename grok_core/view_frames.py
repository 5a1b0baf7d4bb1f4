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
import torch

from . import phases, plots
from .analysis import attention as att
from .analysis import crests, fourier, neurons, probes
from .analysis import progress as prog
from .model import forward_last, grid_attention, grid_cache, grid_neuron, run_with_cache

HOOK_POST = "blocks.0.mlp.hook_post"


class ViewError(ValueError):
    """An unknown view, figure or parameter value; the message says what is valid."""


class Context:
    """One series and what every frame of it shares, computed once: the final checkpoint's neurons and
    key frequencies (the views' defaults), the phases, the progress measures."""

    def __init__(self, series):
        self.series, self.cfg, self.metrics = series, series.model_cfg, series.metrics
        self._showcase: dict[int, list[int]] = {}

    @cached_property
    def final_grid(self) -> dict:
        return grid_cache(self.series.params_at(int(self.series.steps[-1])), self.cfg)

    @cached_property
    def key_freqs(self) -> list[int]:
        params = self.series.params_at(int(self.series.steps[-1]))
        return [int(k) for k in fourier.key_frequencies(params, self.cfg, self.final_grid)]

    @cached_property
    def display_freq(self) -> int:
        """The lowest key frequency: a low one looks like a smooth wave over 113 samples (as ui/cache)."""
        return min(self.key_freqs) if self.key_freqs else 1

    @cached_property
    def neuron_freqs(self) -> tuple[np.ndarray, np.ndarray]:
        """Each neuron's main frequency in the trained model and the share of its variance it explains: [d_mlp] each."""
        return fourier.neuron_frequencies(neurons.neuron_grid(self.final_grid, self.cfg))

    def showcase(self, n: int) -> list[int]:
        """Neurons of the display frequency most active at x = 0, spread over phases (as the pages pick them)."""
        if n not in self._showcase:
            g = neurons.neuron_grid(self.final_grid, self.cfg)  # [p, p, d_mlp]
            best_k, frac = self.neuron_freqs
            cand = np.flatnonzero((best_k == self.display_freq) & (frac > 0.5))
            if len(cand) < n:
                self._showcase[n] = [int(i) for i in neurons.default_neurons(g, n=n)]
            else:
                cand = cand[np.argsort(-g[0][:, cand].var(axis=0))][: 3 * n]
                self._showcase[n] = [int(cand[i]) for i in neurons.default_neurons(g[:, :, cand], n=n)]
        return self._showcase[n]

    def neuron_freq(self, neuron: int) -> int:
        return int(self.neuron_freqs[0][int(neuron)])

    @cached_property
    def spans(self) -> list[tuple[str, int, int]]:
        return phases.phase_spans(self.metrics)

    @cached_property
    def progress(self) -> dict[str, np.ndarray]:
        return {k: np.asarray(v) for k, v in prog.series_progress(self.series).items()}

    def x_slice(self, step: int, x: int) -> np.ndarray:
        """MLP neurons on 'x + y =' for every y: [p(y), d_mlp]."""
        ys = torch.arange(self.cfg.p)
        cache: dict = {}
        with torch.no_grad():
            forward_last(self.series.params_at(step), self.cfg, torch.full_like(ys, int(x)), ys, cache=cache)
        return cache[HOOK_POST].numpy()

    def neuron_surface(self, step: int, neuron: int, mid: dict | None = None) -> np.ndarray:
        """One neuron over the whole grid [p(x), p(y)], from the attention half of the grid."""
        params = self.series.params_at(step)
        mid = mid or grid_attention(params, self.cfg)
        a = grid_neuron(params, self.cfg, mid["blocks.0.hook_resid_mid"], int(neuron))
        return a.numpy().reshape(self.cfg.p, self.cfg.p).astype(np.float64)


# -- the views ----------------------------------------------------------------------------------
def _curves(cx: Context, step: int, fig: str, v: dict):
    build = plots.loss_curves if fig == "loss-curves" else plots.accuracy_curves
    return build(cx.metrics, step, cx.spans)


def _inputs(cx: Context, step: int, fig: str, v: dict):
    cfg = cx.cfg
    tokens = torch.tensor([[v["x"], v["y"], cfg.eq_token]])
    if fig == "one-hot-input":
        return plots.one_hot_matrix(tokens[0].tolist(), cfg.d_vocab)
    with torch.no_grad():
        logits, c = run_with_cache(cx.series.params_at(step), cfg, tokens)
    if fig == "embedding":
        return plots.embedding_matrix(c["hook_embed"][0].numpy(), tokens[0].tolist(), cfg.eq_token, step)
    probs = logits[0, -1].double().softmax(-1).numpy()  # [p]
    return plots.answer_probs(probs, (v["x"] + v["y"]) % cfg.p, step)


def _waves(cx: Context, step: int, fig: str, v: dict):
    waves = cx.x_slice(step, v["x"])[:, v["neurons"]]  # [p(y), n]
    return plots.neuron_waves(waves, v["neurons"], v["x"], step, purity=fourier.wave_purity(waves))


def _grid(cx: Context, step: int, fig: str, v: dict):
    acts = cx.x_slice(step, v["x"])[:, v["neurons"]].T  # [n, p(y)]
    return plots.scatter_grid(acts, v["neurons"], v["x"], step, webgl=v["render"] == "webgl")


def _embeddings(cx: Context, step: int, fig: str, v: dict):
    params, k = cx.series.params_at(step), v["k"]
    if fig == "embedding-frequency-norms":
        return plots.freq_norms(np.asarray(fourier.embedding_freq_norms(params, cx.cfg, position=0)), cx.key_freqs, step)
    fits, r2 = {}, {}
    for pos, var in enumerate(("x", "y")):
        pc, ps = probes.circle_probes(params, cx.cfg, k, position=pos)
        fits[var], r2[var] = (np.asarray(pc.fit), np.asarray(ps.fit)), (float(pc.r2), float(ps.r2))
    build = plots.probe_circles if fig == "probe-circles" else plots.probe_curves
    return build(fits, k, step, r2)


def _surfaces(cx: Context, step: int, fig: str, v: dict):
    surface, k, n = cx.neuron_surface(step, v["neuron"]), v["k"], v["neuron"]
    if fig == "neuron-surface":
        title = f"Neuron #{n} over all (x, y)"
        if v["view"] == "heatmap":
            return plots.surface_heatmap(surface, title, step)
        order = att.frequency_order(k, cx.cfg.p) if v["order"] == "frequency" else None
        return plots.surface_3d(surface, title, step, order=order, k=k)
    if fig == "neuron-spectrum":
        return plots.spectrum_2d(np.asarray(fourier.fourier_2d(surface)), step, f"2-D Fourier spectrum of neuron #{n}")
    if fig == "neuron-top-terms":
        return plots.top_terms_bar(list(fourier.top_terms(surface, n=8)), step)
    dec = fourier.decompose(surface, k)
    if fig == "trig-identity":
        return plots.trig_identity(dec["identity"], k)
    biggest = sorted(dec["terms"], key=lambda t: -dec["frac"].get(t, 0.0))[:4]
    parts = [(f"neuron #{n} − mean", surface - surface.mean())]
    parts += [(f"{t} ({dec['frac'].get(t, 0.0):.0%})", np.asarray(dec["terms"][t])) for t in biggest]
    return plots.decomposition(parts, step, n)


def _crests(cx: Context, step: int, fig: str, v: dict):
    params, src = cx.series.params_at(step), v["source"]
    mid = grid_attention(params, cx.cfg)
    if src == "neuron":
        surface, title = cx.neuron_surface(step, v["neuron"], mid), f"Neuron #{v['neuron']}"
    else:
        read = crests.logit_surface if src == "logit" else crests.mlp_out_surface
        surface = np.asarray(read(mid, params, cx.cfg, v["c"]), dtype=np.float64)
        title = f"Logit of answer {v['c']}" if src == "logit" else f"MLP output projected on answer {v['c']}"
    c = int(crests.crest(surface))
    if fig == "crest-profile":
        return plots.diagonal_profile(surface, c, step, "Diagonal means")
    return plots.surface_heatmap(surface, title, step, colorbar="value", lines_c=c)


def _attention(cx: Context, step: int, fig: str, v: dict):
    g = grid_attention(cx.series.params_at(step), cx.cfg)
    to_x = np.asarray(att.attention_to(g, cx.cfg))[..., 0]  # [p, p, h]
    ks, shares = att.head_frequency_shares(g, cx.cfg)
    freqs = [int(k) for k in ks]
    orders = [att.frequency_order(k, cx.cfg.p) for k in freqs] if v["order"] == "frequency" else None
    if fig == "attention-vs-x":
        return plots.attention_vs_x(to_x, step, freqs, orders)
    return plots.attention_heads(to_x, step, freqs, orders, shares=np.asarray(shares))


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
