"""The sidebar's "Open from the Hugging Face Hub" field and the ?hub= link: a Hub repo by id, for this session.

Both go through grok_core.hub.open_hub (parse_spec checks the id: no URL value ever names a local path), with a
progress bar fed by its callback. A repo opened joins the series picker for the session (session_state), under an
id that pins its commit ("hub:owner/name@<commit>", ui/sources.hub_choice); ui/frame.series_picker shows it.
"""

from __future__ import annotations

import streamlit as st

from grok_core import hub
from grok_core.hub import SourceError
from grok_core.series import SeriesError

from . import sources, state
from .safe import plain
from .sources import Choice

HUB_FIELD = "hub_field"  # the sidebar's "Open from the Hugging Face Hub" text
OPENED = "_hub_opened"  # series id -> Choice: the Hub repos opened in this session (they join the picker)
_HUB_ASKED = "_hub_asked"  # the field's text when Open was pressed, handled at the top of the next run
_HUB_DONE = "_hub_links_done"  # ?hub= values handled in this session (a link opens its repo once)


def _ask_hub() -> None:
    st.session_state[_HUB_ASKED] = st.session_state.get(HUB_FIELD, "")


def wanted() -> str | None:
    """The Hub repo to open in this run: the field's, else a ?hub= link not handled yet in this session."""
    ss = st.session_state
    if ss.get(_HUB_ASKED) is not None:
        return ss[_HUB_ASKED]
    try:
        raw = st.query_params.get("hub")
    except Exception:  # never let a malformed URL break a page
        raw = None
    return None if raw is None or raw in ss.get(_HUB_DONE, ()) else str(raw)


def _size(n: float, total: float) -> str:
    return f"{n / 1e6:,.{1 if total >= 1e7 else 2}f} MB"


def progress_text(done: int, total: int, message: str) -> str:
    """The bar's text: what hub.open_hub is doing (as text) and, while downloading, MB done of MB total."""
    if message.startswith("downloading") and total:
        return f"{plain(message, 120)} · {_size(done, total)} of {_size(total, total)}"
    return plain(message, 120)


def open_hub(spec: str) -> Choice | None:
    """Open a Hub repo at its latest commit (downloaded once, with a progress bar); its Choice, or None after one
    sentence saying why not. Where the Hub cannot be asked, a copy downloaded before opens, with a notice.

    Marks the request handled either way; a run interrupted by the student's next click leaves it pending,
    so the next run resumes the download.
    """
    bar = st.progress(0.0, text=f"Opening {plain(spec, 100)} from the Hugging Face Hub…")
    report = lambda done, total, msg: bar.progress(  # noqa: E731
        min(1.0, done / total) if total else 0.0, text=progress_text(done, total, msg))
    c = why = None
    try:
        try:
            _, details = hub.open_hub(spec, progress=report, refresh=True)  # offline mode: the cache, no request
        except SourceError as e:
            if hub.cached(spec) is None:
                raise
            _, details = hub.open_hub(spec)
            state.notice(f"{e}; showing the copy downloaded before (commit {details.commit[:7]}).")
        c = sources.hub_choice(details)
    except SourceError as e:  # one sentence, starting with the repo id
        why = str(e)
    except (SeriesError, OSError) as e:  # open_hub reports these as SourceError; kept as a safety net
        why = f"{spec}: {e}"
    bar.empty()
    ss = st.session_state
    ss.pop(_HUB_ASKED, None)
    ss.setdefault(_HUB_DONE, set()).update({spec} | ({c.hub_spec} if c else set()))
    if c is None:
        st.error(plain(why, 400), icon=":material/cloud_off:")
        ss[HUB_FIELD] = spec  # there to correct, or to try again
        return None
    opened = ss.setdefault(OPENED, {})
    for old in [k for k, o in opened.items() if o.hub_spec == c.hub_spec]:  # an older commit of the same link
        del opened[old]
    opened[c.id] = c
    ss["series"] = c.id
    ss[HUB_FIELD] = ""
    return c


def field() -> None:
    """The sidebar's "Open from the Hugging Face Hub" field (folded, so the step control stays in view): owner/name,
    owner/name@revision or a huggingface.co link; Enter or the button opens it."""
    with st.sidebar.expander("Open from the Hugging Face Hub",
                             expanded=bool(st.session_state.get(HUB_FIELD))):
        with st.form("hub_form", border=False, enter_to_submit=True):
            left, right = st.columns([5, 1], vertical_alignment="center", gap="small")
            left.text_input("Open from the Hugging Face Hub", key=HUB_FIELD, placeholder="owner/name@revision",
                            label_visibility="collapsed")
            right.form_submit_button("", icon=":material/download:", key="hub_open", on_click=_ask_hub,
                                     help="Open this repo", width="stretch")
        st.caption("owner/name, owner/name@revision or a huggingface.co link to a repo holding a checkpoint series "
                   "or one checkpoint file. It downloads once, then opens offline. To share a run, add "
                   "?hub=owner/name to this app's address.")
