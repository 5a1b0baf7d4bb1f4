"""Compare two runs: both at the same step or the same phase, their curves on one chart, their key frequencies,
embedding circles and one more view each. Deep link: /compare?a=<series>&b=<series>&step=N."""

import streamlit as st

from grok_core import plots
from grok_core.plots import compare as compare_plots
from grok_core.views.compare import MODES, SHOWN_VIEWS
from ui import cache, state, view

# ?a= names run A, which is the sidebar's series: read it as ?series= before the frame draws the picker.
if "series" not in st.session_state and (a_url := st.query_params.get("a")) and "series" not in st.query_params:
    st.query_params["series"] = a_url
sel = view.current()
view.header("Compare two runs", sel)

# Run B: any series that opens without the network (the bundled ones, Hub runs already fetched, runs trained here).
offline = [c for c in cache.catalog()[0] if c.offline]
ids = [c.id for c in offline]
titles = {c.id: c.title for c in offline}
others = [i for i in ids if i != sel.series_id]
default_b = "no-weight-decay" if "no-weight-decay" in others else (others[0] if others else sel.series_id)
c1, c2, c3 = view.columns([3, 2, 2])
c1.markdown(f"**Run A** (the series in the sidebar): {titles.get(sel.series_id, sel.series.title)}")
b_id = state.choice_control("b", "Run B", ids, default_b, format_func=lambda i: titles.get(i, i), widget="select",
                            container=c1, help="Any series that opens without the network: the bundled runs, runs "
                                               "from the Hub once opened in the sidebar, and runs trained here.")
MODE_NAMES = {"step": "same step", "phase": "same phase"}
mode = state.choice_control("align", "Align at", list(MODES), "step", format_func=MODE_NAMES.get, container=c2,
                            help="Same phase: run B is shown at the same fraction of the same phase of training as run "
                                 "A (halfway through its plateau, say), so runs that grok at different times line up.")
VIEW_NAMES = {"crests": "logit crests", "grid": "neuron scatter grid"}
shown_view = state.choice_control("view", "Also show", list(SHOWN_VIEWS), "crests", format_func=VIEW_NAMES.get,
                                  container=c3)
state.shown("a", sel.series_id)
st.session_state["_url_params_this_run"].pop("series", None)  # run A goes in the link as ?a=

try:
    b_series = cache.series(b_id)
except Exception as e:  # a damaged or vanished run: say so, and compare A with itself
    st.error(f"Could not open run B, “{titles.get(b_id, b_id)}”: {e}. Showing run A against itself.",
             icon=":material/error:")
    b_id = sel.series_id
reading = cache.comparison(sel.series_id, b_id, sel.step, mode)
cmp, A, B = reading.comparison, reading.a, reading.b

text = " ".join(reading.sentences)
if reading.identical:
    text += " Both sides are the same run at the same checkpoint: pick another run B, or align by phase."
view.explain(text)

runs = [(A.name, sel.series.metrics, A.step), (B.name, cache.series(b_id).metrics, B.step)]
left, right = view.columns(2)
with left:
    view.chart(compare_plots.compare_curves(runs, "loss"), "compare-loss")
with right:
    view.chart(compare_plots.compare_curves(runs, "acc"), "compare-accuracy")

sides = ((A, cmp.a, sel.series_id), (B, cmp.b, b_id))
embs = [cache.embedding(sid, r.step, side.k) for side, r, sid in sides]
for col, (side, r, _), emb in zip(view.columns(2), sides, embs):
    with col:
        st.markdown(f"#### {side.name} · {side.title}")
        keys = ", ".join(map(str, r.key_freqs)) or "none"
        st.markdown(f"Step **{r.step:,}** · {r.phase} · train {r.train_acc:.0%}, test {r.test_acc:.0%} right · key "
                    f"frequencies **{keys}** ({r.key_share:.0%} of the embedding here)")
        view.chart(plots.freq_norms(emb.norms, list(r.key_freqs), r.step, title=f"{side.name}: W_E per frequency"),
                   f"compare-norms-{side.name[-1]}")
for (side, r, _), emb in zip(sides, embs):  # full width: each figure has an x and a y panel
    fig = plots.probe_circles(emb.fits, side.k, r.step, emb.r2)
    fig.to_dict()["layout"]["title"]["text"] = f"{side.name}: " + fig.title  # which run, as the other figures say
    view.chart(fig, f"compare-circles-{side.name[-1]}", alt=f"{side.name}: probe circles")
for col, (side, r, sid) in zip(view.columns(2), sides):
    with col:
        if shown_view == "crests":
            c = 7 % cache.series(sid).model_cfg.p
            crest = cache.crest(sid, r.step, "logit", c)
            view.chart(plots.surface_heatmap(crest.surface, f"{side.name}: logit of answer {c}", r.step,
                                             colorbar="value", lines_c=crest.c, height=400),
                       f"compare-crest-{side.name[-1]}")
            st.caption(f"{crest.diagonal_fraction:.0%} of this surface's variance depends on x + y alone.")
        else:
            neurons = cache.showcase_neurons(sid, 5)
            acts = cache.x_slice(sid, r.step, 0)[cache.HOOK_POST][:, neurons].T  # [n, p]
            st.markdown(f"**{side.name}: neurons {', '.join(map(str, neurons))} against each other over y (x = 0)**")
            view.chart(plots.scatter_grid(acts, neurons, 0, r.step, webgl=True), f"compare-grid-{side.name[-1]}")
st.caption("Each run's circles use its own lowest key frequency (its strongest, when it has none); the key "
           "frequencies are read off each run's last checkpoint, as in the paper.")
view.done()
