"""View 9: progress measures over all checkpoints (restricted/excluded loss, weights, Gini), current step marked."""


from grok_core import plots
from ui import cache, view

sel = view.current()
view.header("Progress measures", sel)
prog = cache.progress(sel.series_id, len(sel.steps))
spans = cache.phase_spans(sel.series_id)

view.explain(
    "Restricted loss keeps only the key-frequency parts of the model's output; excluded loss removes them. "
    "Excluded loss **rising** while test loss is still flat is the hidden progress: the network increasingly relies "
    "on the Fourier algorithm long before test accuracy shows it. Weight decay shrinks the weights (sum of squares) "
    "and the embedding concentrates on fewer frequencies (Gini coefficient rising)."
)
view.chart(plots.progress_losses(prog, sel.series.metrics, sel.step, spans), "progress-losses")
view.chart(plots.progress_panels(prog, sel.step, spans), "progress-panels")
