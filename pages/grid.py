"""View 4: an N×N grid of pairwise neuron scatters over y: loops (Lissajous figures) after grokking."""

import streamlit as st

from grok_core import plots
from grok_core.phases import Phase
from grok_core.views.waves import purity
from ui import cache, state, view

sel = view.current()
view.header("Neuron scatter grid", sel)
p, d_mlp = sel.cfg.p, sel.cfg.d_mlp

c1, c2, c3 = view.columns([1, 1, 3])
n = state.int_control("n", "Grid size N", 2, 10, 7, container=c1, help="N neurons give an N×N grid of pairs.")
x = state.int_control("x", "x (fixed)", 0, p - 1, 0, container=c2)
neurons = state.int_list_control("neurons", "Neurons", 0, d_mlp - 1, cache.showcase_neurons(sel.series_id, n),
                                 max_len=n, exact=True, container=c3,
                                 help=f"N neuron numbers (0–{d_mlp - 1}), separated by commas; picked on the final "
                                      "checkpoint by default.")
with st.expander("Display options"):
    render = state.choice_control("render", "Renderer", ["webgl", "svg"], "webgl",
                                  format_func={"svg": "SVG", "webgl": "WebGL"}.get,
                                  help="WebGL draws the grid faster (measured here even without a graphics card); "
                                       "SVG is the fallback if WebGL is unavailable.")
acts = cache.x_slice(sel.series_id, sel.step, x)[cache.HOOK_POST][:, neurons].T  # [n, p]

wp = purity(acts.T, sel.cfg)
say = view.say(
    wp.level,
    f"Now the points are mostly scattered clouds: one frequency carries only {wp.mean:.0%} of each neuron's "
    f"variation on average (100% is a pure wave, noise about {wp.noise:.0%}). "
    + {Phase.MEMORISING: "Before the algorithm forms, pairs of neurons are unrelated.",
       Phase.CIRCUIT_FORMING: "Step through this plateau and watch the clouds pull together into loops as that share "
                          "grows."}.get(sel.phase, ""),
    f"Loops are emerging from the clouds: {wp.freq_words} carries {wp.mean:.0%} of each neuron's variation on average; the "
    "rest is memorised noise that scatters points off the loops.",
    f"Pairs of neurons trace closed loops (ellipses): two waves of y at {wp.freq_words} ({wp.mean:.0%} of their "
    "variation) plotted against each other, the signature of sines and cosines.",
)
view.explain(
    f"Each panel plots one neuron against another for the {p} sums {x} + y; colour is y, and the colours wrap "
    f"around because y is taken mod {p}. The diagonal panels show each neuron's own wave over y. " + say
)
view.chart(plots.scatter_grid(acts, neurons, x, sel.step, webgl=render == "webgl"), "neuron-grid")
view.done()
