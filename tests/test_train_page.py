"""The Train & publish page on a shared server (issue 15), in real Streamlit sessions (AppTest): a server-wide
limit on trainings at once, each session seeing and stopping only its own runs, the step limit shown and
enforced with a message, a full disk as a message, and publishing with Cancel and a timeout message."""

from __future__ import annotations

import time

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

from tests.test_reliability import SilentServer, _complete, _disk_full_after  # noqa: E402
from ui.safe import ZWSP  # noqa: E402

pytestmark = pytest.mark.slow  # every test here runs the app (seconds each)

from tests.test_app import APP, TIMEOUT  # noqa: E402


@pytest.fixture
def runs(tmp_path, monkeypatch):
    """A fresh runs/ folder and an empty job registry; every run still going is stopped afterwards."""
    from ui import cache, sources, training

    monkeypatch.setattr(cache, "RUNS", tmp_path)
    monkeypatch.setattr(sources, "RUNS", tmp_path)
    monkeypatch.setattr(training, "_JOBS", {})
    cache.catalog.clear()
    yield tmp_path
    for job in training.jobs().values():
        job.request_stop()
    t_end = time.monotonic() + 60
    while any(not j.finished for j in training.jobs().values()) and time.monotonic() < t_end:
        time.sleep(0.2)
    cache.catalog.clear()


def train_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    return at.switch_page("pages/train.py").run()


def submit(at: AppTest, name: str, steps: int, preset: str = "tiny") -> AppTest:
    at.radio[0].set_value(preset).run()
    [t for t in at.text_input if t.label.startswith("Name")][0].set_value(name)
    [n for n in at.number_input if n.label.startswith("Steps")][0].set_value(steps)
    return [b for b in at.button if b.label == "Start training"][0].click().run()


def errors(at: AppTest) -> str:
    return " ".join(e.value for e in at.error).replace("\\", "").replace(ZWSP, "")


def test_steps_over_the_limit_are_a_message_and_the_limit_is_shown(runs):
    from ui import training

    at = train_page()
    steps = [n for n in at.number_input if n.label.startswith("Steps")][0]
    assert f"{training.MAX_STEPS:,}" in steps.label  # the limit beside the field
    at = submit(at, "huge", 1_000_000_000)
    assert not at.exception
    assert f"Steps must be between 100 and {training.MAX_STEPS:,}" in errors(at), errors(at)
    assert "1,000,000,000" in errors(at)
    assert training.jobs() == {}  # nothing started
    assert any("parameters" in c.value and f"{training.MAX_PARAMS:,}" in c.value for c in at.caption)


def test_one_training_at_a_time_and_each_session_sees_only_its_own(runs):
    from ui import training

    assert training.MAX_RUNS == 1  # the default
    alice = submit(train_page(), "alice-run", 1500)
    assert not alice.exception and not alice.error, errors(alice)
    assert [s.value for s in alice.subheader if "alice-run" in s.value]
    assert [b for b in alice.button if b.label == "Stop"]

    bob = train_page()
    assert not [s for s in bob.subheader if "alice-run" in s.value]  # another visitor does not see the run
    assert not [b for b in bob.button if b.label == "Stop"]  # nor stop it
    bob = submit(bob, "bob-run", 200)
    assert "The server is busy: 1 of 1 training slot in use" in errors(bob), errors(bob)
    assert set(training.jobs()) == {"alice-run"}
    bob = submit(bob, "alice-run", 200)  # nor take over its folder
    assert "already training" in errors(bob)

    [b for b in alice.button if b.label == "Stop"][0].click().run()
    job = training.jobs()["alice-run"]
    t_end = time.monotonic() + 60
    while not job.finished and time.monotonic() < t_end:
        time.sleep(0.2)
    assert job.status == "stopped"
    bob = submit(bob, "bob-run", 100)  # the slot is free again
    assert not bob.error, errors(bob)
    assert set(training.jobs(owner=bob.session_state["_train_owner"])) == {"bob-run"}


def test_a_full_disk_is_a_message_naming_the_file(runs, monkeypatch):
    from ui import training

    _disk_full_after(monkeypatch, 0)  # the first checkpoint file fails like ENOSPC
    at = submit(train_page(), "full", 100)
    job = training.jobs()["full"]
    t_end = time.monotonic() + 60
    while not job.finished and time.monotonic() < t_end:
        time.sleep(0.2)
    assert job.status == "failed"
    at.run()
    assert not at.exception
    text = errors(at)
    assert "The disk is full: writing" in text and str(runs / "full") in text and "MB are free" in text, text
    assert "Traceback" not in text and "SafetensorError" not in text


def _publish(at: AppTest, series_id: str, repo_id: str) -> AppTest:
    at.selectbox[1].set_value(series_id)  # [0] is the sidebar's series picker
    [t for t in at.text_input if t.label == "Repository id"][0].set_value(repo_id)
    return [b for b in at.button if b.label == "Publish"][0].click().run()


def test_publish_can_be_cancelled_from_the_page(runs, monkeypatch):
    """Against a loopback server that accepts and never answers (a real peer: no Hub can run here)."""
    _complete(runs / "pub")
    with SilentServer() as url:
        monkeypatch.setenv("HF_ENDPOINT", url)
        monkeypatch.setenv("HF_TOKEN", "hf_test")
        at = _publish(train_page(), "runs/pub", "alice/x")
        assert not at.exception and not at.error, errors(at)
        assert any(i.value.startswith("Uploading") for i in at.info), [i.value for i in at.info]
        assert [b for b in at.button if b.label == "Publish"][0].disabled  # one upload at a time
        t = time.monotonic()
        [b for b in at.button if b.label == "Cancel"][0].click().run()
        up = at.session_state["_upload"]
        while not up.finished and time.monotonic() - t < 10:
            time.sleep(0.1)
        assert up.status == "cancelled"
        at.run()
        assert any("was cancelled" in w.value for w in at.warning), [w.value for w in at.warning]
        assert not [b for b in at.button if b.label == "Publish"][0].disabled


def test_publish_timeout_is_shown(runs, monkeypatch):
    from ui import training

    _complete(runs / "pub")
    monkeypatch.setattr(training, "PUBLISH_TIMEOUT_S", 1.5)
    with SilentServer() as url:
        monkeypatch.setenv("HF_ENDPOINT", url)
        monkeypatch.setenv("HF_TOKEN", "hf_test")
        at = _publish(train_page(), "runs/pub", "alice/x")
        up = at.session_state["_upload"]
        t_end = time.monotonic() + 40
        while not up.finished and time.monotonic() < t_end:
            time.sleep(0.2)
        at.run()
    assert up.status == "failed"
    assert "did not answer within 1.5 s during create_repo for alice/x" in errors(at), errors(at)


def test_small_trainings_run_on_one_thread_and_give_the_servers_count_back(runs):
    """The app's threads sleep between ops, where a second thread costs a small model more than it gives: the tiny
    preset trains on one thread, Nanda's on the server's count, and threads started while a small training runs
    (every rerun of a page) keep the server's count (torch's count is per thread once used, and the last one set
    for threads started later)."""
    import threading

    import torch

    from grok_core.config import ModelConfig, TrainConfig
    from ui import training

    tiny = ModelConfig(p=23, d_model=32, n_heads=4, d_head=8, d_mlp=64)
    tcfg = TrainConfig(frac_train=0.6, n_steps=120, lr=3e-3, schedule=((100, 10), (10**9, 50)))
    assert training.threads_for(tiny, tcfg, "cpu") == 1
    assert training.threads_for(ModelConfig(), TrainConfig(), "cpu") == training.SERVER_THREADS
    assert training.threads_for(tiny, tcfg, "cuda") == training.SERVER_THREADS
    job = training.start("me", "tiny-threads", runs / "tiny-threads", tiny, tcfg)
    assert job.threads == 1
    seen = []

    def meanwhile():
        seen.append(torch.get_num_threads())

    t_end = time.monotonic() + 60
    while not job.finished and time.monotonic() < t_end:
        if job.step > 0 and not seen:  # the training is under way on its one thread
            later = threading.Thread(target=meanwhile)
            later.start()
            later.join()
        time.sleep(0.01)
    assert job.status == "done", job.error
    assert seen == [training.SERVER_THREADS]
