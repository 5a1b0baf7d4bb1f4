"""The shared selection (series, step) and URL query-parameter sync for every control.

A control's value comes, in order, from: the URL (the first time the control appears, so a
copied link reopens the exact view), the value it had when last shown in this session (pages
forget widget values when you leave them), then its default. A URL value that is unknown or out
of range is replaced by the nearest valid one and a notice says so; it never raises (numbers go through
ui/safe.url_int, so 1e30 is just "too large"), and a notice shows the link's text as text, never as
markdown, cut to a readable length (ui/safe.plain). At the end
of each run `write_url` mirrors every control shown in that run into the URL (the page itself is
the URL path; Streamlit keeps `embed` and `embed_options` on its own).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import streamlit as st

from grok_core.phases import Phase

from .safe import MAX_URL_INT, cut, plain, url_int, url_int_list

_KEEP = "_kept_values"  # key -> last value shown, survives page switches
_SHOWN = "_url_params_this_run"  # key -> URL string for controls shown in this run
_NOTICES = "_url_notices"


@dataclass
class Selection:
    """What every view reads: the series, the checkpoint step and where that step sits in training."""

    series_id: str
    step: int
    index: int  # position of step in series.steps
    phase: Phase
    series: object = field(repr=False)  # grok_core.series.Series

    @property
    def cfg(self):
        return self.series.model_cfg

    @property
    def steps(self) -> np.ndarray:
        return self.series.steps


def begin_run() -> None:
    st.session_state[_SHOWN] = {}
    st.session_state[_NOTICES] = []
    st.session_state.setdefault(_KEEP, {})


NOTICE_LIMIT = 400  # characters of one notice
RAW_LIMIT = 60  # characters of a URL value repeated in a notice


def notice(text: str) -> None:
    """A message above the page; `text` is shown as plain text (it may hold URL or file values)."""
    st.session_state.setdefault(_NOTICES, []).append(cut(text, NOTICE_LIMIT))


def notices() -> list[str]:
    return list(st.session_state.get(_NOTICES, []))


def show_notices() -> None:
    for text in notices():
        st.warning(plain(text, NOTICE_LIMIT), icon=":material/link_off:")


def _url_raw(key: str) -> str | None:
    try:
        v = st.query_params.get(key)
    except Exception:  # never let a malformed URL break a page
        return None
    return None if v is None else str(v)


def seed(key: str, default, parse: Callable[[str], object], valid: Callable[[object], object], what: str,
         fmt: Callable[[object], str] = str) -> None:
    """Put the starting value of control `key` into session state, before the widget is created.

    parse(raw) -> value or raises ValueError; valid(value) -> the nearest valid value.
    """
    ss = st.session_state
    if key in ss:  # the widget is alive: its own value rules; keep it valid (options may have changed)
        ss[key] = valid(ss[key])  # set again even when unchanged: on another page the widget is a new one
        return
    raw = _url_raw(key)
    if raw is not None:
        said = cut(raw, RAW_LIMIT)
        try:
            v = parse(raw)
        except (ValueError, TypeError, OverflowError):
            v = None
        if v is None:
            ss[key] = valid(ss[_KEEP].get(key, default))
            notice(f"The link asked for {what} “{said}”, which is not valid here; showing {fmt(ss[key])} instead.")
            return
        fixed = valid(v)
        if fixed != v:
            notice(f"The link asked for {what} {said}, which does not exist here; showing the nearest valid value, "
                   f"{fmt(fixed)}.")
        ss[key] = fixed
        return
    ss[key] = valid(ss[_KEEP].get(key, default))


def shown(key: str, value, to_url: Callable[[object], str] = str, url_key: str | None = None) -> None:
    """Record a control shown in this run: kept across page switches and written to the URL (as ?url_key=, by
    default ?key=)."""
    st.session_state[_KEEP][key] = value
    st.session_state[_SHOWN][url_key or key] = to_url(value)


def shown_params() -> dict[str, str]:
    """The URL parameters of the controls shown so far in this run (what write_url puts in the URL)."""
    return dict(st.session_state.get(_SHOWN, {}))


def write_url() -> None:
    """Mirror the controls shown in this run into the URL (only when something changed)."""
    want = shown_params()
    try:
        have = st.query_params.to_dict()
    except Exception:
        have = {}
    if have != want:
        st.query_params.from_dict(want)


# -- validators ---------------------------------------------------------------------------------
def nearest_int(lo: int, hi: int) -> Callable[[object], int]:
    def f(v) -> int:
        try:
            v = int(v)
        except (TypeError, ValueError):
            v = lo
        return int(min(max(v, lo), hi))

    return f


def nearest_of(options: Sequence[int]) -> Callable[[object], int]:
    arr = np.asarray(options)

    def f(v) -> int:
        try:
            v = int(v)
        except (TypeError, ValueError):
            return int(arr[-1])
        return int(arr[np.argmin(np.abs(arr - v))])

    return f


def one_of(options: Sequence, default) -> Callable[[object], object]:
    def f(v):
        return v if v in options else default

    return f


def parse_int(raw: str) -> int:
    """A whole number from a URL or a text field; huge values ("1e30") clamp, junk raises ValueError."""
    return url_int(raw, -MAX_URL_INT, MAX_URL_INT)


def parse_int_list(raw: str, max_len: int = 64) -> list[int]:
    """'3, 17, 250' -> [3, 17, 250], each as parse_int; ValueError for junk or more than max_len items."""
    return url_int_list(raw, max_len=max_len)


# -- view controls (seed from URL, draw the widget, record it) ----------------------------------
def int_control(key: str, label: str, lo: int, hi: int, default: int, *, widget: str = "number",
                help: str | None = None, container=None) -> int:
    """An integer control mirrored in the URL as ?key=N."""
    seed(key, default, parse_int, nearest_int(lo, hi), f"{key} =")
    where = container or st
    if widget == "slider":
        v = where.slider(label, lo, hi, key=key, help=help)
    else:
        v = where.number_input(label, lo, hi, step=1, key=key, help=help)
    v = int(v)
    shown(key, v)
    return v


def choice_control(key: str, label: str, options: Sequence, default, *, format_func=str, widget: str = "segmented",
                   help: str | None = None, container=None, to_url=str, parse=str):
    """A choice among options mirrored in the URL (by to_url of the option)."""
    by_url = {to_url(o): o for o in options}

    def _parse(raw: str):
        if raw in by_url:
            return by_url[raw]
        try:
            v = parse(raw)
        except (ValueError, TypeError):
            raise ValueError(raw) from None
        if v not in options:
            raise ValueError(raw)
        return v

    seed(key, default, _parse, one_of(list(options), default), f"{key} =", fmt=lambda v: f"“{format_func(v)}”")
    where = container or st
    if widget == "segmented":
        v = where.segmented_control(label, list(options), format_func=format_func, key=key, help=help, required=True)
    elif widget == "radio":
        v = where.radio(label, list(options), format_func=format_func, key=key, help=help, horizontal=True)
    else:
        v = where.selectbox(label, list(options), format_func=format_func, key=key, help=help)
    if v is None:  # a segmented control can be emptied by a click; fall back to the default
        v = default
    shown(key, v, to_url)
    return v


def int_list_control(key: str, label: str, lo: int, hi: int, default: list[int], *, max_len: int,
                     exact: bool = False, help: str | None = None, container=None) -> list[int]:
    """Integers (e.g. neuron ids) typed as '3, 17, 250' and mirrored as ?key=3,17,250.

    Out-of-range numbers are clamped, repeats dropped, with a notice; with exact=True the list is
    silently padded from `default` or cut to max_len (e.g. when the grid size changes).
    """
    text_key = f"{key}__text"

    def clean(vals: list[int]) -> tuple[list[int], bool]:
        fixed = [min(max(int(v), lo), hi) for v in vals]
        bad = fixed != [int(v) for v in vals]
        out = list(dict.fromkeys(fixed))
        bad |= len(out) != len(fixed)
        if exact:
            out = (out + [d for d in default if d not in out])[:max_len]
        elif len(out) > max_len:
            out, bad = out[:max_len], True
        if not out:
            out, bad = list(default)[:max_len], True
        return out, bad

    def as_text(vals) -> str:
        return ", ".join(map(str, vals))

    ss = st.session_state
    ss.setdefault(_KEEP, {})
    if text_key in ss:  # the widget is alive: check what was typed
        raw = ss[text_key]
        try:
            vals, bad = clean(parse_int_list(raw))
        except ValueError:
            vals, bad = clean(ss[_KEEP].get(key, default))[0], True
        if bad:
            notice(f"“{cut(raw, RAW_LIMIT)}” is not a list of up to {max_len} {label.lower()} between {lo} and {hi}; "
                   f"using {as_text(vals)}.")
        ss[text_key] = as_text(vals)  # set again even when unchanged: on another page the widget is a new one
    else:
        seed(key, list(default), parse_int_list, lambda v: clean(v)[0], f"{key} =", fmt=as_text)
        ss[text_key] = as_text(ss.pop(key))
    where = container or st
    raw = where.text_input(label, key=text_key, help=help)
    vals = clean(parse_int_list(raw))[0]
    shown(key, vals, lambda v: ",".join(map(str, v)))
    return vals
