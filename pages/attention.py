"""View 8: where '=' looks: attention to x (and so to y) per head over the grid."""

from grok_core import plots
from grok_core.analysis.attention import frequency_order
from ui import cache, state, view

sel = view.current()
view.header("Attention", sel)
p = sel.cfg.p
att = cache.attention(sel.series_id, sel.step)
freqs = att["head_freqs"]
ORDERS = {"frequency": "k·x mod 113 (each head's frequency k)", "value": "x itself"}
order = state.choice_control("order", "Order x and y by", list(ORDERS), "frequency", format_func=ORDERS.get,
                             help="A wave of a high frequency such as 51 goes round almost half a cycle from one x "
                                  "to the next, so in x order it shows as fine stripes or a checkerboard. Ordered "
                                  "by k·x mod 113, the same wave is one smooth wave.")

SAY = {
    "memorising": "At this step the attention patterns are irregular, in any order.",
    "circuit forming": "Step through this plateau and watch periodic patterns appear in the attention.",
    "cleanup": "The attention patterns are periodic in x and y.",
    "generalised": "Each head's share of attention to x is a wave in x (and in y): the heads already mix in the "
                   "key frequencies before the MLP multiplies them.",
}
view.explain(
    "At the '=' position each of the 4 heads splits its attention between x, y and '='. The heatmaps show the share "
    "that goes to x, for every sum; the rest goes mostly to y. " + SAY[sel.phase]
    + f" Dominant frequency of each head's attention to x at this step: {', '.join(map(str, freqs))}."
    + (" Here x and y are ordered by k·x mod 113 for each head's own k, so a wave of frequency k is drawn as one "
       "smooth wave." if order == "frequency" else "")
)
orders = [frequency_order(k, p) for k in freqs] if order == "frequency" else None
view.chart(plots.attention_heads(att["to_x"], sel.step, freqs, orders), "attention-heads")
view.chart(plots.attention_vs_x(att["to_x"], sel.step, freqs, orders), "attention-vs-x")
