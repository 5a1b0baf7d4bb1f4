"""Interventions: at the step, remove frequencies from the embedding or the logits, or zero neurons, and see
what breaks: accuracy and loss before and after, and which sums are right after each cut."""

import streamlit as st

from grok_core.plots import correctness as correctness_plots
from grok_core.views.interventions import KINDS
from ui import cache, state, view

sel = view.current()
view.header("Interventions: remove the key frequencies", sel)
p, n_freq = sel.cfg.p, sel.cfg.n_frequencies
keys = cache.final_key_freqs(sel.series_id)
names = ", ".join(map(str, keys)) or "none"

KIND_NAMES = {"embedding": "(a) embedding", "logits": "(b) logits", "neurons": "(c) MLP neurons"}
WHAT = {"default": "all keys vs one", "chosen": "chosen k", "neurons": "chosen neurons"}
c1, c2, c3 = view.columns([4, 3, 2])
kind = state.choice_control("cut", "Remove", list(KINDS), "logits", format_func=KIND_NAMES.get, container=c1,
                            help="(a) projects the number rows of W_E off cos/sin(2πkx/p); (b) removes each answer's "
                                 "cos/sin(w_k(x+y)) part of the logits, as the excluded loss does; (c) zeroes the MLP "
                                 "neurons whose activation is mostly frequency k (its cluster).")
whats = list(WHAT) if kind == "neurons" else ["default", "chosen"]  # neurons by number: only for (c)
what = state.choice_control("remove", "Which", whats, "default", format_func=WHAT.get, container=c2)
ks: list[int] = []
neurons: list[int] = []
if what == "chosen":
    ks = state.int_list_control("k", "Frequencies k", 1, n_freq, keys[-1:] or [1], max_len=n_freq, container=c3,
                                help=f"Frequencies 1–{n_freq}, separated by commas"
                                     + (": their clusters of neurons are zeroed." if kind == "neurons" else "."))
elif what == "neurons":
    d_mlp = sel.cfg.d_mlp
    neurons = state.int_list_control("neurons", "Neurons", 0, d_mlp - 1, cache.showcase_neurons(sel.series_id, 7),
                                     max_len=d_mlp, container=c3, help=f"Neuron numbers 0–{d_mlp - 1}, separated "
                                                                       "by commas.")
if not keys and what == "default":
    st.warning("This run has no key frequencies to remove; choose frequencies instead.", icon=":material/info:")
    view.done()
    st.stop()

with st.spinner("Cutting and scoring every sum…"):
    r = cache.interventions(sel.series_id, sel.step, kind, tuple(ks), tuple(neurons))
before = r.before

intro = {
    "embedding": f"The number rows of the embedding W_E lose their cos and sin of 2π·k·x/{p} for the chosen k, and the "
                 "whole model runs again on all sums.",
    "logits": "Every answer's logit loses its cos(w_k(x + y)) and sin(w_k(x + y)) parts over all sums: the cut of the "
              "paper's excluded loss.",
    "neurons": "The chosen MLP neurons are switched off." if neurons else
               "The MLP neurons that mostly carry frequency k (its cluster, read at this step) are switched off.",
}[kind]
lines = []
for cut in r.cuts:
    a = cut.result.after
    fate = ("the answer is gone" if cut.broke else "the answer survives" if cut.survived else "part of the answer is lost")
    lines.append(f"removing {cut.result.label} takes test accuracy from {before.test_acc:.0%} to {a.test_acc:.0%} "
                 f"(train {before.train_acc:.0%} → {a.train_acc:.0%}): {fate}")
said = "; ".join(lines) + "." if lines else "Nothing to remove at this step (no neuron clusters on these frequencies)."
if not r.generalised:
    said += (f" At this step the model answers only {before.test_acc:.0%} of the unseen sums, so there is little to "
             "break there yet; step to the end of training to see the algorithm depend on the key frequencies.")
elif not r.chosen and len(r.cuts) > 1 and r.cuts[0].broke and r.cuts[-1].survived:
    said += " The answer lives in the key frequencies together: each one alone is redundant, all of them are not."
view.explain(f"Key frequencies of this run: **{names}**. {intro} " + said[0].upper() + said[1:])

results = [c.result for c in r.cuts]
left, right = view.columns(2)
with left:
    view.chart(correctness_plots.intervention_bars(results, sel.step, "acc"), "intervention-accuracy")
with right:
    view.chart(correctness_plots.intervention_bars(results, sel.step, "loss"), "intervention-loss")
if r.cuts:
    labels = {str(i): f"after removing {c.result.label}" for i, c in enumerate(r.cuts)}
    shown = state.choice_control("map", "Map", list(labels), str(len(r.cuts) - 1 if r.chosen else 0),
                                 format_func=labels.get, widget="radio",
                                 help="Which cut's map to show beside the map before any cut.")
    cut = r.cuts[int(shown)]
left, right = view.columns(2)
with left:
    view.chart(correctness_plots.correctness_map(before, "Before", height=460), "correctness-before")
if r.cuts:
    with right:
        view.chart(correctness_plots.correctness_map(cut.cmap, "After", height=460), "correctness-after")
st.caption("Accuracy and loss over all sums of the grid, train and test apart; loss is the mean cross-entropy in "
           "float64. Hover a cell of a map for the model's answer.")
view.done()
