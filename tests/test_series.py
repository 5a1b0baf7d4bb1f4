"""The checkpoint-series format: round trips in both dtypes, every refusal (each message names the
file and the problem), and crash safety: a training run killed at any moment leaves a series that
loads exactly the checkpoints it lists, or is refused with a clear message, never wrong numbers."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from grok_core import series as series_mod
from grok_core.data import split_mask
from grok_core.model import init_params
from grok_core.series import JSON_NAME, SeriesError, SeriesWriter, open_series, sha256_file
from grok_core.train import train_series
from tests.conftest import TINY_MODEL, tiny_train


@pytest.fixture(autouse=True, scope="module")
def _one_thread(one_cpu_thread):
    yield


CFG = TINY_MODEL
STEPS = [0, 10, 20, 30, 40]


def _metrics(i):
    return dict(train_loss=1.0 / (i + 1), test_loss=2.0 / (i + 1) + 1e-9, train_acc=i / 10, test_acc=i / 20)


def _write(path, dtype="float32", shard_size=2, complete=True):
    tcfg = tiny_train(n_steps=STEPS[-1], schedule=((10**9, 10),))
    mask = split_mask(CFG.p, tcfg.frac_train, tcfg.data_seed)
    w = SeriesWriter(path, CFG, tcfg, mask, dtype=dtype, shard_size=shard_size, title="t")
    ps = {}
    for i, s in enumerate(STEPS):
        ps[s] = {k: v * (1 + i) for k, v in init_params(CFG, seed=i).items()}
        w.add_checkpoint(s, ps[s])
        w.add_metrics(s, _metrics(i))
        if i % 2:
            w.flush()
    w.flush(complete=complete)
    return ps, mask


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_round_trip(tmp_path, dtype):
    ps, mask = _write(tmp_path / "s", dtype=dtype)
    s = open_series(tmp_path / "s")
    assert s.complete and s.dtype_name == dtype and s.title == "t"
    assert s.steps.tolist() == STEPS and len(s.shards) == 3  # shard_size 2: [0, 10] [20, 30] [40]
    assert s.model_cfg == CFG and s.train_cfg == tiny_train(n_steps=STEPS[-1], schedule=((10**9, 10),))
    assert np.array_equal(s.train_mask, mask)
    for st, want in ps.items():
        got = s.params_at(st)
        for k, v in want.items():
            expect = v.to(torch.float16).float() if dtype == "float16" else v
            assert torch.equal(got[k], expect), (st, k)
    stacked = s.stacked("embed.W_E")
    assert stacked.shape == (len(STEPS), CFG.d_vocab, CFG.d_model)
    assert torch.equal(stacked[3], s.params_at(30)["embed.W_E"])
    assert s.metrics["step"].tolist() == STEPS
    for i in range(len(STEPS)):
        for k, v in _metrics(i).items():
            assert s.metrics[k][i] == pytest.approx(v, rel=1e-6)
    with pytest.raises(KeyError, match="nearest is 10"):
        s.params_at(12)
    assert s.nearest_step(12) == 10 and s.index_of(31) == 3
    # No temporary or orphaned files are left behind.
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == sorted([JSON_NAME] + [sh.file for sh in s.shards])


def test_float16_halves_the_size(tmp_path):
    _write(tmp_path / "a", dtype="float32")
    _write(tmp_path / "b", dtype="float16")
    a, b = open_series(tmp_path / "a").nbytes(), open_series(tmp_path / "b").nbytes()
    assert b < 0.6 * a


# -- refusals --------------------------------------------------------------------------------------
def _meta(path):
    return json.loads((path / JSON_NAME).read_text())


def _set_meta(path, meta):
    (path / JSON_NAME).write_text(json.dumps(meta))


def _relist(path, shard_file):
    """Make series.json agree with a replaced shard (size and checksum), so later checks are reached."""
    meta = _meta(path)
    for sh in meta["shards"]:
        if sh["file"] == shard_file:
            sh["sha256"] = sha256_file(path / shard_file)
            sh["bytes"] = (path / shard_file).stat().st_size
    _set_meta(path, meta)


@pytest.fixture
def good(tmp_path):
    _write(tmp_path / "s")
    path = tmp_path / "s"
    return path, _meta(path)["shards"][1]["file"]


def _refused(path, *needles):
    with pytest.raises(SeriesError) as e:
        open_series(path)
    msg = str(e.value)
    for n in needles:
        assert n in msg, msg
    return msg


def test_refuses_missing_folder_and_missing_json(tmp_path):
    _refused(tmp_path / "nope", str(tmp_path / "nope"), "not a folder")
    (tmp_path / "empty").mkdir()
    _refused(tmp_path / "empty", str(tmp_path / "empty" / JSON_NAME), "missing")


def test_refuses_malformed_json(good):
    path, _ = good
    text = (path / JSON_NAME).read_text()
    (path / JSON_NAME).write_text(text[: len(text) // 2])
    _refused(path, str(path / JSON_NAME), "not valid JSON")
    (path / JSON_NAME).write_bytes(b"\xff\xfe\x00garbage")
    _refused(path, str(path / JSON_NAME), "not valid JSON")
    (path / JSON_NAME).write_text("[1, 2]")
    _refused(path, str(path / JSON_NAME), "not a grok-series description")


@pytest.mark.parametrize("version, hint", [(2, "newer grok_core"), (0, "unknown"), ("1", "unknown"), (None, "unknown")])
def test_refuses_unknown_version(good, version, hint):
    path, _ = good
    meta = _meta(path)
    meta["format_version"] = version
    _set_meta(path, meta)
    _refused(path, str(path / JSON_NAME), "format_version", "not supported", hint)


@pytest.mark.parametrize(
    "edit, needle",
    [
        (lambda m: m.pop("split"), "missing field(s) split"),
        (lambda m: m.update(dtype="bfloat16"), "unknown dtype 'bfloat16'"),
        (lambda m: m.update(dtype=["float32"]), "unknown dtype"),
        (lambda m: m["model_config"].update(p=24), "bad model_config"),
        (lambda m: m.update(model_config="p=23"), "bad model_config"),
        (lambda m: m["metrics"]["test_acc"].pop(), "metric lists have different lengths"),
        (lambda m: m["metrics"].pop("train_loss"), "'metrics' must hold"),
        (lambda m: m["metrics"]["train_loss"].__setitem__(0, "x"), "metrics must be numbers"),
        (lambda m: m["metrics"]["step"].reverse(), "strictly increasing"),
        # issue 15: NaN strings were accepted (numpy parses "NaN" as a float)
        (lambda m: m["metrics"]["test_loss"].__setitem__(1, "NaN"), "metrics must be numbers ('test_loss' holds 'NaN')"),
        (lambda m: m["metrics"]["train_acc"].__setitem__(1, True), "metrics must be numbers"),
        # issue 15: a missing key silently became its default (gelu/subtract opened as relu/add)
        (lambda m: m["model_config"].pop("act"), "ModelConfig is missing 'act'"),
        (lambda m: m["train_config"].pop("operation"), "TrainConfig is missing 'operation'"),
        (lambda m: m["train_config"].update(grad_clip=1.0), "TrainConfig has unknown key(s) 'grad_clip'"),
        (lambda m: m["model_config"].update(d_model="32"), "ModelConfig.d_model must be int"),
        # issue 15: extras were never checked like shards
        (lambda m: m.update(extras=[{"file": "x"}]), "'extras' must be an object"),
        (lambda m: m.update(extras={"p": {"file": "../../../../etc/passwd", "sha256": "0"}}),
         "extras file name '../../../../etc/passwd' must be a plain file name"),
        (lambda m: m.update(extras={"p": {"file": "/etc/shadow", "sha256": "0"}}), "must be a plain file name"),
        (lambda m: m.update(extras={"p": "progress.safetensors"}), "malformed extras entry 'p'"),
        (lambda m: m["shards"][0].update(file="../../etc/passwd"), "must be a plain file name"),
        (lambda m: m["shards"][0].update(steps=[]), "malformed shard entry"),
        (lambda m: m["shards"][0].update(bytes="12"), "malformed shard entry"),
        (lambda m: m["shards"].reverse(), "not strictly increasing"),
        (lambda m: m["split"].update(train_mask_hex="00"), "bad split"),
        (lambda m: m.update(shards=[]), "lists no checkpoints yet"),
    ],
)
def test_refuses_inconsistent_description(good, edit, needle):
    path, _ = good
    meta = _meta(path)
    edit(meta)
    _set_meta(path, meta)
    _refused(path, str(path / JSON_NAME), needle)


def test_refuses_missing_shard(good):
    path, shard = good
    (path / shard).unlink()
    _refused(path, str(path / shard), "missing")


def test_refuses_truncated_shard(good):
    path, shard = good
    data = (path / shard).read_bytes()
    (path / shard).write_bytes(data[:-100])
    _refused(path, str(path / shard), "bytes, expected", "truncated")


def test_refuses_corrupt_shard(good):
    path, shard = good
    data = bytearray((path / shard).read_bytes())
    data[len(data) // 2] ^= 0x01  # one flipped bit in the numbers, same size
    (path / shard).write_bytes(bytes(data))
    _refused(path, str(path / shard), "sha256", "corrupt")
    # verify=False skips the checksum (fast open), but never the structural checks.
    open_series(path, verify=False)


def test_refuses_a_shard_that_is_not_safetensors(good):
    path, shard = good
    (path / shard).write_bytes(b"\x00" * 64)
    _relist(path, shard)
    _refused(path, str(path / shard), "not a readable safetensors file")


def test_refuses_wrong_shape(good):
    path, shard = good
    tensors = {k: torch.zeros(2, *s) for k, s in CFG.param_shapes().items()}
    tensors["blocks.0.mlp.W_in"] = torch.zeros(2, CFG.d_model, CFG.d_mlp + 1)
    save_file(tensors, path / shard)
    _relist(path, shard)
    _refused(path, str(path / shard), "blocks.0.mlp.W_in", "shape", str([2, CFG.d_model, CFG.d_mlp]))
    tensors = {k: torch.zeros(3, *s) for k, s in CFG.param_shapes().items()}  # 3 steps where 2 are listed
    save_file(tensors, path / shard)
    _relist(path, shard)
    _refused(path, str(path / shard), "shape")


def test_refuses_wrong_dtype(good):
    path, shard = good
    save_file({k: torch.zeros(2, *s, dtype=torch.float16) for k, s in CFG.param_shapes().items()}, path / shard)
    _relist(path, shard)
    _refused(path, str(path / shard), "is F16", "series says float32")


def test_refuses_missing_or_unexpected_tensors(good):
    path, shard = good
    tensors = {k: torch.zeros(2, *s) for k, s in CFG.param_shapes().items()}
    tensors.pop("unembed.W_U")
    tensors["unembed.b_U"] = torch.zeros(2, CFG.p)
    save_file(tensors, path / shard)
    _relist(path, shard)
    _refused(path, str(path / shard), "unembed.W_U", "unembed.b_U")


def test_extras_are_checked_before_use(tmp_path):
    _write(tmp_path / "s")
    series_mod.add_extra(tmp_path / "s", "progress", {"x": torch.arange(3.0)})
    s = open_series(tmp_path / "s")
    assert s.extra_path("progress") == tmp_path / "s" / "progress.safetensors"
    (tmp_path / "s" / "progress.safetensors").write_bytes(b"tampered")
    assert open_series(tmp_path / "s").extra_path("progress") is None
    assert s.extra_path("nothing") is None


# -- crash safety ---------------------------------------------------------------------------------
def _reference(tmp_path, tcfg):
    ref = train_series(tmp_path / "ref", CFG, tcfg, progress=False, shard_size=3)
    return ref, {int(st): ref.params_at(int(st)) for st in ref.steps}


def _check_loads_right_numbers_or_refuses(path, ref, ref_params) -> bool:
    """A snapshot of a killed run: loads with numbers equal to the uninterrupted run's, or refuses clearly."""
    try:
        s = open_series(path)
    except SeriesError as e:
        assert str(path) in str(e)
        return False
    assert set(s.steps.tolist()) <= set(ref.steps.tolist())
    for st in s.steps:
        got = s.params_at(int(st))
        assert all(torch.equal(got[k], ref_params[int(st)][k]) for k in got), int(st)
    n = len(s.metrics["step"])
    for k in ("step", "train_loss", "test_loss", "train_acc", "test_acc"):
        assert np.array_equal(s.metrics[k], ref.metrics[k][:n]), k
    return True


def _assert_same_series(a, b):
    assert a.steps.tolist() == b.steps.tolist() and a.complete and b.complete
    for st in a.steps:
        pa, pb = a.params_at(int(st)), b.params_at(int(st))
        assert all(torch.equal(pa[k], pb[k]) for k in pa), int(st)
    for k in a.metrics:
        assert np.array_equal(a.metrics[k], b.metrics[k]), k


def test_a_run_killed_at_any_moment_loads_right_numbers_or_refuses(tmp_path, monkeypatch):
    """Snapshot the folder before and after every rename and delete training makes (the only
    operations that change what a reader can see; data goes to temporary names first): each
    snapshot is what a kill at that moment leaves. Each must load the uninterrupted run's exact
    numbers or be refused clearly, and resuming from it must give the uninterrupted series."""
    tcfg = tiny_train(n_steps=40, metric_every=5, schedule=((10**9, 10),))
    ref, ref_params = _reference(tmp_path, tcfg)
    run, snaps = tmp_path / "run", []

    def snapshot():
        if run.exists():
            dst = tmp_path / "snaps" / f"{len(snaps):03d}"
            shutil.copytree(run, dst)
            snaps.append(dst)

    real_replace, real_unlink = os.replace, os.unlink

    def replace(a, b, **kw):
        snapshot()
        real_replace(a, b, **kw)
        snapshot()

    def unlink(p, **kw):
        snapshot()
        real_unlink(p, **kw)
        snapshot()

    monkeypatch.setattr(series_mod.os, "replace", replace)
    monkeypatch.setattr(series_mod.os, "unlink", unlink)
    train_series(run, CFG, tcfg, progress=False, flush_every_s=0.0, shard_size=3)
    monkeypatch.undo()
    assert len(snaps) > 30
    loadable = [s for s in snaps if _check_loads_right_numbers_or_refuses(s, ref, ref_params)]
    assert len(loadable) > 0.8 * len(snaps)  # only the first moments (no series.json yet) refuse
    for s in [*loadable[1::7], snaps[0]]:
        _assert_same_series(train_series(s, CFG, tcfg, progress=False, shard_size=3), ref)
