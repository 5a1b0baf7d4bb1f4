"""View 5: Fourier norms of the embedding per frequency, and sparse-probe circles for x and y."""

import streamlit as st

from grok_core import plots
from grok_core.views.embeddings import key_share
from ui import cache, state, view

sel = view.current()
view.header("Embeddings & probes", sel)
p = sel.cfg.p
key_final = cache.final_key_freqs(sel.series_id)

c1, c2 = view.columns([1, 4])
k = state.int_control("k", "Frequency k", 1, sel.cfg.n_frequencies, cache.display_freq(sel.series_id), container=c1,
                      help=f"Which wave cos/sin(2π·k·x/{p}) to probe for.")
c2.markdown(f"Key frequencies of the trained model: **{', '.join(map(str, key_final))}** "
            f"(k = {k} {'is' if k in key_final else 'is not'} one of them).")

emb = cache.embedding(sel.series_id, sel.step, k)
ks = key_share(emb, key_final)
share, fair, r2_mean = ks.share, ks.fair, emb.r2_mean
say = view.say(
    ks.level,
    f"The bars are all about the same height: the {len(key_final)} key frequencies hold {share:.0%} of the "
    f"embedding's strength, about their fair share of {fair:.0%}.",
    f"A few bars are growing above the rest: the key frequencies hold {share:.0%} of the embedding's strength (their "
    f"fair share would be {fair:.0%}); weight decay is shrinking the others.",
    f"A handful of key frequencies dominate: they hold {share:.0%} of the embedding's strength.",
)
if k not in key_final:
    say += f" Frequency {k} is not a key frequency of this run, so its probes need not find a circle."
else:
    say += (" The probe points sit on the circle: a few embedding dimensions give cos and sin of x so exactly "
            f"that x sits at angle 2π·{k}·x/{p}." if r2_mean > 0.9 else
            f" The probes explain {r2_mean:.0%} of the true cos and sin on average (R², panel titles): "
            + ("the points are pulling onto a circle." if r2_mean > 0.5 else "the points are still a cloud."))
view.explain(
    f"The bars show how strongly the embedding matrix W_E contains each wave cos/sin(2π·k·x/{p}). The probes "
    f"combine at most 8 embedding dimensions to fit cos and sin of frequency {k}; plotted against each other they "
    "draw a circle if the embedding knows where x sits on it. " + say
)
view.chart(plots.freq_norms(emb.norms, key_final, sel.step), "embedding-frequency-norms")
view.chart(plots.probe_circles(emb.fits, k, sel.step, emb.r2), "probe-circles")
SHOW = {"circles": "the circles", "waves": "the circles and the probes against the true waves"}
show = state.choice_control("probes", "Show", list(SHOW), "circles", format_func=SHOW.get,
                            help="R² (in the panel titles) says how much of the true cos and sin each probe "
                                 "explains; the curves show where the fit is off.")
if show == "waves":
    view.chart(plots.probe_curves(emb.fits, k, sel.step, emb.r2), "probe-curves")
st.caption(" · ".join(f"Probes for {var} use embedding dimensions {list(pc.dims)} (cos) and {list(ps.dims)} (sin)"
                      for var, (pc, ps) in emb.probes.items()))
view.done()
