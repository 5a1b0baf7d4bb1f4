"""View 5: Fourier norms of the embedding per frequency, and sparse-probe circles for x and y."""

import streamlit as st

from grok_core import plots
from ui import cache, state, view

sel = view.current()
view.header("Embeddings & probes", sel)
p = sel.cfg.p
key_final = cache.final_key_freqs(sel.series_id)

c1, c2 = st.columns([1, 4])
k = state.int_control("k", "Frequency k", 1, (p - 1) // 2, cache.display_freq(sel.series_id), container=c1,
                      help="Which wave cos/sin(2π·k·x/113) to probe for.")
c2.markdown(f"Key frequencies of the trained model: **{', '.join(map(str, key_final))}** "
            f"(k = {k} {'is' if k in key_final else 'is not'} one of them).")

emb = cache.embedding(sel.series_id, sel.step, k)
norms, probes = emb["norms"], {var: emb[var] for var in ("x", "y")}
r2 = {var: (pr[0]["r2"], pr[1]["r2"]) for var, pr in probes.items()}

SAY = {
    "memorising": "Now the bars are all about the same height and the probe points are a shapeless cloud: the "
                  "embedding has no preferred frequency yet.",
    "circuit forming": "Watch a few bars grow above the rest — the key frequencies — and the probe points pull "
                       "onto a circle as you step through this plateau.",
    "cleanup": "Only the key frequencies remain strong; everything else is being decayed away.",
    "generalised": "A handful of key frequencies dominate the embedding, and a few embedding dimensions combined "
                   "give cos and sin of 2π·k·x/113 so exactly that the probe points sit on a circle, x at angle 2π·k·x/113.",
}
view.explain(
    "The bars show how strongly the embedding matrix W_E contains each wave cos/sin(2π·k·x/113). The probes "
    f"combine at most 8 embedding dimensions to fit cos and sin of frequency {k}; plotted against each other they "
    "draw a circle if the embedding knows where x sits on it. " + SAY[sel.phase]
)
view.chart(plots.freq_norms(norms, key_final, sel.step), "embedding-frequency-norms")
fits = {var: (pc["fit"], ps["fit"]) for var, (pc, ps) in probes.items()}
view.chart(plots.probe_circles(fits, k, sel.step, r2), "probe-circles")
SHOW = {"circles": "the circles", "waves": "the circles and the probes against the true waves"}
show = state.choice_control("probes", "Show", list(SHOW), "circles", format_func=SHOW.get,
                            help="R² (in the panel titles) says how much of the true cos and sin each probe "
                                 "explains; the curves show where the fit is off.")
if show == "waves":
    view.chart(plots.probe_curves(fits, k, sel.step, r2), "probe-curves")
st.caption(" · ".join(f"Probes for {var} use embedding dimensions {pc['dims']} (cos) and {ps['dims']} (sin)"
                      for var, (pc, ps) in probes.items()))
