"""View 8: where '=' looks: attention to x (and so to y) per head over the grid."""


from grok_core import plots
from ui import cache, view

sel = view.current()
view.header("Attention", sel)
att = cache.attention(sel.series_id, sel.step)

SAY = {
    "memorising": "At this step the attention patterns are irregular.",
    "circuit forming": "Step through this plateau and watch periodic patterns appear in the attention.",
    "cleanup": "The attention patterns are periodic in x and y.",
    "generalised": "Each head's share of attention to x is a wave in x (and in y): the heads already mix in the "
                   "key frequencies before the MLP multiplies them.",
}
view.explain(
    "At the '=' position each of the 4 heads splits its attention between x, y and '='. The heatmaps show the share "
    "that goes to x, for every sum; the rest goes mostly to y. " + SAY[sel.phase]
    + f" Dominant frequency of each head's attention to x: {', '.join(map(str, att['head_freqs']))}. "
    "(A high frequency such as 51 goes round almost half a cycle from one x to the next, so it shows as fine "
    "stripes or a checkerboard rather than a smooth wave.)"
)
view.chart(plots.attention_heads(att["to_x"], sel.step), "attention-heads")
view.chart(plots.attention_vs_x(att["to_x"], sel.step), "attention-vs-x")
