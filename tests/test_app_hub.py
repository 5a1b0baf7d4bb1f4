"""The app's Hub side against a real Hub server (olah on loopback, tests/olah_server.py): the sidebar's
"Open from the Hugging Face Hub" field and the ?hub= deep link, under AppTest and in headless chromium.

One olah process and one Hugging Face cache serve the whole module. Streamlit's caches live in this process
across AppTest runs, so each test opens its own repos. The manifest's failure modes (a broken default
entry, a local entry that is not a series) are here too: they decide what the picker offers.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from huggingface_hub import constants
from olah_server import started_olah
from test_hub import make_series, series_files

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

from grok_core import hub  # noqa: E402
from ui import cache, sources  # noqa: E402
from ui.safe import ZWSP  # noqa: E402

pytestmark = pytest.mark.slow  # every test here runs the app (seconds each)

REPO = Path(__file__).resolve().parents[1]
APP = str(REPO / "app.py")
TL_DEMO = REPO / "tests" / "fixtures" / "tl_grokking_demo.pth"  # made by TransformerLens's own demo code
TIMEOUT = 120


@pytest.fixture(scope="module")
def olah(tmp_path_factory):
    """One olah for the module, huggingface_hub pointed at it with an empty cache of the module's own, online."""
    server = started_olah(tmp_path_factory.mktemp("olah"))
    home = tmp_path_factory.mktemp("hf_home")
    mp = pytest.MonkeyPatch()
    for var, value in (("HF_HOME", home), ("HF_HUB_CACHE", home / "hub"), ("HF_ASSETS_CACHE", home / "assets")):
        mp.setenv(var, str(value))
        mp.setattr(constants, var, str(value))
    mp.delenv("HF_HUB_OFFLINE", raising=False)
    mp.setattr(constants, "HF_HUB_OFFLINE", False)
    mp.delenv("HF_TOKEN", raising=False)
    # what HF_ENDPOINT sets when huggingface_hub is imported (the app passes no endpoint)
    mp.setattr(constants, "ENDPOINT", server.url)
    mp.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", server.url + "/{repo_id}/resolve/{revision}/{filename}")
    yield server
    mp.undo()
    server.stop()


@pytest.fixture(scope="module")
def repos(olah, tmp_path_factory):
    """The repos the tests open: native series (main and a branch), a converted .pth, and the failing kinds."""
    import test_convert as tc
    import torch
    from test_hub_olah import Opaque

    root = tmp_path_factory.mktemp("series")
    commits = {}
    for repo, steps in (("alice/link", (0, 10, 20)), ("alice/field", (0, 10, 20, 30)), ("alice/offline", (0, 5)),
                        ("alice/prev", (0, 10, 20))):
        commits[repo] = olah.commit(repo, series_files(make_series(root / repo.replace("/", "-"), steps, repo)))
    commits["alice/link@exp"] = olah.commit("alice/link", series_files(make_series(root / "exp", (0, 5), "exp")),
                                            branch="exp")
    commits["org/tl-demo"] = olah.commit("org/tl-demo", {"grokking_demo.pth": TL_DEMO, "README.md": b"# demo\n"})
    olah.commit("org/notes", {"README.md": b"# notes\n", "notes.txt": b"x"})
    data = tc.make_tl_file(root / "t.pth")
    data["config"] = Opaque()  # a pickled Python object: torch.load(weights_only=True) refuses it
    torch.save(data, root / "grokking_demo.pth")
    olah.commit("org/pickled", {"grokking_demo.pth": root / "grokking_demo.pth"})
    return commits


@pytest.fixture
def offline(olah, monkeypatch):
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)


@pytest.fixture(scope="module")
def bundled_steps() -> list[int]:
    from grok_core.series import open_series

    return [int(s) for s in open_series(REPO / "checkpoints" / "default", verify=False).steps]


def app(query: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params.update(query or {})
    return at.run()


def text(md: str) -> str:
    """What ui.safe.plain's markdown shows: the text without its escapes."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", md.replace(ZWSP, ""))


def errors(at: AppTest) -> list[str]:
    return [text(e.value) for e in at.error]


def chart_titles(at: AppTest) -> list[str]:
    specs = [json.loads(c.proto.json)["spec"] for c in at.get("bidi_component") if c.proto.component_name == "grok_plotly"]
    return [s["layout"].get("title", {}).get("text", "") for s in specs]


def open_in_field(at: AppTest, spec: str) -> AppTest:
    at.text_input(key="hub_field").set_value(spec)
    return at.button(key="hub_open").click().run()


def shows(at: AppTest, series_id: str, step: int) -> None:
    """The app draws `series_id` at `step`, with no exception."""
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="series").value == series_id
    assert at.select_slider(key="step").value == step
    titles = chart_titles(at)
    assert titles and all(t.endswith(f"— step {step}") for t in titles), titles


def test_field_is_in_the_sidebar(olah):
    at = app()
    field = at.sidebar.text_input(key="hub_field")
    assert field.label == "Open from the Hugging Face Hub" and field.value == ""
    assert at.sidebar.expander[0].label == "Open from the Hugging Face Hub"
    assert any("?hub=owner/name" in c.value for c in at.sidebar.caption)
    assert at.sidebar.button(key="hub_open")


def test_hub_link_opens_a_native_series_keeps_hub_in_the_url_and_opens_offline(repos, olah, tmp_path, monkeypatch):
    c1 = repos["alice/link"]
    at = app({"hub": "alice/link"})
    shows(at, f"hub:alice/link@{c1}", 20)  # the id pins the commit; the URL says what the link said
    assert not at.error and not at.warning
    assert dict(at.query_params) == {"hub": "alice/link", "step": "20"}
    assert at.sidebar.selectbox(key="series").format_func(f"hub:alice/link@{c1}") == "Hub: alice/link"
    said = [text(c.value) for c in at.sidebar.caption]
    assert f"alice/link at main (commit {c1[:7]}): series.json, a grok_core series" in said
    at.select_slider(key="step").set_value(10).run()
    shows(at, f"hub:alice/link@{c1}", 10)
    assert dict(at.query_params) == {"hub": "alice/link", "step": "10"}
    at = at.switch_page("pages/waves.py").run()  # another view: the same series, the URL still says hub=
    shows(at, f"hub:alice/link@{c1}", 10)
    assert at.query_params["hub"] == "alice/link"
    at.selectbox(key="series").set_value("default").run()  # another series: hub= goes
    assert "hub" not in at.query_params and at.query_params["series"] == "default"
    # a branch by link
    at = app({"hub": "alice/link@exp"})
    shows(at, f"hub:alice/link@{repos['alice/link@exp']}", 5)
    assert at.query_params["hub"] == "alice/link@exp"
    # a new commit on main: the link opens it (the Hub is asked for the branch's latest commit)
    c2 = olah.commit("alice/link", series_files(make_series(tmp_path / "v2", (0, 10, 20, 30), "v2")), message="more")
    at = app({"hub": "alice/link"})
    shows(at, f"hub:alice/link@{c2}", 30)
    # the Hub unreachable (a closed port): the copy downloaded before opens, and a notice says so
    from live_app import free_port

    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    monkeypatch.setattr(constants, "ENDPOINT", closed)
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", closed + "/{repo_id}/resolve/{revision}/{filename}")
    at = app({"hub": "alice/link"})
    shows(at, f"hub:alice/link@{c2}", 30)
    assert not at.error
    said = " ".join(text(w.value) for w in at.warning)
    assert said.startswith("alice/link: ") and f"; showing the copy downloaded before (commit {c2[:7]})." in said, said
    # offline mode: both open from the cache, without a word
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    assert hub.cached("alice/link").commit == c2
    for spec, commit, step in (("alice/link", c2, 30), ("alice/link@exp", repos["alice/link@exp"], 5)):
        at = app({"hub": spec})
        shows(at, f"hub:alice/link@{commit}", step)
        assert not at.error and not at.warning


def test_field_opens_a_converted_pth_says_which_file_and_joins_the_picker(repos):
    at = open_in_field(app(), "https://huggingface.co/org/tl-demo")  # a pasted link works as owner/name
    tl, field = f"hub:org/tl-demo@{repos['org/tl-demo']}", f"hub:alice/field@{repos['alice/field']}"
    shows(at, tl, 300)  # the demo's epochs 49..299, as optimizer steps 50..300
    assert not at.error
    said = " ".join(text(c.value) for c in at.sidebar.caption)
    assert f"org/tl-demo at main (commit {repos['org/tl-demo'][:7]}): grokking_demo.pth, TransformerLens grokking " \
           "demo, converted" in said
    assert at.query_params["hub"] == "org/tl-demo" and at.text_input(key="hub_field").value == ""
    at = open_in_field(at, "alice/field")  # a second repo: both stay in the picker for the session
    shows(at, field, 30)
    options = at.selectbox(key="series").options
    assert options[0].startswith("Bundled run") and options[-2:] == ["Hub: org/tl-demo", "Hub: alice/field"]
    at.selectbox(key="series").set_value(tl).run()
    shows(at, tl, 50)  # the checkpoint nearest to the step shown before (30)
    assert at.query_params["hub"] == "org/tl-demo"
    assert "Hub: org/tl-demo" not in app().selectbox(key="series").options  # another session has its own list


FAILURES = {  # spec -> the sentence's start (each begins with the repo id)
    "alice/never-downloaded": "alice/never-downloaded: not in the local Hugging Face cache and offline mode is on",
    "nobody/nothing": "nobody/nothing: there is no Hub repo nobody/nothing",
    "org/notes": "org/notes holds no checkpoint series grok_core can read",
    "org/pickled": "org/pickled: grokking_demo.pth: refused. It pickles Python objects",
    "../../etc/passwd": "'../../etc/passwd' is not a valid Hub repo id",
}


def one_sentence(at: AppTest, start: str) -> None:
    """Exactly one error, on one line, starting as expected; nothing else went wrong."""
    assert not at.exception, [e.value for e in at.exception]
    got = errors(at)
    assert len(got) == 1 and got[0].startswith(start) and "\n" not in got[0] and "Traceback" not in got[0], got


@pytest.mark.parametrize("spec", list(FAILURES))
def test_a_failure_in_the_field_says_one_sentence_and_stays_on_the_series(repos, spec, bundled_steps, monkeypatch):
    at = app({"step": str(bundled_steps[3])})
    if spec == "alice/never-downloaded":
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    t0 = time.perf_counter()
    at = open_in_field(at, spec)
    assert time.perf_counter() - t0 < 30  # loose: a failure never waits out the Hub client's retries
    one_sentence(at, FAILURES[spec])
    shows(at, "default", bundled_steps[3])
    assert "hub" not in at.query_params and at.query_params["series"] == "default"
    assert at.text_input(key="hub_field").value == spec  # kept, to correct or to try again
    assert not any(o.startswith("Hub:") for o in at.selectbox(key="series").options)
    at.select_slider(key="step").set_value(bundled_steps[4]).run()  # the next run: the error is gone, all works
    shows(at, "default", bundled_steps[4])
    assert not at.error


def test_a_failing_link_or_field_keeps_a_hub_series_shown(repos):
    at = app({"hub": "nobody/nothing"})
    one_sentence(at, FAILURES["nobody/nothing"])
    assert at.selectbox(key="series").value == "default" and "hub" not in at.query_params
    assert at.text_input(key="hub_field").value == "nobody/nothing"
    at = open_in_field(at, "alice/prev")
    shows(at, f"hub:alice/prev@{repos['alice/prev']}", 20)
    at = open_in_field(at, "org/notes")  # the previous series is a Hub one: it stays, and so does its hub=
    one_sentence(at, FAILURES["org/notes"])
    shows(at, f"hub:alice/prev@{repos['alice/prev']}", 20)
    assert at.query_params["hub"] == "alice/prev"


def test_no_local_path_or_unopened_repo_from_a_url(repos):
    """?series= takes only the ids the picker offers: a hub: id never opened in this session is not one."""
    at = app({"series": f"hub:alice/offline@{repos['alice/offline']}"})
    assert at.selectbox(key="series").value == "default" and not at.error
    assert "series hub:alice/offline@" in " ".join(w.value for w in at.warning).replace("\\", "").replace("\u200b", "")
    at = app({"hub": "/etc/passwd"})
    one_sentence(at, "'/etc/passwd' is not a valid Hub repo id")
    assert sources.hub_choice_for_id("hub:../x") is None and sources.hub_choice_for_id("runs/x") is None


# -- what the picker offers when the manifest is broken (issue: the bundled series must stay reachable) ----
def write_manifest(path: Path, edit) -> Path:
    doc = json.loads(hub.MANIFEST_PATH.read_text())
    edit(doc["series"])
    path.write_text(json.dumps(doc))
    return path


def test_a_broken_default_entry_leaves_the_bundled_series_first(tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "MANIFEST", write_manifest(tmp_path / "m.json", lambda s: s[0].pop("source")))
    choices, problems = sources.list_choices(tmp_path / "no-runs")
    assert choices[0].id == "default" and choices[0].offline and choices[0].local_path == sources.BUNDLED
    assert [c.id for c in choices[1:]] == ["no-weight-decay", "nanda-full-run", "tl-demo-burnycoder"]
    assert problems == ["m.json: entry 1 ('default'): missing field 'source'"]
    # the same in the app: the bundled series is drawn and the problem is said
    cache.catalog.clear()
    try:
        at = app()
        assert at.selectbox(key="series").value == "default" and not at.error and chart_titles(at)
        assert "missing field 'source'" in " ".join(w.value for w in at.warning).replace("\\", "")
    finally:
        monkeypatch.undo()
        cache.catalog.clear()


def test_a_local_entry_that_is_not_a_series_is_refused_not_offered_as_a_download(tmp_path, monkeypatch):
    def edit(series):
        series.insert(1, {**series[0], "id": "notes", "title": "Some notes", "source": {"path": "tests/fixtures"}})
        series[0]["source"] = {"path": "checkpoints/nothing-here"}  # and the default's folder is gone

    monkeypatch.setattr(sources, "MANIFEST", write_manifest(tmp_path / "m.json", edit))
    choices, problems = sources.list_choices(tmp_path / "no-runs")
    assert [c.id for c in choices] == ["default", "no-weight-decay", "nanda-full-run", "tl-demo-burnycoder"]
    assert choices[0].title == "Bundled run" and choices[0].label == "Bundled run"
    assert problems == ["m.json: entry 'default' cannot be offered: the folder checkpoints/nothing-here holds no "
                        "series (missing series.json)",
                        "m.json: entry 'notes' cannot be offered: the folder tests/fixtures holds no series "
                        "(missing series.json)"]
    assert not any("download 52 MB" in c.label for c in choices)


def test_progress_text_gives_the_sizes_then_the_conversion(olah, tmp_path):
    """The bar's text for a real download and conversion (a small file in TransformerLens's demo layout)."""
    import test_convert as tc

    from ui import hub_field

    data = tc.make_tl_file(tmp_path / "run.pth")
    olah.commit("org/progress", {"run.pth": tmp_path / "run.pth"})
    texts = []
    hub.open_hub("org/progress", progress=lambda done, total, msg: texts.append(text(hub_field.progress_text(done, total,
                                                                                                         msg))))
    mb = f"{(tmp_path / 'run.pth').stat().st_size / 1e6:.2f} MB"
    n, last = len(data["checkpoints"]), data["checkpoint_epochs"][-1] + 1
    assert f"downloading run.pth from org/progress · {mb} of {mb}" in texts
    assert texts[-1] == f"converting checkpoint {n}/{n} (step {last})", texts


# -- in a real browser: `streamlit run` against olah, seen by Debian's headless chromium ---------------------
@pytest.mark.browser
def test_browser_opens_a_hub_link_end_to_end(olah, tmp_path):
    """/?hub=owner/name in chromium: the root URL hands the link to the curves page, the repo downloads from olah
    and its view is drawn; the URL keeps hub= (and the step); picking another series drops it."""
    from live_app import CHROMIUM, CHROMIUM_ARGS, running_app

    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    commit = olah.commit("alice/browser", series_files(make_series(tmp_path / "s", (0, 10, 20, 30, 40), "browser")))
    done = """(step) => { const a = document.querySelector('[data-testid="stApp"]');
      if (!a || a.dataset.testScriptState !== 'notRunning') return false;
      return [...document.querySelectorAll('.js-plotly-plot .gtitle')].some(t => t.textContent.endsWith('step ' + step)); }"""
    env = {"HF_HOME": str(tmp_path / "hf"), "HF_HUB_CACHE": str(tmp_path / "hf" / "hub"),
           "HF_ASSETS_CACHE": str(tmp_path / "hf" / "assets"), "HF_ENDPOINT": olah.url}
    with running_app(env=env) as (base, _), sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{base}/?hub=alice/browser")
        page.wait_for_function(done, arg=40, polling="raf", timeout=120_000)
        assert "/curves?" in page.url and "hub=alice%2Fbrowser" in page.url and "series=" not in page.url
        picked = page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"] input').first.input_value()
        assert "Hub: alice/browser" in picked, picked
        said = page.locator('[data-testid="stSidebar"]').inner_text().replace(ZWSP, "")
        assert f"alice/browser at main (commit {commit[:7]}): series.json" in said, said
        assert page.locator('[data-testid="stException"], [data-testid="stAlertContentError"]').count() == 0
        page.keyboard.press("Escape")
        slider = page.locator('[data-testid="stSidebar"] [data-testid="stSlider"] input[type=range]').first
        slider.focus()
        page.keyboard.press("ArrowLeft")
        page.wait_for_function(done, arg=30, polling="raf", timeout=60_000)
        page.wait_for_function("() => location.search.includes('step=30')", timeout=30_000)
        assert "hub=alice%2Fbrowser" in page.url
        browser.close()
