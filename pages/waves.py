"""View 3: fix x, sweep y over 0..p-1 and plot MLP neurons: noise before grokking, clean waves after."""

import streamlit as st

from grok_core import plots
from ui import cache, state, view

sel = view.current()
view.header("Neuron waves", sel)
p, d_mlp = sel.cfg.p, sel.cfg.d_mlp

c1, c2 = st.columns([1, 3])
x = state.int_control("x", "x (fixed)", 0, p - 1, 0, container=c1, help="The first number of the sum, held fixed.")
neurons = state.int_list_control("neurons", "Neurons", 0, d_mlp - 1, cache.showcase_neurons(sel.series_id, 7)[:5],
                                 max_len=10, container=c2,
                                 help=f"Up to 10 neuron numbers (0–{d_mlp - 1}), separated by commas. The default "
                                      "ones are picked on the final checkpoint, so you follow the same neurons "
                                      "through training.")
waves = cache.x_slice(sel.series_id, sel.step, x)[cache.HOOK_POST][:, neurons]

SAY = {
    "memorising": "At this step the curves are ragged noise: the network is memorising, and a neuron's response "
                  "to y has no pattern.",
    "circuit forming": "Step through this long plateau and watch for waves rising out of the noise: the network is "
                       "building the algorithm although test accuracy has hardly moved.",
    "cleanup": "The waves are clean and periodic now; the last bits of memorised noise are being removed.",
    "generalised": "Each neuron traces a clean periodic wave — a cosine of 2π·k·y/113 for one key frequency k. "
                   "The network computes with sines and cosines of its inputs.",
}
view.explain(
    f"Each line is one MLP neuron's activation for the sums {x} + y, with y running from 0 to {p - 1}. "
    + SAY[sel.phase] + " Drag the step slider to watch the waves form."
)
view.chart(plots.neuron_waves(waves, neurons, x, sel.step), "neuron-waves")
