"""ui/safe.py: URL values shown as text (checked with a CommonMark renderer) and URL numbers
parsed without OverflowError (issue 15: ?step=1e30 and ?step=99999999999999999999 crashed the page)."""

from __future__ import annotations

import numpy as np
import pytest
from markdown_it import MarkdownIt

from ui.safe import MAX_URL_INT, ZWSP, cut, plain, url_int, url_int_list

HOSTILE = [
    "[Session expired, log in](http://evil.example/login)",
    "![x](http://evil.example/pixel.png)",
    "<img src=http://evil.example/a.png> <script>alert(1)</script>",
    "http://evil.example/bare and www.evil.example",
    "**bold** _it_ `code` # heading\n- item\n> quote | a | b |",
    ":red[coloured] :smile: $x^2$ ~~struck~~",
    "back\\slash \\[not a link\\](x)",
    "mail me: someone@evil.example",
]


def _tokens(md: str) -> list[str]:
    parser = MarkdownIt("commonmark", {"html": True}).enable(["strikethrough", "table"])
    out = []
    for t in parser.parse(md):
        out.append(t.type)
        out.extend(c.type for c in (t.children or []))
    return out


@pytest.mark.parametrize("text", HOSTILE)
def test_plain_renders_as_exactly_the_text(text):
    md = plain(text, limit=10_000)
    kinds = set(_tokens(md))
    assert kinds <= {"paragraph_open", "inline", "text", "paragraph_close", "softbreak"}, kinds
    html = MarkdownIt("commonmark", {"html": True}).render(md)
    assert "<a " not in html and "<img" not in html and "<script" not in html and "<strong>" not in html
    # GFM autolinks bare "http://..." and "www." in the source (linkify-it is not installed to check it)
    assert "://" not in md.replace("\\", "") and "www." not in md.replace("\\", "")
    shown = MarkdownIt("commonmark").parseInline(md)[0].children
    # the very text, on one line (plus invisible zero-width spaces that break autolinks)
    assert "".join(c.content for c in shown).replace(ZWSP, "") == " ".join(text.split())


def test_long_values_are_cut():
    assert len(plain("a" * 10_000).replace(ZWSP, "")) == 200 and plain("a" * 10_000).endswith("…")
    assert cut("x\n\ny", 10) == "x y"


@pytest.mark.parametrize(
    "raw, want",
    [("6400", 6400), ("6.4e3", 6400), (" 12 ", 12), ("-5", -5), ("1e30", MAX_URL_INT),
     ("99999999999999999999", MAX_URL_INT), ("-1e300", -MAX_URL_INT), ("1e308", MAX_URL_INT)],
)
def test_url_int(raw, want):
    v = url_int(raw)
    assert v == want
    np.abs(np.arange(3) - v)  # usable in numpy without OverflowError


@pytest.mark.parametrize("raw", ["", "abc", "nan", "inf", "-inf", "12.5", "1e400x", "9" * 100, "0x10"])
def test_url_int_refuses_with_value_error_only(raw):
    with pytest.raises(ValueError):
        url_int(raw)


def test_url_int_clamps_and_lists():
    assert url_int("1e30", 0, 25_000) == 25_000 and url_int("-3", 0, 10) == 0
    assert url_int_list("498, 196,112") == [498, 196, 112]
    with pytest.raises(ValueError):
        url_int_list(",".join(["1"] * 65))


_PAGE = """
import sys
sys.path.insert(0, {repo!r})
import streamlit as st
from tests.test_safe import HOSTILE
from ui.safe import plain
for h in HOSTILE:
    st.warning("The link asked for " + plain(h, 10_000) + ", which is not valid here.")
st.markdown("control: [a real link](http://control.example)")
"""


@pytest.mark.browser
@pytest.mark.slow
def test_plain_in_streamlit_in_chromium(tmp_path):
    """Streamlit's own markdown (GFM, autolinks, directives) in a real browser: the text, no link or image."""
    import subprocess
    import sys
    import time
    import urllib.request

    from playwright.sync_api import sync_playwright

    from tests.live_app import CHROMIUM, CHROMIUM_ARGS, REPO, free_port

    (tmp_path / "page.py").write_text(_PAGE.format(repo=str(REPO)))
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "page.py", "--server.port", str(port),
                             "--server.address", "127.0.0.1", "--server.headless", "true"], cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        with sync_playwright() as pw:
            b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = b.new_page()
            page.goto(f"http://127.0.0.1:{port}/")
            page.wait_for_selector("text=a real link", timeout=60_000)
            alerts = page.locator("[data-testid='stAlert']")
            assert alerts.count() == len(HOSTILE)
            assert page.locator("a[href*='control']").count() == 1  # markdown itself still works
            assert page.locator("a[href*='evil'], img[src*='evil'], [data-testid='stAlert'] a").count() == 0
            assert alerts.locator("strong, em, code, del, span[style*='color'], h1, li, blockquote").count() == 0
            texts = [t.replace(ZWSP, "") for t in alerts.all_inner_texts()]
            for h, t in zip(HOSTILE, texts):
                assert t == f"The link asked for {' '.join(h.split())}, which is not valid here.", t
            b.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
