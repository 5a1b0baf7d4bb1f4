"""scripts/bundle_series.py: a finished series lands in checkpoints/<id>/ with its progress cache and a manifest
entry right after the default whose checksums match the copied files; a series still training is refused."""

from __future__ import annotations

import importlib.util
import json
import shutil

import pytest

from grok_core.hub import load_manifest
from grok_core.series import open_series, sha256_file
from grok_core.train import train_series
from tests.conftest import REPO, TINY_MODEL, tiny_train

spec = importlib.util.spec_from_file_location("bundle_series", REPO / "scripts" / "bundle_series.py")
bundle = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bundle)


def test_bundle_a_finished_series(tmp_path, one_cpu_thread):
    src = train_series(tmp_path / "run", TINY_MODEL, tiny_train(n_steps=60, schedule=((10**9, 20),)), progress=False)
    (src.path / "resume-0000040.safetensors").write_bytes(b"left behind")  # not one of the series' files
    root = tmp_path / "repo"
    root.mkdir()
    shutil.copy(REPO / "checkpoints_manifest.json", root / "checkpoints_manifest.json")
    description = "A tiny run for this test. " * 10
    bundle.main([str(src.path), "tiny", "--title", "A tiny test run", "--description", description, "--root", str(root)])
    dest = root / "checkpoints" / "tiny"
    assert sorted(p.name for p in dest.iterdir()) == ["params-0000000-0000060.safetensors", "progress.safetensors",
                                                        "series.json"]
    assert open_series(dest).extra_path("progress") is not None
    entries, errors = load_manifest(root / "checkpoints_manifest.json")
    assert errors == [] and [e.id for e in entries][:2] == ["default", "tiny"]
    tiny = entries[1]
    assert tiny.source == {"path": "checkpoints/tiny"} and tiny.format == "native"
    assert tiny.config["train"]["n_steps"] == 60 and tiny.provenance["seed"] == 0
    for name, f in tiny.provenance["files"].items():
        assert sha256_file(dest / name) == f["sha256"], name
    assert tiny.size_mb == round(tiny.provenance["total_bytes"] / 1e6, 1)
    # Run again: the entry is refreshed in place, not duplicated; the other entries are untouched.
    bundle.main([str(src.path), "tiny", "--title", "A tiny test run", "--description", description, "--root", str(root)])
    after = json.loads((root / "checkpoints_manifest.json").read_text())["series"]
    before = json.loads((REPO / "checkpoints_manifest.json").read_text())["series"]
    assert [e["id"] for e in after] == [before[0]["id"], "tiny"] + [e["id"] for e in before[1:]]
    assert [e for e in after if e["id"] != "tiny"] == before


def test_a_series_still_training_is_refused(tmp_path):
    src = train_series(tmp_path / "run", TINY_MODEL, tiny_train(n_steps=20, schedule=((10**9, 10),)), progress=False)
    meta = json.loads((src.path / "series.json").read_text())
    meta["complete"] = False
    (src.path / "series.json").write_text(json.dumps(meta))
    with pytest.raises(SystemExit, match="still training"):
        bundle.main([str(src.path), "x", "--title", "t", "--description", "d", "--root", str(tmp_path)])
