"""The Compare and Interventions pages, the correctness map (Training curves) and loss against weight norm
(Progress) under AppTest: deep links, bad URL values, and texts that follow the numbers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

from tests.conftest import GROK_MODEL, grok_train  # noqa: E402

pytestmark = pytest.mark.slow  # every test here runs the app (seconds each)

REPO = Path(__file__).resolve().parents[1]
APP = str(REPO / "app.py")
TIMEOUT = 180
COMPARE_FIGURES = ["Loss (log scale) — Run A at", "Accuracy — Run A at", "Run A: W_E per frequency",
                   "Run B: W_E per frequency", "Run A: Probe circles", "Run B: Probe circles", "Run A: logit of answer 7",
                   "Run B: logit of answer 7"]



def shown_warnings(at) -> str:
    """The notices as shown: ui/safe.plain escapes their punctuation and breaks autolinks with zero-width spaces."""
    return " ".join(w.value for w in at.warning).replace("\\", "").replace("\u200b", "")

def charts(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.json)["spec"] for c in at.get("bidi_component") if c.proto.component_name == "grok_plotly"]


def titles(at: AppTest) -> list[str]:
    return [spec["layout"].get("title", {}).get("text", "") for spec in charts(at)]


def page(name: str, query: dict | None = None) -> AppTest:
    """Open a page straight from a link (its query parameters): a fresh session whose first run is that page."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params.update(query or {})
    return (at.switch_page(f"pages/{name}.py") if name != "curves" else at).run()


def text(at: AppTest) -> str:
    return " ".join(i.value for i in at.info)


def clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


@pytest.fixture(scope="module")
def no_decay_run(tmp_path_factory, one_cpu_thread):
    """A tiny run trained here without weight decay (p = 31, 300 steps): it memorises and does not generalise.

    Offered as "runs/no-decay" through GROK_APP_RUNS, as a run trained on the Train page would be.
    """
    from grok_core.train import train_series
    from ui import cache

    runs = tmp_path_factory.mktemp("runs")
    s = train_series(runs / "no-decay", GROK_MODEL, grok_train(n_steps=300, weight_decay=0.0), progress=False)
    mp = pytest.MonkeyPatch()
    mp.setattr(cache, "RUNS", runs)
    cache.catalog.clear()
    yield s
    mp.undo()
    cache.catalog.clear()


def test_compare_deep_link_opens_both_runs_at_the_step():
    at = page("compare", {"a": "default", "b": "default", "step": "6400", "align": "step", "view": "crests"})
    clean(at)
    assert [t[: len(w)] for t, w in zip(titles(at), COMPARE_FIGURES, strict=True)] == COMPARE_FIGURES
    assert all("6,400" in t or "6400" in t for t in titles(at))
    said = text(at)
    assert "Run A at step 6,400 (cleanup, test accuracy 19%), Run B at step 6,400 (cleanup, 19%)" in said
    assert "Both sides are the same run at the same checkpoint" in said
    assert dict(at.query_params) == {"a": "default", "b": "default", "step": "6400", "align": "step",
                                     "view": "crests"}  # run A is written back as ?a=, not ?series=


def test_compare_texts_follow_the_step():
    """The same link at the end of training: the numbers in the sentence move with the step."""
    at = page("compare", {"a": "default", "b": "default", "step": "1400", "view": "grid"})
    clean(at)
    early = text(at)
    assert "Run A at step 1,400 (memorising" in early or "Run A at step 1,400 (circuit forming" in early
    assert titles(at)[6].startswith("5×5 neuron pairs over y")  # the chosen view: the scatter grid
    at.select_slider(key="step").set_value(25000).run()
    clean(at)
    late = text(at)
    assert "Run A at step 25,000 (generalised, test accuracy 100%)" in late and late != early
    assert at.query_params["step"] == "25000"


def test_compare_bad_link_values_fall_back_with_notices():
    at = page("compare", {"a": "nope", "b": "../../etc", "step": "99999999", "align": "sideways", "view": "3d"})
    clean(at)
    said = shown_warnings(at)
    for what in ("series nope", "b = “../../etc”", "step 99999999", "align = “sideways”", "view = “3d”"):
        assert what in said, (what, said)
    assert dict(at.query_params) == {"a": "default", "b": "no-weight-decay", "step": "25000", "align": "step",
                                     "view": "crests"}
    assert len(charts(at)) == 8


def test_compare_with_a_run_trained_without_weight_decay(no_decay_run):
    """Run B, trained here without weight decay: the sentences say it never generalises, with its own numbers."""
    from grok_core.analysis.compare import run_reading
    from ui import cache

    last = int(no_decay_run.steps[-1])
    at = page("compare", {"a": "default", "b": "runs/no-decay", "step": "25000", "align": "phase"})
    clean(at)
    assert len(charts(at)) == 8
    b = run_reading("Run B", no_decay_run.params_at(last), no_decay_run.model_cfg, no_decay_run.metrics, last,
                    cache.final_key_freqs("runs/no-decay"))
    said = text(at)
    assert b.memorised_step is not None and b.generalised_step is None
    assert (f"Run B never generalises: it memorises its training sums by step {b.memorised_step:,}, but after "
            f"{last:,} steps it gets only {b.final_test_acc:.0%} of the others right") in said
    assert "run B never reaches 'generalised'; shown at its last step" in said
    assert "Trained here: no-decay" in " ".join(m.value for m in at.markdown) or any(
        "no-decay" in s.value for s in at.subheader)


def test_interventions_default_comparison_and_deep_link():
    at = page("interventions", {"step": "25000"})
    clean(at)
    assert [t.split(" (")[0] for t in titles(at)][:2] == ["Accuracy before and after removing — step 25000",
                                                          "Loss before and after removing — step 25000"]
    assert len(charts(at)) == 4  # bars of accuracy and loss, the maps before and after the chosen cut
    assert titles(at)[3].startswith("After (train 2% right, test 2%)")  # the map after removing all keys
    at.radio(key="map").set_value("1").run()
    assert titles(at)[3].startswith("After (train 100% right, test 100%)") and at.query_params["map"] == "1"
    said = text(at)
    assert "Removing all 5 key frequencies (51, 8, 29, 34, 27) takes test accuracy from 100% to 2%" in said
    assert "the answer is gone" in said and "removing only frequency 27" in said and "the answer survives" in said
    at = page("interventions", {"step": "25000", "cut": "neurons", "remove": "chosen", "k": "8"})
    clean(at)
    assert len(charts(at)) == 4 and len(at.radio(key="map").options) == 1
    label = at.radio(key="map").options[0]
    assert label.startswith("after removing the ") and label.endswith(" neurons of frequency 8")
    assert dict(at.query_params) == {"series": "default", "step": "25000", "cut": "neurons", "remove": "chosen",
                                     "k": "8", "map": "0"}
    at = page("interventions", {"step": "25000", "cut": "neurons", "remove": "neurons", "neurons": "3,17,9999"})
    clean(at)
    assert at.query_params["neurons"] == "3,17,511"  # out of range: clamped, with a notice
    assert "The link asked for" in " ".join(w.value for w in at.warning)
    assert "removing 3 neurons takes test accuracy from 100% to 100%" in text(at).lower()
    early = page("interventions", {"step": "1400", "cut": "bogus"})
    clean(early)
    assert "cut = “bogus”" in shown_warnings(early)
    assert "little to break there yet" in text(early)


def test_correctness_map_on_the_curves_page_and_weight_norm_on_progress():
    at = page("curves", {"step": "1400"})
    clean(at)
    assert titles(at)[2].startswith("Which sums the model gets right (train 100% right, test ")
    assert any("it has memorised a look-up table" in m.value for m in at.markdown)
    at.select_slider(key="step").set_value(25000).run()
    assert any("The model computes the sum instead of looking it up" in m.value for m in at.markdown)
    at = page("progress", {"step": "25000"})
    clean(at)
    assert titles(at)[2].startswith("Loss against the sum of squared weights")
    assert any("Loss against weight norm" in m.value and "and it is falling with the test loss" in m.value
               for m in at.markdown)
