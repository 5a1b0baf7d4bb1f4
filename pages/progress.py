"""View 9: progress measures over all checkpoints (restricted/excluded loss, weights, Gini), current step marked."""

import streamlit as st

from grok_core import plots
from grok_core.plots import compare as compare_plots
from grok_core.views.compare import omnigrok_at
from grok_core.views.progress import Stage, progress_at
from ui import cache, view

sel = view.current()
view.header("Progress measures", sel)
prog = cache.progress(sel.series_id, len(sel.steps))
spans = cache.phase_spans(sel.series_id)

view.explain(
    "Restricted loss (Nanda et al.) keeps only the key-frequency parts of the logits, each answer's cos and sin of "
    "w_k(x + y), plus each answer's mean, on all sums; excluded loss removes those parts, on the training sums. "
    "Excluded loss **rising** while test loss is still flat is the hidden progress: the network increasingly relies "
    "on the Fourier algorithm long before test accuracy shows it. Weight decay shrinks the weights (sum of squares) "
    "and the embedding concentrates on the key frequencies: their share of it climbs all through the plateau."
)
at = progress_at(prog, sel.step)
now = (f"At step {sel.step:,}: restricted loss {at.restricted_loss:.3g}, excluded loss {at.excluded_loss:.3g}, "
       f"test loss {at.test_loss:.3g}. ")
now += {
    Stage.HIDDEN: "The key-frequency part of the output alone would already answer the unseen sums; in the whole "
                  "model the memorised rest still drowns it.",
    Stage.TAKEN_OVER: "The algorithm has taken over: without the key frequencies the model fails even on its "
                      "training sums.",
    Stage.NOT_YET: "The key frequencies alone do not answer the sums yet.",
}[at.stage]
if at.rise_worth_telling:
    now += (f" Since step {at.low_step:,} the excluded loss has risen {at.rise:,.0f}-fold: the training sums "
            "need the key frequencies more and more.")
st.markdown(now)
view.chart(plots.progress_losses(prog, sel.series.metrics, sel.step, spans), "progress-losses")
view.chart(plots.progress_panels(prog, sel.step, spans), "progress-panels")
# Omnigrok's view (Liu et al. 2023): the same run's losses against its weight norm.
w = omnigrok_at(prog, sel.step)
st.markdown(
    f"**Loss against weight norm.** Omnigrok plots the losses against the sum of squared weights: with weight decay "
    f"the run moves to smaller weights as it generalises. Here the sum of squares is {w.now:,.0f} at step "
    f"{sel.step:,}, {w.ratio_to_peak:.0%} of its largest so far, {w.peak:,.0f} at step {w.peak_step:,}"
    + (", and it is falling with the test loss." if w.shrinking else ".")
)
view.chart(compare_plots.loss_vs_weight_norm([("this run", prog, sel.step)]), "loss-vs-weight-norm")
view.done()
