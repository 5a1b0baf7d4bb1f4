"""Sweeps: a tiny CPU grid batched into one model gives, cell by cell, the same memorised and
generalised steps as the same configs trained alone; the file round-trips and refuses damage; the
phase-diagram figure shows every outcome; the bundled sweep is there, labelled for what it is."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from grok_core import sweep as sw
from grok_core import sweep_plots
from grok_core.cli import main
from grok_core.train import summary, train_series
from tests.conftest import GROK_MODEL, REPO, grok_train


@pytest.fixture(autouse=True, scope="module")
def _one_thread(one_cpu_thread):
    yield


FRACS, WDS, SEEDS = [0.3, 0.8], [0.0, 2.0, 20.0], [0]
BASE = grok_train(n_steps=250)


@pytest.fixture(scope="module")
def tiny_sweep(tmp_path_factory):
    rec = sw.run_sweep(GROK_MODEL, BASE, FRACS, WDS, SEEDS, curve_every=50, progress=False, title="tiny")
    path = sw.save_sweep(rec, tmp_path_factory.mktemp("sweep") / "tiny.json")
    return sw.load_sweep(path)


def test_cells_agree_with_single_runs(tiny_sweep, tmp_path):
    """Each run of the batched sweep, retrained alone with train_series, memorises and generalises at the same steps."""
    assert len(tiny_sweep.runs) == len(FRACS) * len(WDS) * len(SEEDS)
    for i, r in enumerate(tiny_sweep.runs):
        cfg = tiny_sweep.run_config(i)
        assert (cfg.frac_train, cfg.weight_decay, cfg.seed) == (r["frac_train"], r["weight_decay"], r["seed"])
        alone = summary(train_series(tmp_path / f"run{i}", GROK_MODEL, cfg, progress=False))
        assert (r["memorised_step"], r["generalised_step"]) == (alone["memorised_step"], alone["generalised_step"]), r
        assert r["final"]["test_acc"] == pytest.approx(alone["final"]["test_acc"], abs=0.01)
    outcomes = {(r["frac_train"], r["weight_decay"]): r["category"] for r in tiny_sweep.runs}
    # Less data or no weight decay: never generalises; a lot of data and weight decay 2: groks;
    # weight decay 20: cannot even fit the training data.
    assert outcomes[(0.8, 2.0)] == sw.GROKS
    assert outcomes[(0.3, 0.0)] == outcomes[(0.8, 0.0)] == sw.NEVER_GENERALISES
    assert outcomes[(0.3, 20.0)] == outcomes[(0.8, 20.0)] == sw.NEVER_FITS


def test_record_contents(tiny_sweep):
    rec = tiny_sweep.record
    assert rec["format"] == "grok-sweep" and rec["axes"] == {"frac_train": FRACS, "weight_decay": WDS, "seed": SEEDS}
    assert rec["curves"]["step"] == list(range(0, 251, 50))
    assert rec["provenance"]["device"] == "cpu" and rec["provenance"]["torch_version"] == torch.__version__
    timing, n_runs = rec["timing"], len(FRACS) * len(WDS) * len(SEEDS)
    assert (timing["runs"], timing["steps"], timing["batch"]) == (n_runs, 250, n_runs)  # one batch of 6 runs
    assert timing["us_per_run_step"] == pytest.approx(1e6 * timing["seconds"] / (n_runs * 250), rel=0.01, abs=0.01)
    grok = next(r for r in tiny_sweep.runs if r["category"] == sw.GROKS)
    assert grok["delay"] == grok["generalised_step"] - grok["memorised_step"] > tiny_sweep.no_delay_steps
    assert grok["key_frequencies"] and all(1 <= k <= (GROK_MODEL.p - 1) // 2 for k in grok["key_frequencies"])
    c = tiny_sweep.curves(0)
    assert c["test_acc"].shape == c["step"].shape == (6,)
    assert tiny_sweep.run_config(0).n_steps == 250 and tiny_sweep.run_config(0).data_seed == BASE.data_seed


def test_classify():
    assert sw.classify(None, None, 40) == sw.NEVER_FITS
    assert sw.classify(None, 500, 40) == sw.NEVER_FITS
    assert sw.classify(100, None, 40) == sw.NEVER_GENERALISES
    assert sw.classify(100, 140, 40) == sw.NO_DELAY
    assert sw.classify(100, 90, 40) == sw.NO_DELAY
    assert sw.classify(100, 141, 40) == sw.GROKS
    assert sw.default_no_delay(25_000, 10) == 500 and sw.default_no_delay(300, 10) == 20


def test_cells_take_the_majority_outcome_and_median_delay(tiny_sweep):
    rec = json.loads(json.dumps(tiny_sweep.record))
    rec["axes"]["seed"] = [0, 1, 2]
    runs = []
    for r in rec["runs"]:
        for s, (mem, gen) in enumerate([(100, 400), (100, 700), (100, None)]):
            cat = sw.classify(mem, gen, 20)
            runs.append({**r, "seed": s, "memorised_step": mem, "generalised_step": gen,
                         "delay": None if gen is None else gen - mem, "category": cat})
    rec["runs"] = runs
    rec["curves"] = {k: (v if k == "step" else [row for row in v for _ in range(3)]) for k, v in rec["curves"].items()}
    s = sw.Sweep(Path("x.json"), rec, tiny_sweep.model_cfg, tiny_sweep.train_cfg)
    cell = s.cells()[0]
    assert cell["category"] == sw.GROKS and cell["n_category"] == 2 and cell["delay"] == 450


def test_load_refuses_damaged_files(tiny_sweep, tmp_path):
    good = json.loads(tiny_sweep.path.read_text())

    def refused(text, *needles):
        p = tmp_path / "bad.json"
        p.write_text(text)
        with pytest.raises(sw.SweepError) as e:
            sw.load_sweep(p)
        for n in (str(p), *needles):
            assert n in str(e.value)

    refused(json.dumps(good)[:100], "not valid JSON")
    refused(json.dumps({**good, "format": "other"}), "not a grok-sweep file")
    refused(json.dumps({**good, "format_version": 9}), "format_version 9 is not supported")
    refused(json.dumps({**good, "runs": good["runs"][:-1]}), "malformed sweep", "runs for a 6-run grid")
    bad = json.loads(json.dumps(good))
    bad["curves"]["test_acc"][0] = bad["curves"]["test_acc"][0][:-1]
    refused(json.dumps(bad), "malformed sweep", "curves['test_acc']")
    bad = json.loads(json.dumps(good))
    bad["runs"][0]["category"] = "confused"
    refused(json.dumps(bad), "unknown category")
    with pytest.raises(sw.SweepError, match="missing"):
        sw.load_sweep(tmp_path / "nope.json")


def test_phase_diagram_figure(tiny_sweep):
    cid = sweep_plots.cell_id(0.8, 2.0)
    fig = sweep_plots.phase_diagram(tiny_sweep, selected=cid).full()  # validated by plotly
    cells = fig.data[-1]
    assert len(cells.x) == 6 and cells.customdata[0][0] == "0.3-0"
    hover = dict(zip([c[0] for c in cells.customdata], [c[1] for c in cells.customdata], strict=True))
    assert "groks" in hover[cid] and "memorised (train acc ≥ 99%) at:" in hover[cid]
    assert "never fits" in hover["0.3-20"] and "generalised (test acc ≥ 99%) at: never" in hover["0.3-0"]
    legend = {t.name for t in fig.data if t.name}
    assert {f"{sw.NEVER_GENERALISES} (∞)", f"{sw.NEVER_FITS} (×)", f"{sw.NO_DELAY} (0)"} <= legend
    assert len(fig.layout.shapes) == 1  # the selected cell is outlined
    # A click arrives as a Streamlit selection event; the cell is read from customdata, or from x/y labels.
    assert sweep_plots.selected_cell({"selection": {"points": [{"customdata": [cid, "..."]}]}}, tiny_sweep) == cid
    assert sweep_plots.selected_cell({"selection": {"points": [{"x": "30%", "y": "20"}]}}, tiny_sweep) == "0.3-20"
    assert sweep_plots.selected_cell({"selection": {"points": []}}, tiny_sweep) is None
    assert sweep_plots.selected_cell(None, tiny_sweep) is None
    curves = sweep_plots.cell_curves(tiny_sweep, cid, "loss").full()
    assert len(curves.data) == 2 and curves.layout.yaxis.type == "log"


def test_cli_sweep(tmp_path):
    out = tmp_path / "cli.json"
    rc = main(["sweep", str(out), "--p", "23", "--d-model", "32", "--d-head", "8", "--d-mlp", "64", "--n-steps", "20",
               "--fracs", "0.5", "--wds", "0,1", "--seeds", "0,1", "--curve-every", "10", "--device", "cpu", "--quiet",
               "--note", "test"])
    assert rc == 0
    s = sw.load_sweep(out)
    assert len(s.runs) == 4 and s.record["provenance"]["note"] == "test"
    assert "sweep" in s.record["provenance"]["command"]


def test_bundled_sweep_is_small_labelled_and_loads():
    files = sorted((REPO / "checkpoints" / "sweeps").glob("*.json"))
    assert files, "no bundled sweep in checkpoints/sweeps"
    for f in files:
        assert f.stat().st_size <= 5 * 2**20
        s = sw.load_sweep(f)
        prov = s.record["provenance"]
        assert prov["command"] and prov["torch_version"] and prov["device"]
        if not str(prov["device"]).startswith("cuda"):  # a sweep trained on a CPU says so, and what it trained
            assert "CPU" in s.title and "CPU" in prov["note"] and f"mod {s.model_cfg.p}" in prov["note"]
        assert len({r["category"] for r in s.runs}) >= 3
        sweep_plots.phase_diagram(s).full()
