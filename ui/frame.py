"""The frame every page shares: the sidebar (navigation, series picker, step control, phase badge), the
notices, the URL sync and Play.

The app runs in Streamlit's pages/ mode: each file in pages/ is a view at /<file name>, and each calls
`begin()` first (ui.view.current) and `end()` last (ui.view.done). The page links are drawn here
(Streamlit's own list is switched off in .streamlit/config.toml), so sections, titles and icons stay.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from urllib.parse import urlparse

import numpy as np
import streamlit as st

from grok_core.hub import SourceError
from grok_core.phases import Phase, phase_at
from grok_core.series import SeriesError

from . import cache, hub_field, state
from .safe import plain

PLAY_INTERVAL_S = 0.2  # while playing, one checkpoint at most this often
PHASE_BADGE = {Phase.MEMORISING: "orange", Phase.CIRCUIT_FORMING: "blue", Phase.CLEANUP: "violet",
               Phase.GENERALISED: "green"}


@dataclass(frozen=True)
class Link:
    path: str  # pages/<name>.py: its URL is /<name>
    title: str
    icon: str


# The views, grouped as the sidebar shows them. To add one, add its file to pages/ and a Link here.
NAV = {
    "The story": [
        Link("pages/curves.py", "Training curves", ":material/show_chart:"),
        Link("pages/inputs.py", "Inputs", ":material/input:"),
        Link("pages/waves.py", "Neuron waves", ":material/waves:"),
        Link("pages/grid.py", "Neuron scatter grid", ":material/grid_on:"),
        Link("pages/embeddings.py", "Embeddings & probes", ":material/donut_large:"),
        Link("pages/surfaces.py", "Surfaces & spectra", ":material/landscape:"),
        Link("pages/crests.py", "Crests: x + y ≡ c", ":material/stacked_line_chart:"),
        Link("pages/attention.py", "Attention", ":material/visibility:"),
        Link("pages/progress.py", "Progress measures", ":material/trending_up:"),
        Link("pages/interventions.py", "Interventions", ":material/content_cut:"),
    ],
    "More": [
        Link("pages/about.py", "About", ":material/info:"),
        Link("pages/compare.py", "Compare runs", ":material/compare:"),
        Link("pages/train.py", "Train & publish", ":material/model_training:"),
        Link("pages/phase_diagram.py", "Phase diagram", ":material/grid_view:"),
    ],
}


def navigation() -> None:
    st.markdown("### Grokking Explorer")
    for section, links in NAV.items():
        st.caption(section)
        for link in links:
            st.page_link(link.path, label=link.title, icon=link.icon)


# -- series -------------------------------------------------------------------------------------
def _stop_playing() -> None:
    st.session_state.playing = False
    st.session_state.pop("_play_to", None)


def series_picker():
    """The series selectbox and the Hub field; opens (downloads) the chosen series, falling back with a message.

    A Hub repo opened from the field or from ?hub= joins the picker for the session and is shown; the URL then
    holds ?hub=owner/name[@revision] instead of ?series=, until another series is picked.
    """
    choices, manifest_errors = cache.catalog()
    for m in manifest_errors:
        state.notice(f"Manifest problem: {m}")
    if (spec := hub_field.wanted()) is not None and hub_field.open_hub(spec):  # on failure: the series shown stays
        _stop_playing()
    choices = [*choices, *st.session_state.get(hub_field.OPENED, {}).values()]
    ids = [c.id for c in choices]
    titles = {c.id: c.label for c in choices}
    if "_series_fallback" in st.session_state:  # the series chosen last run could not be opened
        st.session_state["series"] = st.session_state.pop("_series_fallback")
    state.seed("series", ids[0], str, state.one_of(ids, ids[0]), "series", fmt=lambda i: f"“{titles[i]}”")
    series_id = st.sidebar.selectbox("Series", ids, format_func=titles.get, key="series", on_change=_stop_playing,
                                     help="Which training run to explore. Runs from the Hugging Face Hub download "
                                          "once.")
    c = next((c for c in choices if c.id == series_id), None)
    if c is not None and c.hub_spec is not None:
        st.sidebar.caption(plain(c.description, 300))  # which repo, commit and file the series was read from
    hub_field.field()

    def fall_back(why: str):
        msg = f"Could not open “{titles.get(series_id, series_id)}”: {why}"
        if series_id == ids[0]:  # the default itself: nothing to fall back to
            st.error(plain(msg, 400), icon=":material/error:")
            st.stop()
        st.session_state["_series_error"] = msg
        st.session_state["_series_fallback"] = ids[0]
        st.rerun()

    if c is not None and not c.offline:
        bar = st.progress(0.0, text=f"Fetching {plain(c.title, 100)}…")
        try:
            cache.open_choice(c, progress=lambda done, total, msg: bar.progress(
                min(1.0, done / total) if total else 0.0, text=hub_field.progress_text(done, total, msg)))
            cache.catalog.clear()
        except SourceError as e:
            fall_back(str(e))
        bar.empty()
    try:
        series = cache.series(series_id)
    except (SourceError, SeriesError, OSError) as e:
        fall_back(str(e))
    if msg := st.session_state.pop("_series_error", None):
        st.error(plain(msg, 400), icon=":material/cloud_off:")
    if c is not None and c.hub_spec is not None:
        state.shown("series", series_id, lambda _: c.hub_spec, url_key="hub")
    else:
        state.shown("series", series_id)
    return series_id, series


# -- step ---------------------------------------------------------------------------------------
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


def step_control(steps: list[int], where=None) -> int:
    """The shared step slider with previous / play / next, mirrored in the URL as ?step=N.

    Drawn once per run, in the sidebar by default or in any container (the compact embedded layout draws it
    inline); outside the sidebar the buttons sit in a row that wraps rather than stacks in a narrow frame.
    """
    inline = where is not None
    where = where or st.sidebar
    if "_play_to" in st.session_state:  # set by the play ticker (before the slider exists)
        st.session_state["step"] = st.session_state.pop("_play_to")
    state.seed("step", steps[-1], state.parse_int, state.nearest_of(steps), "step", fmt=lambda s: f"checkpoint {s:,}")
    step = where.select_slider("Training step", steps, key="step", format_func=lambda s: f"{s:,}",
                               on_change=_stop_playing,
                               help="The checkpoints saved during training. Use ← → on the slider, or the buttons.")
    playing = st.session_state.get("playing", False)
    if inline:
        row = where.container(horizontal=True, vertical_alignment="center", key="step-buttons")
        b1 = b2 = b3 = row
        width = "content"
    else:
        b1, b2, b3 = where.columns(3)
        width = "stretch"
    b1.button("", icon=":material/skip_previous:", key="prev", on_click=_shift, args=(-1, steps),
              help="Previous checkpoint", width=width, disabled=step == steps[0])
    b2.button("", icon=":material/pause:" if playing else ":material/play_arrow:", key="play", on_click=_toggle_play,
              args=(steps,), help="Pause" if playing else "Play through training", width=width,
              type="primary" if playing else "secondary")
    b3.button("", icon=":material/skip_next:", key="next", on_click=_shift, args=(1, steps), help="Next checkpoint",
              width=width, disabled=step == steps[-1])
    state.shown("step", step)
    return int(step)


def _play_next(sel: state.Selection, t0: float) -> None:
    """While playing: the next checkpoint, as soon as this one is sent (at most every PLAY_INTERVAL_S).

    A fragment with run_every (no sleeping script thread) was tried and stalled now and then in the
    browser under load, so the run waits out the rest of the interval and reruns; Pause interrupts it.
    """
    time.sleep(max(0.0, PLAY_INTERVAL_S - (time.perf_counter() - t0)))
    steps = [int(s) for s in sel.steps]
    if sel.step >= steps[-1]:
        st.session_state.playing = False
    else:
        st.session_state["_play_to"] = steps[steps.index(sel.step) + 1]
    st.rerun()


# -- a page's run -------------------------------------------------------------------------------
# The compact layout for iframes (?embed=true): Streamlit has no option that removes the sidebar, so it
# starts collapsed (st.set_page_config) and these rules hide it and its expand button, and the empty
# header's 72 px above the title (embedded, Streamlit shows no toolbar in it).
EMBED_CSS = """<style>
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], [data-testid="stExpandSidebarButton"],
[data-testid="stHeader"] { display: none !important; }
[data-testid="stMainBlockContainer"] { padding-top: 1rem !important; }
</style>"""


def embedded() -> bool:
    """Whether the app runs with ?embed=true (Streamlit keeps that parameter out of st.query_params)."""
    try:
        return bool(st.context.is_embedded)
    except Exception:  # no session behind this run
        return False


def _phase_badge(where, phase: Phase) -> None:
    where.badge(phase, color=PHASE_BADGE.get(phase, "gray"), icon=":material/flag:",
                help="Phase of training at this step, read off the loss and accuracy curves (see About).")


def begin() -> state.Selection:
    """Draw the shared frame and return the selection the page shows.

    Embedded (?embed=true), there is no sidebar: the page's header goes first (ui.view.header fills the
    box `_head_box`), then the step control and phase badge inline, then the view.
    """
    st.session_state["_t0"] = (time.perf_counter(), time.time())
    embed = embedded()
    st.set_page_config(page_title="Grokking Explorer", page_icon=":material/blur_on:", layout="wide",
                       initial_sidebar_state="collapsed" if embed else "auto")
    state.begin_run()
    cache.run_stats().clear()
    if embed:
        st.html(EMBED_CSS)
        st.session_state["_head_box"] = st.container()
    else:
        st.session_state.pop("_head_box", None)
        with st.sidebar:
            navigation()
    series_id, series = series_picker()
    steps = [int(s) for s in series.steps]
    bar = st.container(key="step-bar") if embed else None
    step = step_control(steps, bar)
    phase = phase_at(cache.phase_spans(series_id), step)
    where = bar.container(horizontal=True, vertical_alignment="center", key="phase-row") if embed else st.sidebar
    _phase_badge(where, phase)
    where.caption(f"Checkpoint {steps.index(step) + 1} of {len(steps)} · steps {steps[0]:,}–{steps[-1]:,}")
    cache.note_step(series_id, step)
    sel = state.Selection(series_id, step, steps.index(step), phase, series)
    st.session_state["_selection"] = sel
    st.session_state["_notice_box"] = st.container()  # filled by end(): the page's controls may add notices
    return sel


def _url_path() -> str:
    try:
        return urlparse(st.context.url or "").path.strip("/")
    except Exception:  # no browser behind this run (AppTest)
        return ""


def end() -> None:
    """After the page: its notices, the URL, the server timing (GROK_APP_TIMING) and the play ticker."""
    with st.session_state.pop("_notice_box", None) or st.container():
        state.show_notices()
    state.write_url()
    sel = st.session_state.get("_selection")
    if log := os.environ.get("GROK_APP_TIMING"):  # benchmarks read the server's own time per run
        t0, t0_wall = st.session_state.get("_t0", (time.perf_counter(), time.time()))
        with open(log, "a") as f:
            f.write(json.dumps({"page": _url_path(), "step": sel.step if sel else None, "ms": 1e3 * (time.perf_counter() - t0),
                                "start": t0_wall, "end": time.time(),
                                **{k: round(v, 1) for k, v in cache.run_stats().items()}}) + "\n")
    if sel is not None and st.session_state.get("playing"):
        _play_next(sel, st.session_state.get("_t0", (time.perf_counter(),))[0])
