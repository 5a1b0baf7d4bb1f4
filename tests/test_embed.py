"""The compact embed and "Download as animation", as an instructor meets them.

In a real browser: a static course page, served from loopback, embeds three views in iframes 820 and
600 px wide; in each, nothing may stick out sideways and the inline step slider must move the step.
Under AppTest: the embedded layout's parts (no sidebar content, inline step control, stacked
columns, the iframe snippet) and an animation made from the page on a tiny series (real kaleido,
real ffmpeg, decoded again).
"""

from __future__ import annotations

import functools
import http.server
import os
import threading
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

from tests.live_app import CHROMIUM, CHROMIUM_ARGS, REPO, running_app  # noqa: E402
from tests.test_animate import tiny  # noqa: E402, F401 (the fixture: a tiny series whose weights change per step)

pytestmark = pytest.mark.slow
APP = str(REPO / "app.py")
SLIDER = '.st-key-step-bar [data-testid="stSlider"] input[type=range]'
DONE = """(step) => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.dataset.testScriptState !== 'notRunning') return false;
  const titles = [...document.querySelectorAll('.js-plotly-plot .gtitle')].map(t => t.textContent);
  return titles.length > 0 && titles.every(t => !t.includes('— step') || t.endsWith('step ' + step));
}"""
# Every element's visible right edge against the frame's width (what would stick out sideways). An element
# inside an ancestor that clips its overflow is seen only up to that ancestor's edge (Streamlit's slider
# thumbs hold a 129-px-wide range input clipped to the 2-px thumb).
OVERFLOW = """() => {
  const w = document.documentElement.clientWidth, out = [];
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0 || r.right <= w + 0.5) continue;
    let right = r.right;
    for (let a = el.parentElement; a && a !== document.body; a = a.parentElement)
      if (getComputedStyle(a).overflowX !== 'visible') right = Math.min(right, a.getBoundingClientRect().right);
    if (right > w + 0.5)
      out.push((el.dataset.testid || el.className.baseVal || el.className || el.tagName) + ' ' + Math.round(right));
  }
  return {width: w, scroll: document.documentElement.scrollWidth, over: out.slice(0, 8)};
}"""
# path, query besides embed=true, title
VIEWS = [("crests", "step=6400", "Crests"), ("waves", "", "Neuron waves"), ("surfaces", "neuron=7", "Surfaces")]


def bundled_steps() -> list[int]:
    from grok_core.hub import load_manifest, local_path
    from grok_core.series import open_series

    entries, _ = load_manifest()
    return [int(s) for s in open_series(local_path(entries[0]), verify=False).steps]


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """The app, and a course page on another loopback server embedding three of its views, per frame width."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    pytest.importorskip("playwright")
    root = tmp_path_factory.mktemp("course")
    with running_app() as (app, _):
        for width in (820, 600):
            frames = "\n".join(
                f'<h2>{path}</h2><iframe id="{path}" src="{app}/{path}?{q}{"&" if q else ""}embed=true" width="{width}" '
                f'height="900" style="border: 1px solid #999"></iframe>' for path, q, _ in VIEWS)
            (root / f"course-{width}.html").write_text(
                f"<!doctype html><html><head><title>Grokking: week 3</title></head><body>"
                f"<h1>Week 3: how a transformer learns modular addition</h1>{frames}</body></html>")
        handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
        handler.log_message = lambda *a: None
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        try:
            yield f"http://127.0.0.1:{srv.server_port}"
        finally:
            srv.shutdown()


@pytest.fixture(scope="module")
def browser(course):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.mark.browser
@pytest.mark.parametrize("width", [820, 600])
def test_course_page_embeds_three_views_that_fit_and_follow_their_sliders(course, browser, width, tmp_path):
    """Screenshots of each frame before and after its step change go to $GROK_EMBED_SHOTS (else tmp_path)."""
    shots = Path(os.environ.get("GROK_EMBED_SHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    steps = bundled_steps()
    page = browser.new_page(viewport={"width": width + 80, "height": 1000})
    page.goto(f"{course}/course-{width}.html")
    for path, q, title in VIEWS:
        start = int(q.split("=")[1]) if q.startswith("step=") else steps[-1]
        iframe = page.locator(f"iframe#{path}")
        frame = iframe.element_handle().content_frame()
        frame.wait_for_function(DONE, arg=start, polling=500, timeout=120_000)
        assert frame.locator('[data-testid="stSidebar"]').is_hidden()  # no sidebar in the frame
        fit = frame.evaluate(OVERFLOW)
        assert fit["width"] == width and fit["scroll"] <= width and not fit["over"], (path, fit)
        iframe.screenshot(path=str(shots / f"embed-{path}-{width}.png"))

        slider = frame.locator(SLIDER).first  # inline, above the view
        slider.focus()
        key, new = ("ArrowRight", steps[steps.index(start) + 1]) if start != steps[-1] else ("ArrowLeft", steps[-2])
        slider.press(key)
        frame.wait_for_function(DONE, arg=new, polling=500, timeout=60_000)  # every figure's title names it
        assert frame.locator('[data-testid="stHeading"]').first.inner_text().startswith(title)
        caption = frame.locator('[data-testid="stMain"] [data-testid="stCaptionContainer"]').first
        assert f"step {new:,}" in caption.inner_text()
        assert not frame.evaluate(OVERFLOW)["over"], path
        iframe.screenshot(path=str(shots / f"embed-{path}-{width}-step-{new}.png"))
    page.close()


def test_figures_for_a_narrow_frame_wrap_their_titles_and_make_room():
    from ui.compact import narrow, wrap

    title = "7×7 neuron pairs over y (x = 0), each pair once; diagonal: each neuron's wave — step 25000"
    assert wrap(title, 61) == "7×7 neuron pairs over y (x = 0), each pair once; diagonal:<br>each neuron's wave — step 25000"
    assert wrap("Largest 2-D Fourier terms (share of the surface's variance) — step 25000", 61).endswith(
        "<br>— step 25000")  # the step stays whole: the browser tests read it
    assert wrap("<b>Key frequencies:<br>share</b>", 9) == "<b>Key</b><br><b>frequencies:</b><br><b>share</b>"
    panels = [{"x": x, "y": 1.02, "xref": "paper", "yref": "paper", "yanchor": "bottom", "showarrow": False,
               "text": "<b>Gini of the embedding's<br>frequency norms</b>"} for x in (0.1, 0.4, 0.7, 0.9)]
    spec = {"data": [], "layout": {"title": {"text": title}, "height": 350, "margin": {"t": 100},
                                   "annotations": panels + [{"x": 3, "xref": "x", "text": "cleanup"}]}}
    out = narrow(spec)["layout"]
    assert out["title"]["text"].replace("<br>", " ") == title and out["title"]["text"].endswith("step 25000")
    lines = out["annotations"][0]["text"].split("<br>")
    assert len(lines) == 4 and max(len(ln) - len("<b></b>") for ln in lines) <= 11
    assert out["annotations"][-1] == {"x": 3, "xref": "x", "text": "cleanup"}  # a phase label is not a panel title
    assert out["margin"]["t"] - 100 == out["height"] - 350 == 22 + 2 * 15  # one title line and two panel lines more
    assert spec["layout"]["height"] == 350  # the figure itself is left as it was


# -- AppTest ------------------------------------------------------------------------------------
def app(query: dict, embedded: bool, page: str) -> AppTest:
    """The page opened from a link with these parameters (the root URL first, as a browser does)."""
    at = AppTest.from_file(APP, default_timeout=120)
    at.context = {"is_embedded": embedded, "url": f"http://example.org:8501/{page}"}
    at.query_params.update({k: v for k, v in query.items() if k in ("series", "step")})
    at.run()
    at.query_params.update(query)
    return at.switch_page(f"pages/{page}.py").run()


def test_embedded_layout_moves_the_step_control_inline_and_stacks_columns():
    full, emb = (app({"step": "6400", "c": "12"}, e, "crests") for e in (False, True))
    for at in (full, emb):
        assert not at.exception and not at.error, [e.value for e in at.exception]
    assert full.sidebar.select_slider(key="step").value == 6400  # the full app: the control in the sidebar
    def badges(block) -> list[str]:  # st.badge is markdown such as ":violet-badge[:material/flag: cleanup]"
        return [m.value for m in block.markdown if "-badge[" in m.value]

    assert badges(full.sidebar) and not badges(full.main)
    assert not emb.sidebar.select_slider and not badges(emb.sidebar)  # embedded: inline, above the view
    assert emb.main.select_slider(key="step").value == 6400 and badges(emb.main) == badges(full.sidebar)
    assert len(full.main.columns) > 0 and len(emb.main.columns) == 0  # every column stacked
    snippet = emb.code[0].value
    assert 'src="http://example.org:8501/crests?series=default&step=6400&source=logit&c=12&embed=true"' in snippet
    assert snippet.startswith("<iframe ") and 'width="820"' in snippet
    assert [c.value for c in full.code] == [snippet]  # the same snippet from the full app


def test_download_as_animation_renders_the_views_settings_over_the_chosen_steps(tiny, tmp_path, monkeypatch):  # noqa: F811
    """On tests/test_animate.py's tiny series (p = 23, checkpoints 0, 10, 20, 30, random weights per step):
    the form makes a real MP4 of the waves view with its x and neurons, steps 10..30 only, offered for download."""
    import imageio_ffmpeg

    from grok_core import animate
    from ui import cache

    try:
        animate.browser_path()
    except animate.AnimateError as e:
        pytest.skip(str(e))
    runs = tmp_path / "runs"
    runs.mkdir()
    (runs / "tiny").symlink_to(tiny.path, target_is_directory=True)  # offered as "Trained here: tiny"
    monkeypatch.setattr(cache, "RUNS", runs)
    cache.catalog.clear()  # the picker's list is cached for a few seconds
    at = app({"series": "runs/tiny", "step": "20", "x": "3", "neurons": "1,5,9"}, False, "waves")
    assert not at.exception and not at.error, [e.value for e in at.exception + at.error]
    assert at.select_slider(key="anim-waves-runs/tiny-range").value == (0, 30)  # default: every checkpoint
    at.select_slider(key="anim-waves-runs/tiny-range").set_value((10, 30))
    at.number_input(key="anim-waves-runs/tiny-fps").set_value(4)
    at.button[[b.label for b in at.button].index("Make the animation")].click()  # the form's submit button
    at.run(timeout=180)
    assert not at.exception and not at.error, [e.value for e in at.exception + at.error]
    made = at.session_state["_animation"]
    assert made["name"] == "neuron-waves-steps-10-30.mp4" and made["steps"] == [10, 20, 30]
    assert at.get("download_button"), "no download button"
    path = tmp_path / made["name"]
    path.write_bytes(made["data"])
    gen = imageio_ffmpeg.read_frames(str(path))
    meta = next(gen)
    frames = [np.frombuffer(b, np.uint8).reshape(meta["size"][1], meta["size"][0], 3) for b in gen]
    assert len(frames) == 3 and meta["fps"] == 4 and tuple(meta["size"]) == tuple(made["size"])
    assert np.abs(frames[0].astype(int) - frames[-1].astype(int)).mean() > 0.5  # the waves differ across steps
