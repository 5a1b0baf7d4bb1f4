"""Hostile URL values on every page (issue 15): numbers like 1e30 or twenty 9s never crash a page (they
became an OverflowError with a traceback), and text from the URL is shown as text, never as markdown
(a link in a notice, an image the browser fetched), cut to a readable length."""

from __future__ import annotations

import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

import pytest

pytest.importorskip("streamlit")
from markdown_it import MarkdownIt  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

from tests.test_app import APP, PAGES, TIMEOUT, titles  # noqa: E402
from ui.safe import ZWSP  # noqa: E402

pytestmark = pytest.mark.slow  # every test here runs the app (seconds each)

REPO = Path(__file__).resolve().parents[1]
ALL_PAGES = sorted(p.stem for p in (REPO / "pages").glob("*.py"))
NUMERIC = ["x", "y", "neuron", "c", "k", "n", "neurons"]  # every numeric URL parameter a view reads, and step
HUGE = {  # step first (the sidebar, on every page), then the views' own numbers
    "1e30": {"step": "1e30", **{k: "-99999999999999999999" for k in NUMERIC}},
    "20 nines": {"step": "99999999999999999999", **{k: "-1e30" for k in NUMERIC}},
}
JUNK = {"step": "nan", "x": "inf", "y": "12.5", "neuron": "0x10", "c": "9" * 10_000, "k": "1e400x",
        "n": "", "neurons": "1,2,abc"}


def open_page(page: str, query: dict) -> AppTest:
    """A fresh session that opens `page` from a link carrying `query`."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params.update(query)
    if page != "curves":
        at.switch_page(f"pages/{page}.py")  # the first run is that page, as in a browser opening its link
    return at.run()


def notices(at: AppTest) -> list[str]:
    return [w.value for w in at.warning]


def assert_page_works(at: AppTest, page: str) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    if page in PAGES:
        assert len(titles(at)) == len(PAGES[page]), titles(at)


@pytest.fixture(scope="module")
def steps() -> list[int]:
    from grok_core.hub import load_manifest, local_path
    from grok_core.series import open_series

    entries, _ = load_manifest()
    return [int(s) for s in open_series(local_path(entries[0]), verify=False).steps]


@pytest.mark.parametrize("case", list(HUGE))
@pytest.mark.parametrize("page", ALL_PAGES)
def test_huge_numbers_in_the_url_on_every_page(page, case, steps):
    at = open_page(page, HUGE[case])
    assert_page_works(at, page)
    assert at.select_slider(key="step").value == steps[-1]  # the nearest checkpoint
    assert at.query_params["step"] == str(steps[-1])
    assert any(n.startswith("The link asked for step") for n in notices(at)), notices(at)
    for k in NUMERIC:  # every view number the page shows was clamped into its range, with a notice
        if k in at.query_params and k != "neurons":
            assert abs(int(at.query_params[k])) < 10**6, (k, at.query_params[k])


@pytest.mark.parametrize("page", ["inputs", "waves", "grid", "crests", "surfaces"])
def test_junk_numbers_in_the_url(page, steps):
    at = open_page(page, JUNK)
    assert_page_works(at, page)
    assert at.select_slider(key="step").value == steps[-1]
    shown = " ".join(notices(at))
    assert "9" * 100 not in shown  # a 10,000-character value is cut, not repeated
    assert all(len(n.replace("\\", "").replace(ZWSP, "")) <= 400 for n in notices(at))


def _rendered(md: str) -> str:
    return MarkdownIt("commonmark", {"html": True}).render(md)


@pytest.mark.parametrize("value", ["[Session expired, log in](http://x)", "![x](http://127.0.0.1:9/img)",
                                   "<img src=http://127.0.0.1:9/a.png>", "**bold** :red[red]"])
def test_url_text_in_a_notice_is_text(value):
    at = open_page("crests", {"source": "logit", "c": value})
    assert_page_works(at, "crests")
    [said] = [n for n in notices(at) if "The link asked for c" in n]
    html = _rendered(said)
    assert "<a " not in html and "<img" not in html and "<strong>" not in html, html
    assert value in said.replace("\\", "").replace(ZWSP, "")  # the very text, shown literally


def test_a_long_url_value_is_cut():
    at = open_page("curves", {"series": "s" * 10_000})
    assert_page_works(at, "curves")
    [said] = [n for n in notices(at) if "The link asked for series" in n]
    assert 10 < len(said.replace("\\", "").replace(ZWSP, "")) <= 400 and "…" in said
    assert at.query_params["series"] == "default"


class _Recorder(BaseHTTPRequestHandler):
    """A loopback server that records every request (an image the browser must not fetch)."""

    hits: list[str] = []

    def do_GET(self):  # noqa: N802 (http.server's name)
        _Recorder.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.mark.browser
def test_in_chromium_no_link_no_image_fetched_and_long_values_cut():
    from playwright.sync_api import sync_playwright

    from tests.live_app import CHROMIUM, CHROMIUM_ARGS, running_app

    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    img = f"http://127.0.0.1:{srv.server_address[1]}/img"
    _Recorder.hits = []
    cases = {"link": "[Session expired, log in](http://x)", "image": f"![x]({img})", "html": f"<img src={img}?h>",
             "long": "A" * 10_000}
    try:
        with running_app() as (base, _), sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page()
            for name, value in cases.items():
                page.goto(f"{base}/crests?source=logit&c={quote(value, safe='')}")
                alert = page.locator("[data-testid='stAlert']", has_text="The link asked for c")
                alert.wait_for(timeout=90_000)
                page.wait_for_timeout(500)  # time for an image to be requested, if it were one
                assert alert.locator("a, img").count() == 0, name
                text = alert.inner_text().replace(ZWSP, "")
                if name == "long":
                    assert "A" * 61 not in text and len(text) < 400, len(text)
                else:
                    assert value in text, (name, text)
                if shots := os.environ.get("GROK_SCREENSHOTS"):  # a folder, to look at the page
                    page.screenshot(path=f"{shots}/safety-{name}.png")
            browser.close()
    finally:
        srv.shutdown()
    assert _Recorder.hits == [], _Recorder.hits  # the browser never asked for the image
