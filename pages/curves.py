"""View 1: train/test loss and accuracy over training, the phases shaded, the current step marked."""


from grok_core import plots
from grok_core.phases import Phase
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
view.done()
