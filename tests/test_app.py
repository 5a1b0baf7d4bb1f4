"""The Streamlit app under AppTest: every page at the first, a middle and the last checkpoint, the figures
each one shows, and the URL query parameters (deep links) including bad values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

pytestmark = pytest.mark.slow  # every test here runs the app (seconds each)

REPO = Path(__file__).resolve().parents[1]
APP = str(REPO / "app.py")
TIMEOUT = 120  # the first run of a page computes per-series results (key frequencies, neurons to show)

# page -> the figures it shows with its default controls: title prefix, and whether the title names the step
PAGES = {
    "curves": [("Loss (log scale)", True), ("Accuracy", True), ("Which sums the model gets right", True)],
    "inputs": [("One-hot input (114×3)", False), ("Embedding W_E · one-hot (128×3)", True),
               ("The model's answer:", True)],
    "waves": [("MLP neurons with x = 0 fixed", True)],
    "grid": [("7×7 neuron pairs over y (x = 0)", True)],
    "embeddings": [("Embedding W_E: strength per frequency", True), ("Probe circles (k = ", True)],
    "surfaces": [("Neuron #", True), ("2-D Fourier spectrum of neuron #", True), ("Largest 2-D Fourier terms", True)],
    "crests": [("Logit of answer 7", True), ("Diagonal means", True)],
    "attention": [("Attention from '=' to x, per head", True), ("Attention to x averaged over y", True)],
    "progress": [("Progress measures: restricted and excluded loss", True),
                 ("Weights, frequency concentration and key frequencies", True),
                 ("Loss against the sum of squared weights", False)],
    "about": [],
    "train": [],
}


@pytest.fixture(scope="module")
def steps() -> list[int]:
    from grok_core.hub import load_manifest, local_path
    from grok_core.series import open_series

    entries, _ = load_manifest()
    return [int(s) for s in open_series(local_path(entries[0]), verify=False).steps]


def app(query: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params.update(query or {})
    return at.run()


def goto(at: AppTest, page: str) -> AppTest:
    return at if page == "curves" else at.switch_page(f"pages/{page}.py").run()


def charts(at: AppTest) -> list[dict]:
    """The figures the page drew: plotly specs sent to ui/charts.py's component (and any st.plotly_chart)."""
    out = [json.loads(c.proto.json)["spec"] for c in at.get("bidi_component") if c.proto.component_name == "grok_plotly"]
    return out + [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def titles(at: AppTest) -> list[str]:
    return [spec["layout"].get("title", {}).get("text", "") for spec in charts(at)]


def warnings(at: AppTest) -> str:
    """The notices as shown: their markdown escapes every punctuation (ui/safe.plain) and breaks autolinks."""
    return " ".join(w.value for w in at.warning).replace("\\", "").replace("\u200b", "")


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def assert_figures(at: AppTest, page: str, step: int) -> None:
    got, want = titles(at), PAGES[page]
    assert len(got) == len(want), got
    for title, (prefix, names_step) in zip(got, want, strict=True):
        assert title.startswith(prefix), (title, prefix)
        assert title.endswith(f"— step {step}") == names_step, title


@pytest.mark.parametrize("page", list(PAGES))
def test_page_at_first_middle_last_checkpoint(page, steps):
    at = goto(app({"step": str(steps[0])}), page)
    assert_clean(at)
    assert at.query_params["step"] == str(steps[0])
    assert_figures(at, page, steps[0])
    for step in (steps[len(steps) // 2], steps[-1]):
        at.select_slider(key="step").set_value(step).run()
        assert_clean(at)
        assert_figures(at, page, step)
        assert at.query_params["step"] == str(step)
    assert not at.warning  # no notices on a clean run


def test_sidebar_controls_and_phase_badge(steps):
    at = app({"step": str(steps[1])})
    assert at.select_slider(key="step").value == steps[1]
    at.button(key="prev").click().run()
    assert at.select_slider(key="step").value == steps[0]
    at.button(key="next").click().run()
    at.button(key="next").click().run()
    assert at.select_slider(key="step").value == steps[2]
    badges = [m.value for m in at.markdown if "badge" in m.value]
    assert any("memorising" in b for b in badges), badges
    at.select_slider(key="step").set_value(steps[-1]).run()
    assert any("generalised" in m.value for m in at.markdown if "badge" in m.value)


def test_page_switch_keeps_series_and_step(steps):
    mid = steps[len(steps) // 2]
    at = goto(app({"step": str(mid)}), "waves")
    assert at.select_slider(key="step").value == mid
    at = goto(at, "crests")
    assert at.select_slider(key="step").value == mid
    assert titles(at)[0].endswith(f"step {mid}")


def test_query_params_round_trip(steps):
    """Controls are mirrored in the URL, and that URL reopens the same view."""
    at = goto(app(), "waves")
    at.number_input(key="x").set_value(5).run()
    at.text_input(key="neurons__text").set_value("3, 17, 250").run()
    at.select_slider(key="step").set_value(steps[7]).run()
    assert_clean(at)
    url = dict(at.query_params)
    assert url == {"series": "default", "step": str(steps[7]), "x": "5", "neurons": "3,17,250"}
    # a fresh session from that URL (the page's own controls are read when the page first shows)
    again = app({k: v for k, v in url.items()})
    again.query_params.update(url)
    again = goto(again, "waves")
    assert_clean(again)
    assert not again.warning
    assert again.select_slider(key="step").value == steps[7]
    assert again.number_input(key="x").value == 5
    assert again.text_input(key="neurons__text").value == "3, 17, 250"
    assert titles(again) == titles(at)


@pytest.mark.parametrize("query, shown, notice", [
    ({"step": "12345"}, {"step": "nearest"}, "step 12345"),
    ({"step": "abc"}, {"step": "last"}, "step “abc”"),
    ({"step": "-50"}, {"step": "first"}, "step -50"),
    ({"series": "no-such-series"}, {"series": "default"}, "series no-such-series"),
])
def test_bad_sidebar_params_fall_back_with_notice(query, shown, notice, steps):
    at = app(query)
    assert_clean(at)
    assert notice in warnings(at)
    want = {"nearest": min(steps, key=lambda s: abs(s - 12345)), "last": steps[-1], "first": steps[0]}
    if "step" in shown:
        assert at.select_slider(key="step").value == want[shown["step"]]
        assert at.query_params["step"] == str(want[shown["step"]])
    if "series" in shown:
        assert at.query_params["series"] == shown["series"]


@pytest.mark.parametrize("page, query, expect", [
    ("waves", {"x": "500", "neurons": "1,2,9999"}, {"x": "112", "neurons": "1,2,511"}),
    ("grid", {"n": "99", "render": "bogus"}, {"n": "10", "render": "webgl"}),
    ("surfaces", {"neuron": "-4", "view": "4d"}, {"neuron": "0", "view": "heatmap"}),
    ("crests", {"source": "logit", "c": "1e9"}, {"c": "112"}),
    ("embeddings", {"k": "zero"}, {"k": "8"}),  # the display frequency (the lowest key frequency)
    ("attention", {"order": "sideways"}, {"order": "frequency"}),
])
def test_bad_view_params_fall_back_with_notice(page, query, expect, steps):
    at = app()
    at.query_params.update(query)
    at = goto(at, page)
    assert_clean(at)
    assert "The link asked for" in warnings(at)
    for k, v in expect.items():
        assert at.query_params[k] == v
    fixed = {"waves": [("MLP neurons with x = 112 fixed", True)], "grid": [("10×10 neuron pairs over y (x = 0)", True)],
             "crests": [("Logit of answer 112", True), ("Diagonal means", True)]}
    want = fixed.get(page, PAGES[page])  # the view drawn with the fixed values, at the last step
    assert [t[: len(w)] for t, (w, _) in zip(titles(at), want, strict=True)] == [w for w, _ in want]
    assert all(t.endswith(f"— step {steps[-1]}") for t, (_, named) in zip(titles(at), want, strict=True) if named)


def test_training_page_trains_a_series_that_appears_in_the_picker(tmp_path, monkeypatch):
    """A tiny run started from the page trains in the background, shows progress, then is offered in the picker."""
    import time

    monkeypatch.setenv("GROK_APP_RUNS", str(tmp_path))
    from ui import cache, training

    monkeypatch.setattr(cache, "RUNS", tmp_path)
    at = goto(app(), "train")
    assert_clean(at)
    at.radio[0].set_value("tiny").run()
    [t for t in at.text_input if t.label.startswith("Name")][0].set_value("pytest-run")
    [n for n in at.number_input if n.label.startswith("Steps")][0].set_value(100)
    [b for b in at.button if b.label == "Start training"][0].click().run()
    assert_clean(at)
    job = training.jobs()["pytest-run"]
    t_end = time.monotonic() + 240
    while not job.finished and time.monotonic() < t_end:
        time.sleep(0.5)
    assert job.status == "done", (job.status, job.error)
    at.run()
    assert_clean(at)
    assert any("pytest-run" in s.value for s in at.subheader)
    assert "Trained here: pytest-run" in at.selectbox(key="series").options
    at.selectbox(key="series").set_value("runs/pytest-run").run()
    assert_clean(at)
    assert at.select_slider(key="step").value == 100
    for page in [q for q in PAGES if q != "train"]:  # every view works on a series of another size (p = 23)
        at = at.switch_page(f"pages/{page}.py").run()
        assert_clean(at)
        assert len(charts(at)) == len(PAGES[page]), (page, titles(at))
        assert not any("113" in i.value for i in at.info), page


def test_unavailable_remote_series_falls_back_with_a_message(monkeypatch, steps):
    """Offline, choosing a Hub series that is not cached says why and keeps showing the bundled one."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    at = app()
    remote = [o for o in at.selectbox(key="series").options if "download" in o]
    if not remote:
        pytest.skip("the manifest lists no remote series, or it is already cached")
    at.selectbox(key="series").set_value("nanda-full-run").run()
    assert not at.exception, [e.value for e in at.exception]
    assert [e.value for e in at.error if "Could not open" in e.value], [e.value for e in at.error]
    assert at.selectbox(key="series").value == "default"  # back on the bundled series
    assert_figures(at, "curves", steps[-1])  # the bundled series' curves, at its last step


def test_play_runs_to_the_last_checkpoint_and_stops(steps):
    at = app({"step": str(steps[-3])})
    at.button(key="play").click().run()  # plays steps[-2], steps[-1], then stops by itself
    assert_clean(at)
    assert at.select_slider(key="step").value == steps[-1]
    assert at.session_state["playing"] is False
    assert titles(at)[0].endswith(f"step {steps[-1]}")


def test_charts_use_the_in_place_component_and_fall_back_to_st_plotly_chart(monkeypatch):
    """Charts go through ui/charts.py's component; where it cannot run (e.g. static/ not writable) the same
    figures are drawn by st.plotly_chart instead."""
    from ui import charts as ui_charts

    at = app()
    assert at.get("bidi_component") and not at.get("plotly_chart")
    want = titles(at)
    monkeypatch.setattr(ui_charts, "_component", None)
    monkeypatch.setattr(ui_charts, "_unavailable", "static/ is read-only here")
    at = app()
    assert_clean(at)
    assert at.get("plotly_chart") and not at.get("bidi_component")
    assert titles(at) == want


def test_embeddings_probe_curves_on_request(steps):
    at = app({"step": str(steps[-1])})
    at.query_params.update({"probes": "waves"})
    at = goto(at, "embeddings")
    assert_clean(at)
    got = titles(at)
    assert len(got) == 3 and got[2].startswith("Probes against the true waves")
    assert "R²" in charts(at)[1]["layout"]["annotations"][0]["text"]  # probe fits shown on the circles
    assert at.query_params["probes"] == "waves"


STORY = {  # what each view's text says at the first, the middle (step 6,400, test accuracy 20%) and the last checkpoint
    "waves": ("still mostly ragged", "rising out of the noise", "traces a clean wave"),
    "grid": ("scattered clouds", "Loops are emerging", "trace closed loops"),
    "embeddings": ("about the same height", "growing above the rest", "key frequencies dominate"),
    "surfaces": ("speckled", "rising out of the spectrum", "smooth pattern of waves"),
    "crests": ("no clean diagonals", "emerging from the noise", "set of diagonal stripes"),
    "attention": ("mostly irregular", "mostly irregular", "is a wave in x"),
}


@pytest.mark.parametrize("page", list(STORY))
def test_the_text_follows_what_the_figures_show(page, steps):
    """The sentences for students come from the step's own numbers (wave purity, diagonal share…), not the phase:
    at step 6,400 the phase is already 'cleanup' but the waves are only half formed, and the text must say so."""
    at = goto(app({"step": str(steps[0])}), page)
    for step, phrase in zip((steps[0], steps[len(steps) // 2], steps[-1]), STORY[page], strict=True):
        if step != steps[0]:
            at.select_slider(key="step").set_value(step).run()
        assert_clean(at)
        text = " ".join(i.value for i in at.info)
        assert phrase in text, (step, text)


def test_progress_text_reads_the_measures_at_the_step(steps):
    at = app({"step": str(steps[0])})
    at = goto(at, "progress")
    said = []
    for step in (steps[0], steps[len(steps) // 2], steps[-1]):
        at.select_slider(key="step").set_value(step).run()
        assert_clean(at)
        said.append(" ".join(m.value for m in at.markdown if m.value.startswith("At step")))
    assert "do not answer the sums yet" in said[0]
    assert "would already answer the unseen sums" in said[1] and "-fold" in said[1]  # step 6,400: hidden progress
    assert "taken over" in said[2]
