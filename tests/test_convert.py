"""Converters: fixtures written in exactly the Nanda/ARENA and TransformerLens-demo layouts.

Each fixture is checked against an independent forward pass written here in the *source* layout
(Nanda's einsums, TransformerLens's shapes), so a transposition or head-ordering mistake in
grok_core.convert shows up as different logits.
"""

from __future__ import annotations

import math
import pickle
import random
import subprocess
import sys
import textwrap
import types
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from test_hub import hf_home as offline_hf_home  # noqa: F401  (a fixture: an offline temporary HF_HOME)
from test_hub import put_in_cache

from grok_core import cli
from grok_core.config import ModelConfig
from grok_core.convert import (
    ConvertError,
    convert_file,
    load_torch_file,
    nanda_split_mask,
)
from grok_core.data import split_mask
from grok_core.hub import open_entry, parse_entry
from grok_core.model import forward_last, run_with_cache
from grok_core.series import Series

REPO = Path(__file__).resolve().parents[1]

CFG = ModelConfig(p=23, d_model=32, n_heads=4, d_head=8, d_mlp=48)
STEPS = [0, 100, 200]


# -- the source formats, written the way their authors' code writes them -------------------------
def nanda_state_dict(cfg: ModelConfig, seed: int) -> OrderedDict:
    """Nanda's Transformer.state_dict(): his shapes, his buffer, W_U with the '=' output."""
    g = torch.Generator().manual_seed(seed)
    m, h, dh, f, V = cfg.d_model, cfg.n_heads, cfg.d_head, cfg.d_mlp, cfg.p + 1

    def r(*shape, scale):
        return torch.randn(*shape, generator=g) * scale

    return OrderedDict([
        ("embed.W_E", r(m, V, scale=1 / math.sqrt(m))),
        ("pos_embed.W_pos", r(3, m, scale=1 / math.sqrt(m))),
        ("blocks.0.attn.W_K", r(h, dh, m, scale=1 / math.sqrt(m))),
        ("blocks.0.attn.W_Q", r(h, dh, m, scale=1 / math.sqrt(m))),
        ("blocks.0.attn.W_V", r(h, dh, m, scale=1 / math.sqrt(m))),
        ("blocks.0.attn.W_O", r(m, dh * h, scale=1 / math.sqrt(m))),
        ("blocks.0.attn.mask", torch.tril(torch.ones(3, 3))),
        ("blocks.0.mlp.W_in", r(f, m, scale=1 / math.sqrt(m))),
        ("blocks.0.mlp.b_in", r(f, scale=0.1)),
        ("blocks.0.mlp.W_out", r(m, f, scale=1 / math.sqrt(m))),
        ("blocks.0.mlp.b_out", r(m, scale=0.1)),
        ("unembed.W_U", r(m, V, scale=1 / math.sqrt(V))),
    ])


def nanda_forward(sd: dict, tokens: torch.Tensor) -> torch.Tensor:
    """Nanda's Transformer.forward, einsum for einsum: logits [batch, 3, d_vocab]."""
    W_E, W_pos = sd["embed.W_E"], sd["pos_embed.W_pos"]
    x = torch.einsum("dbp -> bpd", W_E[:, tokens])
    x = x + W_pos[: x.shape[-2]]
    W_K, W_Q, W_V, W_O = (sd[f"blocks.0.attn.{n}"] for n in ("W_K", "W_Q", "W_V", "W_O"))
    mask = sd["blocks.0.attn.mask"]
    d_head = W_K.shape[1]
    k = torch.einsum("ihd,bpd->biph", W_K, x)
    q = torch.einsum("ihd,bpd->biph", W_Q, x)
    v = torch.einsum("ihd,bpd->biph", W_V, x)
    scores = torch.einsum("biph,biqh->biqp", k, q)
    scores = torch.tril(scores) - 1e10 * (1 - mask[: x.shape[-2], : x.shape[-2]])
    attn = F.softmax(scores / np.sqrt(d_head), dim=-1)
    z = torch.einsum("biph,biqp->biqh", v, attn)
    b, i, q_, hh = z.shape
    z_flat = z.permute(0, 2, 1, 3).reshape(b, q_, i * hh)  # 'b i q h -> b q (i h)'
    x = x + torch.einsum("df,bqf->bqd", W_O, z_flat)
    pre = torch.einsum("md,bpd->bpm", sd["blocks.0.mlp.W_in"], x) + sd["blocks.0.mlp.b_in"]
    x = x + torch.einsum("dm,bpm->bpd", sd["blocks.0.mlp.W_out"], F.relu(pre)) + sd["blocks.0.mlp.b_out"]
    return x @ sd["unembed.W_U"]


def nanda_gen_train_test(frac_train: float, num: int, seed: int = 0):
    """Nanda's gen_train_test, with the global random module (state restored afterwards)."""
    state = random.getstate()
    try:
        pairs = [(i, j, num) for i in range(num) for j in range(num)]
        random.seed(seed)
        random.shuffle(pairs)
        div = int(frac_train * len(pairs))
        return pairs[:div], pairs[div:]
    finally:
        random.setstate(state)


def all_tokens(p: int) -> torch.Tensor:
    return torch.tensor([(i, j, p) for i in range(p) for j in range(p)])


def make_nanda_file(path, cfg: ModelConfig = CFG, steps=STEPS, extra: dict | None = None) -> dict:
    """A full_run_data.pth: state_dicts every 100 epochs, per-epoch train loss, per-10-epoch test loss.

    As Nanda's Trainer records them: train_losses[e] is taken before epoch e's update and the state
    dict saved at epoch e is taken after it, so train_losses[e + 1] is what Nanda's loss gives for the
    state dict labelled e, on his split: the converter's loss check has something real to agree with.
    """
    sds = [nanda_state_dict(cfg, seed=s + 1) for s in steps]
    train, _ = nanda_gen_train_test(0.3, cfg.p, 0)
    tr_tokens = torch.tensor(train)
    tr_labels = (tr_tokens[:, 0] + tr_tokens[:, 1]) % cfg.p
    rng = np.random.default_rng(0)
    train_losses = [float(x) for x in rng.uniform(1, 5, steps[-1] + 2)]
    for e, sd in zip(steps, sds):
        logits = nanda_forward(sd, tr_tokens)[:, -1].to(torch.float64)
        train_losses[e + 1] = float(-logits.log_softmax(-1).gather(-1, tr_labels[:, None]).mean())
    data = {"state_dicts": sds, "epochs": list(steps), "train_losses": train_losses,
            "test_losses": [float(x) for x in rng.uniform(1, 5, steps[-1] // 10 + 1)], "model": sds[-1]}
    data.update(extra or {})
    torch.save(data, path)
    return data


def tl_state_dict(cfg: ModelConfig, seed: int) -> OrderedDict:
    """HookedTransformer.state_dict() of the demo's config: TL shapes, frozen zero biases, buffers."""
    g = torch.Generator().manual_seed(seed)
    m, h, dh, f, p = cfg.d_model, cfg.n_heads, cfg.d_head, cfg.d_mlp, cfg.p

    def r(*shape):
        return torch.randn(*shape, generator=g) / math.sqrt(shape[0] if len(shape) > 1 else 10)

    return OrderedDict([
        ("embed.W_E", r(p + 1, m)),
        ("pos_embed.W_pos", r(3, m)),
        ("blocks.0.attn.W_Q", r(h, m, dh)), ("blocks.0.attn.W_K", r(h, m, dh)), ("blocks.0.attn.W_V", r(h, m, dh)),
        ("blocks.0.attn.W_O", r(h, dh, m)),
        ("blocks.0.attn.b_Q", torch.zeros(h, dh)), ("blocks.0.attn.b_K", torch.zeros(h, dh)),
        ("blocks.0.attn.b_V", torch.zeros(h, dh)), ("blocks.0.attn.b_O", torch.zeros(m)),
        ("blocks.0.attn.mask", torch.tril(torch.ones(3, 3)).bool()), ("blocks.0.attn.IGNORE", torch.tensor(-1e5)),
        ("blocks.0.mlp.W_in", r(m, f)), ("blocks.0.mlp.b_in", r(f)),
        ("blocks.0.mlp.W_out", r(f, m)), ("blocks.0.mlp.b_out", r(m)),
        ("unembed.W_U", r(m, p)), ("unembed.b_U", torch.zeros(p)),
    ])


def tl_forward(sd: dict, tokens: torch.Tensor) -> torch.Tensor:
    """HookedTransformer's forward for this config, in TL's own shapes: logits [batch, 3, d_vocab_out]."""
    resid = sd["embed.W_E"][tokens] + sd["pos_embed.W_pos"][None, : tokens.shape[1]]
    a = "blocks.0.attn."
    q = torch.einsum("bpm,hmd->bphd", resid, sd[a + "W_Q"]) + sd[a + "b_Q"]
    k = torch.einsum("bpm,hmd->bphd", resid, sd[a + "W_K"]) + sd[a + "b_K"]
    v = torch.einsum("bpm,hmd->bphd", resid, sd[a + "W_V"]) + sd[a + "b_V"]
    scores = torch.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(q.shape[-1])
    scores = torch.where(sd[a + "mask"][: tokens.shape[1], : tokens.shape[1]].bool(), scores, sd[a + "IGNORE"])
    z = torch.einsum("bhqk,bkhd->bqhd", scores.softmax(-1), v)
    resid = resid + torch.einsum("bqhd,hdm->bqm", z, sd[a + "W_O"]) + sd[a + "b_O"]
    pre = resid @ sd["blocks.0.mlp.W_in"] + sd["blocks.0.mlp.b_in"]
    resid = resid + F.relu(pre) @ sd["blocks.0.mlp.W_out"] + sd["blocks.0.mlp.b_out"]
    return resid @ sd["unembed.W_U"] + sd["unembed.b_U"]


def make_tl_file(path, cfg: ModelConfig = CFG, epochs=(99, 199, 299), config=None) -> dict:
    """The demo's torch.save({...}) with its keys; config as a plain dict (see test_tl_config_object_refused)."""
    sds = [tl_state_dict(cfg, seed=10 + i) for i in range(len(epochs))]
    g = torch.Generator().manual_seed(598)
    indices = torch.randperm(cfg.p * cfg.p, generator=g)
    cutoff = int(cfg.p * cfg.p * 0.3)
    data = {
        "model": sds[-1],
        "config": config if config is not None else {
            "n_layers": 1, "n_heads": cfg.n_heads, "d_model": cfg.d_model, "d_head": cfg.d_head, "d_mlp": cfg.d_mlp,
            "act_fn": "relu", "normalization_type": None, "d_vocab": cfg.p + 1, "d_vocab_out": cfg.p, "n_ctx": 3,
            "seed": 999},
        "checkpoints": sds,
        "checkpoint_epochs": list(epochs),
        "test_losses": [2.0] * (epochs[-1] + 1),
        "train_losses": [1.0] * (epochs[-1] + 1),
        "train_indices": indices[:cutoff],
        "test_indices": indices[cutoff:],
    }
    torch.save(data, path)
    return data


# -- Nanda / ARENA ------------------------------------------------------------------------------
def test_nanda_split_is_nandas():
    for p in (23, 113):
        train, test = nanda_gen_train_test(0.3, p, 0)
        mask = nanda_split_mask(p, 0.3, 0)
        assert mask.sum() == len(train) == int(0.3 * p * p)
        assert set(np.flatnonzero(mask)) == {i * p + j for i, j, _ in train}
    assert nanda_split_mask(113).sum() == 3830  # DESIGN.md: Nanda's int(0.3 * 12,769) = 3,830 train / 8,939 test


def test_native_split_rounds_where_nandas_truncates(bundled):
    """DESIGN.md: this project's split takes round(0.3 * 12,769) = 3,831 train / 8,938 test (the bundled run's)."""
    mask = split_mask(113, 0.3, 598)
    assert mask.sum() == 3831 and (~mask).sum() == 8938
    np.testing.assert_array_equal(mask, bundled.train_mask)
    assert bundled.meta["split"]["n_train"] == 3831
    assert split_mask(23, 0.3, 0).sum() == round(0.3 * 23 * 23) == int(0.3 * 23 * 23) + 1  # 158.7: they differ


def test_nanda_conversion_matches_source_forward(tmp_path):
    data = make_nanda_file(tmp_path / "full_run_data.pth")
    s = convert_file(tmp_path / "full_run_data.pth", tmp_path / "series")
    updates = [e + 1 for e in STEPS]  # epoch e is saved after its optimizer step: e + 1 updates
    assert s.model_cfg == CFG and list(s.steps) == updates and s.complete
    assert s.meta["source"]["step_label"].startswith("epochs: epoch e, saved after")
    tokens = all_tokens(CFG.p)
    x, y = tokens[:, 0], tokens[:, 1]
    for step, sd in zip(updates, data["state_dicts"]):
        want = nanda_forward(sd, tokens)[:, -1, : CFG.p]  # answers only: the "=" output is dropped
        params = s.params_at(step)
        torch.testing.assert_close(forward_last(params, s.model_cfg, x, y), want, rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(run_with_cache(params, s.model_cfg, tokens)[0][:, -1], want, rtol=1e-4, atol=1e-4)
    # the split is Nanda's, and the recomputed metrics use it
    train, _ = nanda_gen_train_test(0.3, CFG.p, 0)
    assert set(np.flatnonzero(s.train_mask)) == {i * CFG.p + j for i, j, _ in train}
    check = s.meta["source"]["loss_check"]
    assert check["consistent"] and check["labels_confirmed"] and check["median_rel_gap"]["curve[step]"] < 1e-6
    assert check["median_rel_gap"]["curve[step - 1]"] > 1e-3
    assert s.metrics["step"].tolist() == updates and 0 <= s.metrics["test_acc"][-1] <= 1
    curves = s.extra_path("source_curves")
    assert curves is not None


def test_nanda_float16_and_progress(tmp_path):
    make_nanda_file(tmp_path / "f.pth")
    seen = []
    s = convert_file(tmp_path / "f.pth", tmp_path / "s16", dtype="float16", progress=lambda d, t, m: seen.append((d, t)))
    assert s.dtype_name == "float16"
    assert seen[-1] == (3, 3) and [d for d, _ in seen[1:]] == [1, 2, 3]


def test_nanda_layernorm_refused(tmp_path):
    sd = nanda_state_dict(CFG, 1)
    sd["blocks.0.ln1.w"] = torch.ones(CFG.d_model)
    torch.save({"state_dicts": [sd], "epochs": [0], "train_losses": [], "test_losses": []}, tmp_path / "ln.pth")
    with pytest.raises(ConvertError, match="unexpected parameter 'blocks.0.ln1.w'"):
        convert_file(tmp_path / "ln.pth", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_nanda_bad_shapes_refused(tmp_path):
    sd = nanda_state_dict(CFG, 1)
    sd["blocks.0.attn.W_O"] = sd["blocks.0.attn.W_O"][:, :-1]
    torch.save({"state_dicts": [sd], "epochs": [0]}, tmp_path / "bad.pth")
    with pytest.raises(ConvertError, match="W_O"):
        convert_file(tmp_path / "bad.pth", tmp_path / "out")


# -- TransformerLens demo -----------------------------------------------------------------------
def test_tl_demo_conversion_matches_source_forward(tmp_path):
    data = make_tl_file(tmp_path / "grokking_demo.pth")
    s = convert_file(tmp_path / "grokking_demo.pth", tmp_path / "series", format="tl_demo")
    assert s.model_cfg == CFG and list(s.steps) == [100, 200, 300]  # epoch e -> e + 1 updates
    assert s.meta["source"]["step_label"].startswith("checkpoint_epochs: epoch e")
    tokens = all_tokens(CFG.p)
    for step, sd in zip(s.steps, data["checkpoints"]):
        want = tl_forward(sd, tokens)[:, -1]
        got = forward_last(s.params_at(step), s.model_cfg, tokens[:, 0], tokens[:, 1])
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)
    assert set(np.flatnonzero(s.train_mask)) == set(data["train_indices"].tolist())
    assert s.train_mask.sum() == int(CFG.p**2 * 0.3)


def test_tl_nonzero_bias_refused(tmp_path):
    data = make_tl_file(tmp_path / "demo.pth")
    data["checkpoints"][1]["blocks.0.attn.b_Q"] += 0.5
    torch.save(data, tmp_path / "demo.pth")
    with pytest.raises(ConvertError, match="b_Q is not zero"):
        convert_file(tmp_path / "demo.pth", tmp_path / "out")
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out.partial-*"))


def test_tl_overlapping_split_refused(tmp_path):
    data = make_tl_file(tmp_path / "demo.pth")
    data["test_indices"] = torch.cat([data["test_indices"], data["train_indices"][:1]])
    torch.save(data, tmp_path / "demo.pth")
    with pytest.raises(ConvertError, match="overlap"):
        convert_file(tmp_path / "demo.pth", tmp_path / "out")


# -- what may be loaded at all ------------------------------------------------------------------
class _Touch:
    """Unpickling this would create a file: proof of code execution if it ever happened."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        from pathlib import Path

        return (Path.touch, (Path(self.path),))


def test_pickled_objects_are_refused_not_run(tmp_path):
    marker = tmp_path / "executed"
    data = make_tl_file(tmp_path / "demo.pth")
    data["config"] = _Touch(marker)
    torch.save(data, tmp_path / "evil.pth")
    with pytest.raises(ConvertError, match="refused") as e:
        load_torch_file(tmp_path / "evil.pth")
    assert "weights_only=True" in str(e.value)
    assert not marker.exists()


@dataclass
class OtherConfig:
    """A config object of a class grok_core does not know (pickled as test_convert.OtherConfig)."""

    d_model: int = 32


def test_unknown_config_object_refused(tmp_path):
    torch.save({"config": OtherConfig(), "checkpoints": [], "checkpoint_epochs": []}, tmp_path / "cfg.pth")
    with pytest.raises(ConvertError, match="OtherConfig") as e:
        convert_file(tmp_path / "cfg.pth", tmp_path / "out")
    assert "re-save it with plain data" in str(e.value) and "weights_only=True" in str(e.value)


def test_numpy_scalars_and_dtypes_are_read_as_data(tmp_path):
    torch.save({"state_dicts": [], "epochs": [], "train_losses": [np.float64(1.5), np.float32(2.0)],
                "dtype": np.dtype("float64"), "n": np.int64(3)}, tmp_path / "np.pth")
    d = load_torch_file(tmp_path / "np.pth")
    assert d["train_losses"] == [1.5, 2.0] and d["n"] == 3 and d["dtype"] == np.dtype("float64")


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_garbage_and_unknown_files(tmp_path):
    (tmp_path / "junk.pth").write_bytes(b"not a torch file")
    with pytest.raises(ConvertError, match="not a readable torch file"):
        load_torch_file(tmp_path / "junk.pth")
    (tmp_path / "pickle.pth").write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(ConvertError):
        load_torch_file(tmp_path / "pickle.pth")
    torch.save({"weights": torch.zeros(3)}, tmp_path / "other.pth")
    with pytest.raises(ConvertError, match="unrecognised checkpoint file"):
        convert_file(tmp_path / "other.pth", tmp_path / "out")
    with pytest.raises(ConvertError, match="no such file"):
        load_torch_file(tmp_path / "missing.pth")


def test_existing_output_refused(tmp_path):
    make_nanda_file(tmp_path / "f.pth", steps=[0])
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    with pytest.raises(ConvertError, match="not empty"):
        convert_file(tmp_path / "f.pth", tmp_path / "out")
    assert (tmp_path / "out" / "keep.txt").read_text() == "mine"


def test_cli_convert(tmp_path, capsys):
    make_nanda_file(tmp_path / "f.pth")
    assert cli.main(["convert", str(tmp_path / "f.pth"), str(tmp_path / "s"), "--quiet"]) == 0
    assert "3 checkpoints" in capsys.readouterr().out
    assert cli.main(["convert", str(tmp_path / "f.pth"), str(tmp_path / "s"), "--quiet"]) == 2
    assert "not empty" in capsys.readouterr().err


# -- the TransformerLens demo's own file --------------------------------------------------------
# Made with transformer-lens 3.9 and the demo's own training loop (tests/fixtures/README.md): its config is
# a pickled HookedTransformerConfig holding numpy float64 fields, checkpoints at epochs 49, 99, ..., 299.
DEMO_FILE = Path(__file__).parent / "fixtures" / "tl_grokking_demo.pth"


@pytest.fixture(scope="module")
def demo_series(tmp_path_factory):
    return convert_file(DEMO_FILE, tmp_path_factory.mktemp("demo") / "series")


@pytest.mark.slow  # a fresh interpreter importing torch
def test_demo_file_reads_without_transformer_lens():
    """Read in a fresh interpreter: the config comes back as an inert record, transformer_lens never imported."""
    code = textwrap.dedent(f"""
        import sys
        from grok_core.convert import PickledConfig, detect_format, load_torch_file
        d = load_torch_file({str(DEMO_FILE)!r})
        assert isinstance(d["config"], PickledConfig), type(d["config"])
        f = d["config"].fields()
        assert f["d_model"] == 128 and f["act_fn"] == "relu" and type(f["attn_scale"]) is float
        assert d["checkpoint_epochs"] == [49, 99, 149, 199, 249, 299]
        assert detect_format({str(DEMO_FILE)!r}) == "tl_demo"
        assert not any(m.startswith("transformer_lens") for m in sys.modules)
        print("ok")
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr[-2000:]


def test_demo_file_labels_and_split(demo_series):
    s = demo_series
    assert list(s.steps) == [50, 100, 150, 200, 250, 300]  # epoch e, saved after its optimizer step: e + 1 updates
    assert s.meta["source"]["step_label"].startswith("checkpoint_epochs: epoch e, saved after")
    check = s.meta["source"]["loss_check"]  # the file's train_losses[i] are of the weights after i updates
    assert check["labels_confirmed"] and check["median_rel_gap"]["curve[step]"] < 1e-5
    assert check["median_rel_gap"]["curve[step - 1]"] > 1e-3
    g = torch.Generator().manual_seed(598)  # the README: torch.manual_seed(598); torch.randperm(p*p), 30% train
    perm = torch.randperm(113 * 113, generator=g)
    assert set(np.flatnonzero(s.train_mask)) == set(perm[: int(0.3 * 113 * 113)].tolist())
    assert s.train_cfg.warmup_steps == 0 and s.meta["source"]["config"]["seed"] == 999
    assert s.metrics["train_acc"][-1] == 1.0  # 300 epochs: the training sums are memorised
    # The demo takes test_losses[e] after epoch e's update: the weights of step e + 1, as the series labels them.
    d = load_torch_file(DEMO_FILE)
    at = np.searchsorted(s.metrics["step"], s.steps)
    np.testing.assert_allclose(s.metrics["test_loss"][at], [d["test_losses"][int(t) - 1] for t in s.steps], rtol=1e-5)
    assert "test_losses[i]: after it (step i + 1)" in s.meta["source"]["curves"]


@pytest.mark.slow  # importing transformer_lens takes ~30 s on two busy cores
@pytest.mark.filterwarnings("ignore:HookedTransformer is deprecated")
def test_demo_file_gives_transformer_lens_logits(demo_series):
    """The first and last converted checkpoints against TransformerLens's own HookedTransformer on the file's
    weights, built from the file's own config, on all p² problems."""
    tl = pytest.importorskip("transformer_lens")
    d = torch.load(DEMO_FILE, weights_only=False)  # our own test fixture (see its README): trusted
    model = tl.HookedTransformer(d["config"])
    tokens = all_tokens(113)
    for i in (0, -1):
        step, sd = demo_series.steps[i], d["checkpoints"][i]
        model.load_state_dict(sd)
        with torch.no_grad():
            want = model(tokens)[:, -1]  # [p*p, d_vocab_out]
        got = forward_last(demo_series.params_at(int(step)), demo_series.model_cfg, tokens[:, 0], tokens[:, 1])
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)


def test_cli_converts_the_demo_file(tmp_path, capsys):
    assert cli.main(["convert", str(DEMO_FILE), str(tmp_path / "s"), "--quiet"]) == 0
    assert "6 checkpoints, steps 50..300" in capsys.readouterr().out
    assert list(Series(tmp_path / "s").steps) == [50, 100, 150, 200, 250, 300]


def test_demo_file_opens_as_a_hub_source(offline_hf_home):  # noqa: F811 (the fixture imported above)
    """A manifest entry pointing at such a file on the Hub (here: already in the local Hub cache, offline)."""
    put_in_cache(offline_hf_home / "hub", "someone/grokking-demo", {"grokking_demo.pth": DEMO_FILE})
    entry = parse_entry({"id": "demo", "title": "Demo", "description": "d", "format": "tl_demo",
                         "source": {"repo_id": "someone/grokking-demo", "files": ["grokking_demo.pth"]}})
    s = open_entry(entry)
    assert list(s.steps) == [50, 100, 150, 200, 250, 300] and s.meta["source"]["repo_id"] == "someone/grokking-demo"


def test_malicious_pickle_under_the_config_name_is_refused(tmp_path, monkeypatch):
    """A class pickled under transformer_lens's config name whose pickle calls a function: refused, never run."""
    marker = tmp_path / "executed"
    mod = types.ModuleType("transformer_lens.config.hooked_transformer_config")

    class HookedTransformerConfig(_Touch):
        pass

    HookedTransformerConfig.__module__ = mod.__name__
    mod.HookedTransformerConfig = HookedTransformerConfig
    monkeypatch.setitem(sys.modules, mod.__name__, mod)
    data = make_tl_file(tmp_path / "demo.pth")
    data["config"] = HookedTransformerConfig(marker)
    torch.save(data, tmp_path / "evil.pth")
    with pytest.raises(ConvertError, match="refused. It pickles Python objects") as e:
        load_torch_file(tmp_path / "evil.pth")
    assert "Path" in str(e.value) and "weights_only=True" in str(e.value)
    assert not marker.exists()
