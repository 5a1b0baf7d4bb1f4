"""View 1: train/test loss and accuracy over training, the phases shaded, the current step marked."""

import numpy as np
import streamlit as st

from grok_core import plots
from ui import cache, view

sel = view.current()
view.header("Training curves", sel)
m = sel.series.metrics
spans = cache.phase_spans(sel.series_id)

WHAT_NOW = {
    "memorising": "Right now the model is **memorising**: training loss (blue) falls fast while test loss (orange) "
                  "goes *up*. It is learning the training sums by heart; on the sums it never trains on it stays "
                  f"near chance (1 in {sel.cfg.p}).",
    "circuit forming": "Training accuracy is already 100% and test accuracy is still low, so it looks as if nothing "
                       "is happening. It isn't: the network is quietly building a Fourier algorithm (see *Neuron "
                       "waves* and *Progress measures*). Watch the test loss start to bend down.",
    "cleanup": "This is the cliff: test loss collapses and test accuracy shoots up. Weight decay is removing the "
               "memorised look-up table, leaving the general algorithm behind.",
    "generalised": "The model has **grokked**: it answers sums it never saw in training. Drag the step back to the "
                   "long flat stretch and ask what changed inside the network — the other views show it.",
}
view.explain(WHAT_NOW[sel.phase] + " The dashed line is the step chosen in the sidebar; shading marks the phases.")

i = int(np.searchsorted(m["step"], sel.step).clip(0, len(m["step"]) - 1))
cols = st.columns(4)
cols[0].metric("train loss", f"{m['train_loss'][i]:.3g}")
cols[1].metric("test loss", f"{m['test_loss'][i]:.3g}")
cols[2].metric("train accuracy", f"{m['train_acc'][i]:.1%}")
cols[3].metric("test accuracy", f"{m['test_acc'][i]:.1%}")

left, right = st.columns(2)
with left:
    view.chart(plots.loss_curves(m, sel.step, spans), "loss-curves")
with right:
    view.chart(plots.accuracy_curves(m, sel.step, spans), "accuracy-curves")
