"""The app in a real browser: `streamlit run` on a free loopback port, Debian's headless chromium via Playwright.

Opens every page, moves the step slider with the keyboard, and checks that a chart is drawn for the new
step and that no error is shown; also the embedded mode (?embed=true) and the plotly PNG export.
Never downloads a browser: skipped when /usr/bin/chromium or the playwright package is missing.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.live_app import CHROMIUM, CHROMIUM_ARGS, REPO, running_app

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PAGES = ["", "curves", "inputs", "waves", "grid", "embeddings", "surfaces", "crests", "attention", "progress", "about", "train"]
NO_FIGURES = {"about", "train"}
SLIDER = '[data-testid="stSidebar"] [data-testid="stSlider"] input[type=range]'
ERRORS = '[data-testid="stException"], [data-testid="stAlertContentError"]'
DONE = """(step) => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.dataset.testScriptState !== 'notRunning') return false;
  const titles = [...document.querySelectorAll('.js-plotly-plot .gtitle')].map(t => t.textContent);
  return titles.some(t => t.endsWith('step ' + step));
}"""
IDLE = """() => { const a = document.querySelector('[data-testid="stApp"]');
                  return a && a.dataset.testScriptState === 'notRunning'; }"""


@pytest.fixture(scope="module")
def server():
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    pytest.importorskip("playwright")
    with running_app() as (base, _):
        yield base


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    pg = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    yield pg
    pg.close()


def steps_of_bundled() -> list[int]:
    sys.path.insert(0, str(REPO))
    from grok_core.hub import load_manifest, local_path
    from grok_core.series import open_series

    entries, _ = load_manifest()
    return [int(s) for s in open_series(local_path(entries[0]), verify=False).steps]


@pytest.mark.parametrize("path", PAGES, ids=[p or "curves" for p in PAGES])
def test_page_renders_and_follows_the_slider(server, page, path):
    steps = steps_of_bundled()
    start = steps[len(steps) // 2]
    page.goto(f"{server}/{path}?step={start}")
    if path in NO_FIGURES:
        page.wait_for_function(IDLE, timeout=120_000)
        page.wait_for_selector("h1", timeout=30_000)
    else:
        page.wait_for_function(DONE, arg=start, polling="raf", timeout=120_000)
    slider = page.locator(SLIDER).first
    slider.focus()
    page.keyboard.press("ArrowLeft")
    new = int(slider.get_attribute("aria-valuetext").replace(",", ""))
    assert new == steps[steps.index(start) - 1]
    if path in NO_FIGURES:
        page.wait_for_function(f"() => location.search.includes('step={new}')", timeout=60_000)
        page.wait_for_function(IDLE, timeout=60_000)
    else:
        page.wait_for_function(DONE, arg=new, polling="raf", timeout=60_000)
        assert page.locator(".js-plotly-plot .main-svg").count() > 0
    assert page.locator(ERRORS).count() == 0, page.locator(ERRORS).all_inner_texts()
    assert f"step={new}" in page.url  # the URL follows the slider


def test_embedded_page_and_png_export(server, page):
    steps = steps_of_bundled()
    page.goto(f"{server}/waves?embed=true&step={steps[-1]}")
    page.wait_for_function(DONE, arg=steps[-1], polling="raf", timeout=120_000)
    assert "embed=true" in page.url
    # the step control is inline when embedded (tests/test_embed.py checks the compact layout itself)
    assert page.locator('.st-key-step-bar [data-testid="stSlider"] input[type=range]').count() == 1
    page.locator(".js-plotly-plot").first.hover()
    with page.expect_download(timeout=30_000) as download:
        page.locator('.modebar-btn[data-title="Download plot as a PNG"]').first.click()
    assert download.value.suggested_filename == "neuron-waves.png"
    assert page.locator(ERRORS).count() == 0


def test_bad_link_shows_a_notice_not_an_error(server, page):
    page.goto(f"{server}/crests?step=123456789&c=oops")
    page.wait_for_function(IDLE, timeout=120_000)
    page.wait_for_selector('[data-testid="stAlertContentWarning"]', timeout=30_000)
    text = " ".join(page.locator('[data-testid="stAlertContentWarning"]').all_inner_texts())
    assert "step 123456789" in text and "“oops”" in text
    page.wait_for_selector(".js-plotly-plot .main-svg", timeout=30_000)
    assert page.locator(ERRORS).count() == 0


def _step_left(page) -> int:
    slider = page.locator(SLIDER).first
    slider.focus()
    page.keyboard.press("ArrowLeft")
    new = int(slider.get_attribute("aria-valuetext").replace(",", ""))
    page.wait_for_function(DONE, arg=new, polling="raf", timeout=60_000)
    return new


def test_zoom_and_3d_camera_survive_a_step_change(server, page):
    """Charts are updated in place (ui/charts.py), so what the student zoomed or rotated stays."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    steps = steps_of_bundled()
    start = steps[len(steps) // 2]
    page.goto(f"{server}/crests?step={start}")
    page.wait_for_function(DONE, arg=start, polling="raf", timeout=120_000)
    heat = page.locator(".js-plotly-plot").first
    page.evaluate("() => { document.querySelector('.js-plotly-plot').dataset.mark = 'same-div'; }")
    box = heat.locator(".nsewdrag").first.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.2, box["y"] + box["height"] * 0.2)  # drag-zoom a box
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5, steps=8)
    page.mouse.up()
    rng = "() => document.querySelector('.js-plotly-plot')._fullLayout.xaxis.range.map(v => v.toFixed(3)).join(',')"
    page.wait_for_function(f"() => ({rng})() !== '-0.500,112.500'", polling="raf", timeout=5_000)  # the drag zoomed
    zoomed = page.evaluate(rng)
    _step_left(page)
    assert page.evaluate("() => document.querySelector('.js-plotly-plot').dataset.mark") == "same-div"
    assert page.evaluate(rng) == zoomed

    page.goto(f"{server}/surfaces?view=3d&step={start}")
    page.wait_for_function(DONE, arg=start, polling="raf", timeout=120_000)
    # The 2-D charts of the page (titled with the step, so DONE holds) are often drawn before plotly's
    # WebGL module has made the 3-D one: wait for the scene itself.
    page.wait_for_function("() => { const g = document.querySelector('.js-plotly-plot');"
                           " return g && g._fullLayout && g._fullLayout.scene && g.querySelector('.gl-container canvas'); }",
                           polling="raf", timeout=60_000)
    gl = page.locator(".js-plotly-plot .gl-container canvas").first
    eye = "() => JSON.stringify(document.querySelector('.js-plotly-plot')._fullLayout.scene.camera.eye)"
    before = page.evaluate(eye)
    # Should a drag still be dropped on a loaded machine, measure the canvas again and drag again,
    # at most three times, before failing.
    for attempt in range(3):
        gl.scroll_into_view_if_needed()
        box = gl.bounding_box()
        cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        page.mouse.move(cx, cy)  # rotate the camera by dragging
        page.mouse.down()
        page.mouse.move(cx + 120, cy + 40 + 10 * attempt, steps=10)
        page.mouse.up()
        try:
            page.wait_for_function(f"(b) => ({eye})() !== b", arg=before, polling="raf", timeout=5_000)
            break
        except PlaywrightTimeout:
            continue
    rotated = page.evaluate(eye)
    assert rotated != before, "three drags on the 3-D surface did not move the camera"
    _step_left(page)
    page.wait_for_timeout(300)
    assert page.evaluate(eye) == rotated
    assert page.locator(ERRORS).count() == 0


def test_sidebar_links_keep_the_step(server, page):
    """The sidebar's own page links (Streamlit's list of pages/ is off): titled views in sections, and going to
    another view keeps the series and step."""
    steps = steps_of_bundled()
    page.goto(f"{server}/?step={steps[5]}")  # the root URL opens the training curves
    page.wait_for_function(DONE, arg=steps[5], polling="raf", timeout=120_000)
    assert "/curves" in page.url and f"step={steps[5]}" in page.url
    nav = page.locator('[data-testid="stSidebar"] [data-testid="stPageLink"]')
    assert nav.count() == 14 and any(t.endswith("Neuron waves") for t in nav.all_inner_texts())
    assert page.locator('[data-testid="stSidebarNav"]').count() == 0  # no second, automatic list
    page.locator('[data-testid="stSidebar"] [data-testid="stPageLink"] a', has_text="Crests").click()
    page.wait_for_function(DONE, arg=steps[5], polling="raf", timeout=60_000)
    assert "/crests" in page.url and f"step={steps[5]}" in page.url
    assert page.locator(ERRORS).count() == 0


def test_play_runs_to_the_last_checkpoint_and_stops(server, page):
    steps = steps_of_bundled()
    page.goto(f"{server}/waves?step={steps[-4]}")
    page.wait_for_function(DONE, arg=steps[-4], polling="raf", timeout=120_000)
    page.locator(".st-key-play button").first.click()
    page.wait_for_function(DONE, arg=steps[-1], polling="raf", timeout=60_000)  # plays steps[-3], [-2], [-1]
    page.wait_for_function(f"() => location.search.includes('step={steps[-1]}')", timeout=30_000)
    page.wait_for_selector('.st-key-play button[data-testid="stBaseButton-secondary"]', timeout=30_000)  # stopped
    page.wait_for_timeout(1000)
    slider = page.locator(SLIDER).first
    assert int(slider.get_attribute("aria-valuetext").replace(",", "")) == steps[-1]
    assert page.locator(ERRORS).count() == 0
