"""The bundled default series: it really groks, float16 storage is faithful, provenance matches."""

import json

import numpy as np
from conftest import BUNDLED, REPO

from grok_core.hub import load_manifest
from grok_core.series import sha256_file
from grok_core.train import recompute_metrics, summary


def _at(series, name, step):
    m = series.metrics
    return float(m[name][np.searchsorted(m["step"], step)])


def test_bundled_series_groks(bundled):
    assert bundled.complete and bundled.steps[-1] >= 25_000
    assert 100 <= len(bundled.steps) <= 150
    assert bundled.dtype_name == "float16"
    assert np.all(np.diff(bundled.metrics["step"]) <= 10)  # metrics at least every 10 steps
    assert _at(bundled, "test_acc", 1000) < 0.20
    assert bundled.metrics["test_acc"][-1] >= 0.999
    # A clear plateau: memorised early, test accuracy still low for thousands of steps after.
    s = summary(bundled)
    assert s["memorised_step"] < 500 and s["generalised_step"] - s["memorised_step"] > 3000
    assert _at(bundled, "train_acc", 3000) == 1.0 and _at(bundled, "test_acc", 3000) < 0.2


def test_float16_checkpoints_reproduce_the_float32_metrics(bundled):
    steps = [0, 200, 1000, 7400, 8000, int(bundled.steps[-1])]
    r = recompute_metrics(bundled, steps)
    idx = np.searchsorted(bundled.metrics["step"], steps)
    for k in ("train_acc", "test_acc"):
        assert np.abs(r[k] - bundled.metrics[k][idx]).max() <= 0.001, k  # within 0.1 pp


def test_manifest_provenance_matches_the_files():
    entries, errors = load_manifest(REPO / "checkpoints_manifest.json")
    assert not errors
    default = entries[0]
    assert default.id == "default" and default.source == {"path": "checkpoints/default"}
    prov = default.provenance
    assert prov["command"].startswith("python -m grok_core train") and prov["seed"] == 0
    on_disk = {p.name for p in BUNDLED.iterdir()}
    assert set(prov["files"]) == on_disk
    for name, f in prov["files"].items():
        assert sha256_file(BUNDLED / name) == f["sha256"], name
    assert json.loads((BUNDLED / "series.json").read_text())["complete"] is True
