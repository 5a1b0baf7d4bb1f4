"""View 8: where '=' looks: attention to x (and so to y) per head over the grid."""

from grok_core import plots
from grok_core.phases import Phase
from ui import cache, state, view

sel = view.current()
view.header("Attention", sel)
p = sel.cfg.p
att = cache.attention_reading(sel.series_id, sel.step)
freqs = att.head_freqs
ORDERS = {"frequency": f"k·x mod {p} (each head's frequency k)", "value": "x itself"}
order = state.choice_control("order", "Order x and y by", list(ORDERS), "frequency", format_func=ORDERS.get,
                             help="A wave of a high frequency such as 51 goes round almost half a cycle from one x "
                                  "to the next, so in x order it shows as fine stripes or a checkerboard. Ordered "
                                  f"by k·x mod {p}, the same wave is one smooth wave.")

share = att.mean_share
say = view.say(
    att.level,
    f"The attention is still mostly irregular: each head's dominant frequency carries only {share:.0%} of its "
    "pattern's variation on average (each head's k and share are in its panel title; 100% would be a pure wave)."
    + {Phase.CIRCUIT_FORMING: " Yet each head's frequency is already fixed: step through this plateau and watch that "
                          "share grow."}.get(sel.phase, ""),
    f"Periodic patterns are emerging: each head's dominant frequency carries {share:.0%} of its pattern's variation "
    "on average (panel titles).",
    f"Each head's share of attention to x is a wave in x (and in y), {share:.0%} one frequency on average: the heads "
    "already mix in the key frequencies before the MLP multiplies them.",
)
view.explain(
    f"At the '=' position each of the {sel.cfg.n_heads} heads splits its attention between x, y and '='. The "
    "heatmaps show the share that goes to x, for every sum; the rest goes mostly to y. " + say
    + (f" Here x and y are ordered by k·x mod {p} for each head's own k, so a wave of frequency k is drawn as one "
       "smooth wave." if order == "frequency" else "")
)
orders = att.orders(p) if order == "frequency" else None
view.chart(plots.attention_heads(att.to_x, sel.step, freqs, orders, shares=att.head_shares),
           "attention-heads")
view.chart(plots.attention_vs_x(att.to_x, sel.step, freqs, orders), "attention-vs-x")
view.done()
