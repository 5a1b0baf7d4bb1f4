"""View 1: train/test loss and accuracy over training, the phases shaded, the current step marked."""

import streamlit as st

from grok_core import plots
from grok_core.phases import Phase
from grok_core.plots import correctness as correctness_plots
from grok_core.views.curves import curves_at
from ui import cache, view

sel = view.current()
view.header("Training curves", sel)
m = sel.series.metrics
spans = cache.phase_spans(sel.series_id)

WHAT_NOW = {
    Phase.MEMORISING: "Right now the model is **memorising**: training loss (blue) falls fast while test loss (orange) "
                  "goes *up*. It is learning the training sums by heart; on the sums it never trains on it stays "
                  f"near chance (1 in {sel.cfg.p}).",
    Phase.CIRCUIT_FORMING: "Training accuracy is already 100% and test accuracy is still low, so it looks as if nothing "
                       "is happening. It isn't: the network is quietly building a Fourier algorithm (see *Neuron "
                       "waves* and *Progress measures*). Watch the test loss start to bend down.",
    Phase.CLEANUP: "This is the cliff: test loss collapses and test accuracy shoots up. Weight decay is removing the "
               "memorised look-up table, leaving the general algorithm behind.",
    Phase.GENERALISED: "The model has **grokked**: it answers sums it never saw in training. Drag the step back to the "
                   "long flat stretch and ask what changed inside the network — the other views show it.",
}
now = curves_at(m, spans, sel.step)
view.explain(WHAT_NOW[now.phase] + " The dashed line is the step chosen with the slider; shading marks the phases.")

cols = view.columns(4, keep=True)  # a row of four numbers fits a frame
cols[0].metric("train loss", f"{now.train_loss:.3g}")
cols[1].metric("test loss", f"{now.test_loss:.3g}")
cols[2].metric("train accuracy", f"{now.train_acc:.1%}")
cols[3].metric("test accuracy", f"{now.test_acc:.1%}")

left, right = view.columns(2)
with left:
    view.chart(plots.loss_curves(m, sel.step, spans), "loss-curves")
with right:
    view.chart(plots.accuracy_curves(m, sel.step, spans), "accuracy-curves")
# The correctness map: every sum of the grid at this step, right or wrong, train or test.
cm = cache.correctness(sel.series_id, sel.step)
counts = cm.cmap.counts
said = view.say(
    cm.level,
    f"The model gets {cm.cmap.train_acc:.0%} of its training sums right (blue) but only {cm.cmap.test_acc:.0%} of the "
    f"others (orange; chance is 1 in {sel.cfg.p}): "
    + ("it has memorised a look-up table." if cm.memorised else "it is still learning even the training sums."),
    f"The test cells are filling in: {counts['test, right']:,} of the {counts['test, right'] + counts['test, wrong']:,} "
    f"unseen sums are right ({cm.cmap.test_acc:.0%}), the rest still wrong.",
    f"Almost every cell is right: {cm.cmap.test_acc:.1%} of the unseen sums and {cm.cmap.train_acc:.1%} of the "
    "training sums. The model computes the sum instead of looking it up.",
)
m1, m2 = view.columns([2, 3])
with m1:
    st.markdown("#### Which sums are right")
    st.markdown(f"Each cell is one sum x + y (x across, y up), coloured by train or test and, dark or pale, by right "
                f"or wrong at step {sel.step:,}. Memorisation is right on the training cells only; grokking fills in "
                f"the test cells. {said}")
with m2:
    view.chart(correctness_plots.correctness_map(cm.cmap, height=460), "correctness-map")
view.done()
