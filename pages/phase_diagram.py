"""Phase diagram: when does grokking happen, as a function of the amount of data and of weight decay?"""

from pathlib import Path

import streamlit as st

from grok_core import plots, sweep_plots
from grok_core.sweep import SweepError, load_sweep
from grok_core.views import phase_diagram as pd
from ui import cache, state, view
from ui.safe import plain

SWEEPS = Path(__file__).resolve().parents[1] / "checkpoints" / "sweeps"
CHART_KEY = "phase-diagram-chart"

sel = view.current()
st.title("Phase diagram: when does it grok?")

files = sorted(SWEEPS.glob("*.json"))
sweeps, problems = {}, []
for f in files:
    try:
        sweeps[f.stem] = load_sweep(f)
    except SweepError as e:
        problems.append(str(e))
for msg in problems:
    st.warning(plain(f"Skipped a sweep file: {msg}", 400), icon=":material/warning:")
if not sweeps:
    st.error(f"No sweep results found in {SWEEPS}. Run `python -m grok_core sweep checkpoints/sweeps/NAME.json`.")
    view.done()
    st.stop()

names = pd.sweep_order(sweeps)
if len(names) > 1:
    name = state.choice_control("sweep", "Sweep", names, names[0], format_func=lambda n: sweeps[n].title,
                                widget="selectbox")
else:
    name = names[0]
sw = sweeps[name]
prov = sw.record["provenance"]
st.caption(plain(sw.title, 120) + f" · {len(sw.runs)} runs of p = {sw.model_cfg.p}, {sw.train_cfg.n_steps:,} steps each · "
           f"trained on {prov.get('device')}" + (f" ({prov['gpu']})" if prov.get("gpu") else ""))
if prov.get("note"):
    st.caption(plain(prov["note"], 400))

view.explain(
    "Each square is a training run (or several seeds) with a given amount of training data and weight decay. "
    "Blue squares grok: they memorise their training sums first and generalise later, and the darker the blue, "
    "the longer the wait. With less data or less weight decay the wait grows, or generalisation never comes "
    "(orange): weight decay is what slowly pushes the network from memorising towards the cheaper Fourier "
    "algorithm. Too much weight decay and the network cannot even fit its training data (grey). "
    "Click a square to see its runs beside the bundled default run."
)

cells = pd.cells(sw)
ids = [c.id for c in cells]
labels = {c.id: c.label for c in cells}
default_id = pd.default_cell(cells)

# A click on the diagram (the chart's selection, from the previous run) picks the cell. Only a new click
# counts, so a choice made in the box is not overridden by an old click.
selection = st.session_state.get(CHART_KEY)
sig = sweep_plots.selection_signature(selection)
if sig != st.session_state.get("_phase_pick_sig"):
    st.session_state["_phase_pick_sig"] = sig
    picked = sweep_plots.selected_cell(selection, sw)
    if picked is not None:
        st.session_state["cell"] = picked

left, right = view.columns([3, 2])
with right:
    cid = state.choice_control("cell", "Cell", ids, default_id, format_func=labels.get, widget="selectbox",
                               help="Or click a square in the diagram.")
    kind = state.choice_control("curves", "Curves", ["accuracy", "loss"], "accuracy")
    st.dataframe(pd.run_rows(sw, cells[ids.index(cid)]), hide_index=True)
with left:
    st.plotly_chart(sweep_plots.phase_diagram(sw, selected=cid), config=plots.png_config("phase-diagram"),
                    key=CHART_KEY, on_select="rerun", selection_mode="points",
                    alt="Phase diagram of grokking delay over train fraction and weight decay")

c1, c2 = view.columns(2)
with c1:
    view.chart(sweep_plots.cell_curves(sw, cid, kind), "sweep-cell-curves", key="chart-sweep-cell")
with c2:
    choices, _ = cache.catalog()
    default_id_series = choices[0].id if choices else sel.series_id
    try:
        default = cache.series(default_id_series)
    except Exception:  # the default series is bundled; fall back to what is selected
        default = sel.series
    view.chart(sweep_plots.default_curves(default.metrics, f"Bundled default run: {default.title}", kind),
               "default-curves", key="chart-sweep-default")
st.caption(f"Memorised: train accuracy first ≥ 99% (dotted lines); generalised: test accuracy first ≥ 99% (dashed). "
           f"“No delay” means generalising within {sw.no_delay_steps:,} steps of memorising. Command: "
           f"`{prov.get('command')}`")
view.done()
