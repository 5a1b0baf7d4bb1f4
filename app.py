"""Grokking Explorer: drag through the training of a transformer learning (x + y) mod 113.

This file holds the navigation, the shared sidebar (series, step, play) and the URL sync; each
view is a short file in pages/. Widgets made here persist across pages. Run: streamlit run app.py
"""

from __future__ import annotations

import os

# Before torch loads: OpenMP threads that spin-wait between operations take the CPU the browser needs to
# draw (on two cores the app's per-step time fell from ~100-150 ms to ~25-35 ms; benchmarks/bench_app.py).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import json  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import streamlit as st  # noqa: E402

from grok_core import plots  # noqa: E402
from grok_core.hub import SourceError  # noqa: E402
from grok_core.series import SeriesError  # noqa: E402
from ui import cache, state, view  # noqa: E402

T0, T0_WALL = time.perf_counter(), time.time()
view.leave_legacy_pages_mode()  # before any widget: see ui/view.py
st.set_page_config(page_title="Grokking Explorer", page_icon=":material/blur_on:", layout="wide")

PLAY_INTERVAL_S = 0.2  # while playing, one checkpoint at most this often
PHASE_BADGE = {"memorising": "orange", "circuit forming": "blue", "cleanup": "violet", "generalised": "green"}

# The views, grouped as the sidebar shows them. To add one, add an st.Page to a section. A page's URL path is
# its file name (pages/waves.py -> /waves): keep it so, and call ui.view.current() first in the page, because on
# a server's first run Streamlit's legacy pages/ mode runs the page file without this script (see view.current).
CURVES = st.Page("pages/curves.py", title="Training curves", icon=":material/show_chart:", default=True,
                 url_path="training-curves")
PAGES = {
    "The story": [
        CURVES,
        st.Page("pages/inputs.py", title="Inputs", icon=":material/input:"),
        st.Page("pages/waves.py", title="Neuron waves", icon=":material/waves:"),
        st.Page("pages/grid.py", title="Neuron scatter grid", icon=":material/grid_on:"),
        st.Page("pages/embeddings.py", title="Embeddings & probes", icon=":material/donut_large:"),
        st.Page("pages/surfaces.py", title="Surfaces & spectra", icon=":material/landscape:"),
        st.Page("pages/crests.py", title="Crests: x + y ≡ c", icon=":material/stacked_line_chart:"),
        st.Page("pages/attention.py", title="Attention", icon=":material/visibility:"),
        st.Page("pages/progress.py", title="Progress measures", icon=":material/trending_up:"),
    ],
    "More": [
        st.Page("pages/about.py", title="About", icon=":material/info:"),
        st.Page("pages/train.py", title="Train & publish", icon=":material/model_training:"),
        st.Page("pages/phase_diagram.py", title="Phase diagram", icon=":material/grid_view:"),
        # The default page lives at the app's root URL; /curves (the file's name, like every other page) leads
        # there, with its query parameters (see below).
        st.Page("pages/curves.py", title="Training curves", icon=":material/show_chart:", url_path="curves",
                visibility="hidden"),
    ],
}

state.begin_run()
cache.RUN_STATS.clear()


# -- series -------------------------------------------------------------------------------------
choices, manifest_errors = cache.catalog()
ids = [c.id for c in choices]
titles = {c.id: c.title + ("" if c.offline else f" (download{f' {c.size_mb:.0f} MB' if c.size_mb else ''})")
          for c in choices}
if "_series_fallback" in st.session_state:  # the series chosen last run could not be opened
    st.session_state["series"] = st.session_state.pop("_series_fallback")
state.seed("series", ids[0], str, state.one_of(ids, ids[0]), "series", fmt=lambda i: f"“{titles[i]}”")


def _on_series_change() -> None:
    st.session_state.playing = False
    st.session_state.pop("_play_to", None)


with st.sidebar:
    st.markdown("### Grokking Explorer")
    series_id = st.selectbox("Series", ids, format_func=titles.get, key="series", on_change=_on_series_change,
                             help="Which training run to explore. Runs from the Hugging Face Hub download once.")


def _fall_back(why: str) -> None:
    """Say why the chosen series cannot be shown, and go back to the bundled one."""
    msg = f"Could not open “{titles.get(series_id, series_id)}”: {why}"
    if series_id == ids[0]:  # the default itself: nothing to fall back to
        st.error(msg, icon=":material/error:")
        st.stop()
    st.session_state["_series_error"] = msg
    st.session_state["_series_fallback"] = ids[0]
    st.rerun()


c = cache.choice(series_id)
if c is not None and not c.offline:
    bar = st.progress(0.0, text=f"Fetching {c.title}…")
    try:
        cache.open_choice(c, progress=lambda done, total, msg: bar.progress(min(1.0, done / total) if total else 0.0,
                                                                            text=msg))
        cache.catalog.clear()
    except SourceError as e:
        _fall_back(str(e))
    bar.empty()
try:
    series = cache.series(series_id)
except (SourceError, SeriesError, OSError) as e:
    _fall_back(str(e))
if msg := st.session_state.pop("_series_error", None):
    st.error(msg, icon=":material/cloud_off:")
state.shown("series", series_id)

# -- step ---------------------------------------------------------------------------------------
steps = [int(s) for s in series.steps]
if "_play_to" in st.session_state:  # set by the previous run while playing (before the slider exists)
    st.session_state["step"] = st.session_state.pop("_play_to")
state.seed("step", steps[-1], state.parse_int, state.nearest_of(steps), "step", fmt=lambda s: f"checkpoint {s:,}")


def _stop_playing() -> None:
    st.session_state.playing = False
    st.session_state.pop("_play_to", None)


def _shift(delta: int, steps: list[int]) -> None:
    _stop_playing()
    i = int(np.searchsorted(steps, st.session_state.step))
    st.session_state.step = steps[int(np.clip(i + delta, 0, len(steps) - 1))]


def _toggle_play(steps: list[int]) -> None:
    playing = not st.session_state.get("playing", False)
    _stop_playing()
    st.session_state.playing = playing
    if playing and st.session_state.step == steps[-1]:
        st.session_state.step = steps[0]  # play from the start when at the end


with st.sidebar:
    step = st.select_slider("Training step", steps, key="step", format_func=lambda s: f"{s:,}", on_change=_stop_playing,
                            help="The checkpoints saved during training. Use ← → on the slider, or the buttons.")
    b1, b2, b3 = st.columns(3)
    playing = st.session_state.get("playing", False)
    b1.button("", icon=":material/skip_previous:", key="prev", on_click=_shift, args=(-1, steps), help="Previous checkpoint",
              width="stretch", disabled=step == steps[0])
    b2.button("", icon=":material/pause:" if playing else ":material/play_arrow:", key="play", on_click=_toggle_play,
              args=(steps,), help="Pause" if playing else "Play through training", width="stretch",
              type="primary" if playing else "secondary")
    b3.button("", icon=":material/skip_next:", key="next", on_click=_shift, args=(1, steps), help="Next checkpoint",
              width="stretch", disabled=step == steps[-1])
    spans = cache.phase_spans(series_id)
    phase = plots.phase_at(spans, step)
    st.badge(phase, color=PHASE_BADGE.get(phase, "gray"), icon=":material/flag:",
             help="Phase of training at this step, read off the loss and accuracy curves (see About).")
    st.caption(f"Checkpoint {steps.index(step) + 1} of {len(steps)} · steps {steps[0]:,}–{steps[-1]:,}")
state.shown("step", step)
cache.note_step(series_id, step)

st.session_state["_selection"] = state.Selection(series_id, step, steps.index(step), phase, series)

pg = st.navigation(PAGES)
if pg.url_path == "curves":  # the alias: go to the default page itself, so the sidebar marks it as the one shown
    st.switch_page(CURVES, query_params=st.query_params.to_dict())
for m in manifest_errors:
    state.notice(f"Manifest problem: {m}")
notice_box = st.container()  # filled after the page ran: its controls may add notices too
st.session_state["_app_active"] = True  # pages check it: see ui.view.current
try:
    pg.run()
finally:
    st.session_state["_app_active"] = False
with notice_box:
    state.show_notices()
state.write_url()

# Benchmarks read the server's own time per run (set GROK_APP_TIMING=path to a JSON-lines file).
if log := os.environ.get("GROK_APP_TIMING"):
    with open(log, "a") as f:
        f.write(json.dumps({"page": pg.url_path, "step": step, "ms": 1e3 * (time.perf_counter() - T0),
                            "start": T0_WALL, "end": time.time(),
                            **{k: round(v, 1) for k, v in cache.RUN_STATS.items()}}) + "\n")

if playing:  # the next checkpoint, as soon as this one is sent (Pause interrupts the wait)
    time.sleep(max(0.0, PLAY_INTERVAL_S - (time.perf_counter() - T0)))
    if step == steps[-1]:
        st.session_state.playing = False
    else:
        st.session_state["_play_to"] = steps[steps.index(step) + 1]
    st.rerun()
