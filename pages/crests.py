"""View 7: surfaces that depend only on x + y have diagonal crests where x + y ≡ c (mod p)."""

import streamlit as st

from grok_core import plots
from grok_core.phases import Phase
from grok_core.views.crests import SOURCES as SOURCE_IDS
from ui import cache, state, view

sel = view.current()
view.header("Crests: where x + y ≡ c", sel)
p, d_mlp = sel.cfg.p, sel.cfg.d_mlp
SOURCES = dict(zip(SOURCE_IDS, ("the logit of answer c", "MLP output towards answer c", "one MLP neuron"), strict=True))

c1, c2, c3 = view.columns([3, 1, 1])
source = state.choice_control("source", "Surface", list(SOURCES), "logit", format_func=SOURCES.get, container=c1)
if source == "neuron":
    which = state.int_control("neuron", "Neuron", 0, d_mlp - 1, cache.showcase_neurons(sel.series_id, 7)[0],
                              container=c2)
else:
    which = state.int_control("c", "Answer c", 0, p - 1, 7, container=c2)
crest = cache.crest(sel.series_id, sel.step, source, which)
c, frac = crest.c, crest.diagonal_fraction

say = view.say(
    crest.level,
    "There are no clean diagonals yet: most of the surface is memorised noise."
    + {Phase.CIRCUIT_FORMING: " Step through this plateau and watch the share that depends on x + y grow as the Fourier "
                          "circuit forms."}.get(sel.phase, ""),
    "Diagonal stripes are emerging from the noise: part of the surface now depends on x + y alone, the rest is "
    "memorised noise that weight decay is removing.",
    f"The surface is a set of diagonal stripes: its value depends almost only on x + y, and it peaks on the lines "
    f"where x + y ≡ c (mod {p}).",
)
if source == "neuron":
    say = ("A single neuron is mostly a product of waves in x and in y, so it is not yet a function of x + y: the "
           "diagonals appear once the MLP output adds neurons up (pick the MLP output or the logit above).")
what = f"answer {which}" if source != "neuron" else f"neuron #{which}"
view.explain(
    f"The surface for {what}, over all sums. Points on a line x + y = constant are sums with the same answer. "
    + say
    + (" Detected crest" if crest.is_crest else " Strongest diagonal (not a crest yet)")
    + f": **x + y ≡ {c} (mod {p})**; {frac:.0%} of the surface's variance is a function of "
      f"(x + y) mod {p}."
)
title = {"logit": f"Logit of answer {which}", "mlp_out": f"MLP output projected on answer {which}",
         "neuron": f"Neuron #{which}"}[source]
left, right = view.columns([3, 2])
with left:
    view.chart(plots.surface_heatmap(crest.surface, title, sel.step, colorbar="value", lines_c=c), "crest-surface")
with right:
    view.chart(plots.diagonal_profile(crest.surface, c, sel.step, "Diagonal means"),
               "crest-profile")
    line1, line2 = ([f"({a}, {b})" for a, b in line] for line in crest.shown_points())
    st.markdown(f"**Points on the crest** (x + y = {c}): " + ", ".join(line1))
    if line2:
        st.markdown(f"**and** (x + y = {c + p}, which is ≡ {c} mod {p}): " + ", ".join(line2))
view.done()
