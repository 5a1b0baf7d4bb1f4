"""What every page does the same way: read the shared selection, explain, show figures."""

from __future__ import annotations

import streamlit as st

from grok_core import plots

from .charts import plotly_chart
from .state import Selection


def leave_legacy_pages_mode() -> None:
    """Rerun at once if Streamlit is in its legacy pages/ mode.

    On the first run of a server process Streamlit sees the folder pages/ and runs that run in its
    old multipage mode (st.navigation only switches it off when first called): app.py runs as a
    page inside an automatic navigation, or a page file runs without app.py. Widgets made in that
    run get other ids than in every later run, so the first interaction would reset them. Turning
    the mode off (as st.navigation does) and rerunning before any widget exists avoids both.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


def current() -> Selection:
    """The series and step chosen in the sidebar (set by app.py before the page runs)."""
    leave_legacy_pages_mode()
    if not st.session_state.get("_app_active"):  # run without app.py in any other way: go through it
        st.rerun()
    return st.session_state["_selection"]


def header(title: str, sel: Selection) -> None:
    st.title(title)
    st.caption(f"{sel.series.title} · step {sel.step:,} · {sel.phase}")


def explain(text: str) -> None:
    """2-4 plain sentences for students on what to look for at this step."""
    st.info(text, icon=":material/lightbulb:")


def chart(fig, name: str, *, key: str | None = None, alt: str | None = None) -> None:
    """A plotly figure with PNG export, updated in place across steps (ui/charts.py), so zoom and camera stay."""
    title = getattr(fig, "title", "") or name
    plotly_chart(fig.to_dict(), config=plots.png_config(name), key=key or f"chart-{name}", alt=alt or title)


def by_level(value: float, low: str, mid: str, high: str, cuts: tuple[float, float] = (0.3, 0.8)) -> str:
    """The sentence for how far a 0-1 measure of the step has come: below cuts[0], below cuts[1], or above.

    The pages' sentences follow the step's own numbers, not the phase alone (see DESIGN.md).
    """
    return low if value < cuts[0] else mid if value < cuts[1] else high


class WavePurity:
    """How close the neurons shown are to pure waves over y, for the pages' text (see analysis.fourier.wave_purity).

    k, share: per neuron; mean: the mean share of the live ones; freq: "frequency 8" when they share one;
    noise: what white noise's strongest frequency carries on average (the floor to compare with).
    """

    def __init__(self, waves) -> None:
        from grok_core.analysis.fourier import noise_share, wave_purity

        self.k, self.share = wave_purity(waves)
        alive = self.k > 0
        self.mean = float(self.share[alive].mean()) if alive.any() else 0.0
        ks = sorted(set(self.k[alive].tolist()))
        self.freq = f"frequency {ks[0]}" if len(ks) == 1 else "one frequency per neuron"
        self.noise = noise_share((waves.shape[0] - 1) // 2)
