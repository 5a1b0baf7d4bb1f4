"""Training: a tiny config really groks on the CPU; stopping, Ctrl-C and kills resume to exactly
the uninterrupted run (bit for bit); batched runs and the plain reference path agree with the fast
single-run path; AdamW's update order matches torch.optim.AdamW."""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from grok_core.config import TrainConfig
from grok_core.series import JSON_NAME, SeriesError, open_series
from grok_core.train import Runs, summary, train_series
from tests.conftest import GROK_MODEL, REPO, TINY_MODEL, grok_train, tiny_train


@pytest.fixture(autouse=True, scope="module")
def _one_thread(one_cpu_thread):
    yield


# A short run with checkpoints dense then sparse and metrics between them.
SHORT = tiny_train(n_steps=100, metric_every=5, schedule=((50, 10), (10**9, 25)))


def _train(path, tcfg=SHORT, **kw):
    kw.setdefault("progress", False)
    return train_series(path, TINY_MODEL, tcfg, **kw)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted run every interrupted one must reproduce exactly."""
    return _train(tmp_path_factory.mktemp("ref") / "ref")


def _assert_identical(a, b):
    assert a.complete and b.complete
    assert a.steps.tolist() == b.steps.tolist()
    for st in a.steps:
        pa, pb = a.params_at(int(st)), b.params_at(int(st))
        for k in pa:
            assert torch.equal(pa[k], pb[k]), (int(st), k)
    assert a.metrics.keys() == b.metrics.keys()
    for k in a.metrics:
        assert np.array_equal(a.metrics[k], b.metrics[k]), k
    assert a.model_cfg == b.model_cfg and a.train_cfg == b.train_cfg
    assert np.array_equal(a.train_mask, b.train_mask)


def _stop_at(*steps):
    def cb(ev):
        return "stop" if ev["step"] in steps else None

    return cb


# -- it groks ---------------------------------------------------------------------------------------
def test_tiny_config_really_groks(tmp_path):
    cpu0 = time.process_time()  # CPU time, not wall time: the test machine is shared
    s = train_series(tmp_path / "grok", GROK_MODEL, grok_train(), progress=False)
    cpu_seconds = time.process_time() - cpu0
    m, sm = s.metrics, summary(s)
    mem, gen = sm["memorised_step"], sm["generalised_step"]
    assert mem is not None and gen is not None, sm
    # Memorised first, while test accuracy is still low ...
    at_mem = int(np.searchsorted(m["step"], mem))
    assert m["test_acc"][at_mem] < 0.5 and m["train_acc"][at_mem] >= 0.99
    assert m["test_acc"][m["step"] == 100][0] < 0.5
    # ... test loss rises while it memorises (the signature of memorisation) ...
    assert m["test_loss"][at_mem] > m["test_loss"][0]
    # ... then generalises, hundreds of steps later, and stays there.
    assert gen - mem >= 300
    assert sm["final"]["test_acc"] > 0.99 and sm["final"]["train_acc"] == 1.0
    assert np.all(m["test_acc"][m["step"] >= gen + 100] > 0.95)
    assert s.complete and s.steps[-1] == 1000 and len(m["step"]) == 101
    assert cpu_seconds < 60  # about 5 s of wall time on an idle 2-core machine


# -- exact resume -----------------------------------------------------------------------------------
@pytest.mark.parametrize("stops", [(35,), (50,), (15, 40, 75)], ids=["between-checkpoints", "at-a-checkpoint", "three-times"])
def test_resume_after_stop_equals_uninterrupted(tmp_path, reference, stops):
    out = tmp_path / "run"
    for i, stop in enumerate(stops):
        s = _train(out, callback=_stop_at(stop))
        assert not s.complete and s.meta["resume"]["step"] == stop
        assert s.metrics["step"][-1] == stop and s.steps[-1] <= stop
        assert set(s.steps) <= set(reference.steps)
        if i == 0:
            assert sorted(p.name for p in out.iterdir() if p.name.startswith("resume-")) == [f"resume-{stop:07d}.safetensors"]
    done = _train(out)
    _assert_identical(done, reference)
    assert not any(p.name.startswith("resume-") for p in out.iterdir())  # the resume state goes when complete


def test_resume_from_copies_taken_mid_run_equals_uninterrupted(tmp_path, reference):
    """A kill leaves the folder as it was at the last save: copy it at arbitrary moments, resume each copy."""
    out, copies = tmp_path / "run", []

    def cb(ev):
        if ev["step"] in (5, 45, 65, 95):
            dst = tmp_path / f"copy-{ev['step']}"
            shutil.copytree(out, dst)
            copies.append(dst)

    _assert_identical(_train(out, callback=cb, flush_every_s=0.0), reference)
    assert len(copies) == 4
    for c in copies:
        partial = open_series(c)
        assert not partial.complete
        _assert_identical(_train(c), reference)


def test_ctrl_c_saves_after_the_current_step_and_resumes_exactly(tmp_path, reference):
    out = tmp_path / "run"

    def cb(ev):
        if ev["step"] == 35:
            os.kill(os.getpid(), signal.SIGINT)  # held until the step is complete

    with pytest.raises(KeyboardInterrupt):
        _train(out, callback=cb)
    s = open_series(out)
    assert not s.complete and s.meta["resume"]["step"] == 35 and s.metrics["step"][-1] == 35
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored
    _assert_identical(_train(out), reference)


def test_second_ctrl_c_interrupts_at_once_and_keeps_the_last_save(tmp_path, reference):
    out = tmp_path / "run"

    def cb(ev):
        if ev["step"] == 65:
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)  # impatient: raises KeyboardInterrupt right here

    with pytest.raises(KeyboardInterrupt):
        _train(out, callback=cb)
    s = open_series(out)  # the state of the first save (step 0): consistent, nothing half written
    assert not s.complete and s.meta["resume"]["step"] < 65
    _assert_identical(_train(out), reference)


def test_cli_ctrl_c_exits_130_and_leaves_a_resumable_series(tmp_path):
    out = tmp_path / "cli"
    cmd = [sys.executable, "-m", "grok_core", "train", str(out), "--p", "23", "--d-model", "32", "--d-head", "8",
           "--d-mlp", "64", "--frac-train", "0.6", "--n-steps", "100000", "--metric-every", "10", "--device", "cpu",
           "--quiet"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # see conftest.one_cpu_thread
    proc = subprocess.Popen(cmd, cwd=REPO, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 60
        while not (out / JSON_NAME).exists():  # the first save happens at step 0
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
            time.sleep(0.1)
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    err = proc.stderr.read()
    assert rc == 130, err
    assert "interrupted: saved up to step" in err and "run the same command again to resume" in err
    s = open_series(out)
    # Saved exactly where it stopped (a step boundary), with every metric up to there.
    assert not s.complete and s.metrics["step"][-1] <= s.meta["resume"]["step"] < s.metrics["step"][-1] + 10


def test_train_series_refuses_to_mix_runs(tmp_path, reference):
    out = tmp_path / "run"
    _train(out, callback=_stop_at(20))
    with pytest.raises(SeriesError, match="different config"):
        _train(out, dataclasses.replace(SHORT, lr=1e-3))
    with pytest.raises(SeriesError, match="stores float32, asked for float16"):
        _train(out, dtype="float16")
    with pytest.raises(SeriesError, match="already exists"):
        _train(out, resume=False)
    done = _train(out)
    again = _train(out, callback=lambda ev: pytest.fail("a complete series must not train again"))
    assert again.complete and again.steps.tolist() == done.steps.tolist()


def test_float16_storage_keeps_the_metrics(tmp_path):
    from grok_core.train import recompute_metrics

    s = _train(tmp_path / "f16", dtype="float16")
    again = recompute_metrics(s, steps=[0, 50, 100])
    i = np.searchsorted(s.metrics["step"], [0, 50, 100])
    assert np.allclose(again["train_loss"], s.metrics["train_loss"][i], rtol=1e-2)
    assert np.allclose(again["test_acc"], s.metrics["test_acc"][i], atol=0.01)


# -- the trainer itself -------------------------------------------------------------------------------
def test_batched_runs_follow_their_single_runs():
    """Runs stacked into one model do not interact: each follows its own single-run trajectory."""
    cfgs = [dataclasses.replace(SHORT, frac_train=f, weight_decay=w, seed=s)
            for f, w, s in ((0.6, 1.0, 0), (0.3, 0.0, 1), (0.8, 2.0, 2))]
    batched = Runs(TINY_MODEL, cfgs, "cpu")
    singles = [Runs(TINY_MODEL, [c], "cpu") for c in cfgs]
    for _ in range(60):
        batched.step()
        for r in singles:
            r.step()
    eb = batched.evaluate()
    for i, r in enumerate(singles):
        es = r.evaluate()
        for k, v in r.run_params(0).items():
            assert torch.allclose(batched.run_params(i)[k], v, rtol=1e-4, atol=1e-5), (i, k)
        for k in es:
            assert eb[k][i] == pytest.approx(es[k][0], rel=1e-3, abs=1e-3), (i, k)


def test_fast_path_follows_the_plain_reference_path():
    """forward_last + foreach AdamW against the all-positions forward + single-tensor AdamW."""
    cfgs = [dataclasses.replace(SHORT, seed=s) for s in (0, 1)]
    fast, plain = Runs(TINY_MODEL, cfgs, "cpu"), Runs(TINY_MODEL, cfgs, "cpu", fast=False)
    assert fast._loss().item() == pytest.approx(plain._loss().item(), rel=1e-6)
    for _ in range(40):
        fast.step()
        plain.step()
    for k, v in fast.params.items():
        assert torch.allclose(v, plain.params[k], rtol=1e-3, atol=1e-4), k


def test_update_is_torch_adamw():
    """Our per-run decoupled weight decay, then Adam, is torch.optim.AdamW's update (same lr warm-up)."""
    tcfg = dataclasses.replace(SHORT, weight_decay=0.7, warmup_steps=3)
    runs = Runs(TINY_MODEL, [tcfg], "cpu")
    ref = {k: v.detach().clone().requires_grad_(True) for k, v in runs.params.items()}
    opt = torch.optim.AdamW(list(ref.values()), lr=tcfg.lr, betas=tcfg.betas, weight_decay=tcfg.weight_decay)
    for step in range(6):
        before = {k: v.detach().clone() for k, v in runs.params.items()}
        runs.step()
        ours = {k: v.detach().clone() for k, v in runs.params.items()}
        with torch.no_grad():  # the gradient at `before`, fed to torch's AdamW from `before`
            for k, v in runs.params.items():
                v.copy_(before[k])
                ref[k].copy_(before[k])
        runs.loss_and_grads()  # the gradient the step itself uses
        for k, v in ref.items():
            v.grad = runs.params[k].grad.clone()
        for g in opt.param_groups:
            g["lr"] = runs.lr_at(step)
        opt.step()
        for k in ours:
            assert torch.allclose(ours[k], ref[k], rtol=1e-6, atol=1e-8), (step, k)
            assert not torch.equal(ours[k], before[k])
        with torch.no_grad():
            for k, v in runs.params.items():
                v.copy_(ours[k])
    assert runs.lr_at(0) == pytest.approx(tcfg.lr / 3) and runs.lr_at(2) == runs.lr_at(50) == tcfg.lr


def test_cpu_adamw_is_torch_fused_adamw_bit_for_bit():
    """CpuAdamW calls fused AdamW's kernel itself: the same parameters and moments as torch.optim.AdamW(fused=True),
    exactly, through a changing learning rate."""
    from grok_core.cpu_step import CpuAdamW

    g = torch.Generator().manual_seed(0)
    ours = [torch.randn(5, 7, generator=g), torch.randn(3, generator=g)]
    ref = [v.clone() for v in ours]
    opt = CpuAdamW(ours, lr=1e-2, betas=(0.9, 0.98))
    torch_opt = torch.optim.AdamW(ref, lr=1e-2, betas=(0.9, 0.98), weight_decay=0.0, fused=True)
    for step in range(8):
        grads = [torch.randn(v.shape, generator=g) for v in ours]
        for a, b, gr in zip(ours, ref, grads):
            a.grad, b.grad = gr.clone(), gr.clone()
        opt.param_groups[0]["lr"] = torch_opt.param_groups[0]["lr"] = 1e-2 * (step + 1) / 8
        opt.step()
        torch_opt.step()
        for a, b in zip(ours, ref):
            assert torch.equal(a, b), step
            for k in ("exp_avg", "exp_avg_sq", "step"):
                assert torch.equal(opt.state[a][k], torch_opt.state[b][k]), (step, k)


@pytest.mark.parametrize("chunk", [1, None], ids=["a-run-per-chunk", "runs-batched-per-chunk"])
def test_cpu_step_gradient_is_autograds(chunk):
    """The hand-written CPU backward gives forward_last's loss and autograd's gradient (float rounding aside),
    for runs with different splits (padded problems weigh nothing), one run per chunk or all in one."""
    from grok_core.cpu_step import CpuStep

    cfgs = [dataclasses.replace(SHORT, frac_train=f, weight_decay=w, seed=s)
            for f, w, s in ((0.6, 1.0, 0), (0.3, 0.0, 1), (0.8, 2.0, 2))]
    runs = Runs(TINY_MODEL, cfgs, "cpu")
    for _ in range(5):
        runs.step()
    runs.opt.zero_grad(set_to_none=True)
    ref_loss = runs._loss()  # autograd through model.forward_last
    ref_loss.backward()
    ref = {k: v.grad.clone() for k, v in runs.params.items()}
    p = TINY_MODEL.p
    step = CpuStep(TINY_MODEL, runs.train_idx // p, runs.train_idx % p, runs.labels[runs.train_idx], runs.train_w,
                   chunk=chunk)
    assert step.chunk == (1 if chunk == 1 else 3)
    loss = step.loss_and_grads(runs.params)
    assert loss.dtype == torch.float64 and loss.item() == pytest.approx(ref_loss.item(), rel=1e-7)
    for k, v in runs.params.items():
        scale = ref[k].abs().max()
        assert (v.grad - ref[k]).abs().max() <= 1e-5 * scale, k


def test_gelu_trains_through_autograd_on_the_cpu():
    """CpuStep's hand-written backward is ReLU's: a GELU model takes the autograd path, and its gradient is GELU's."""
    gelu = dataclasses.replace(TINY_MODEL, act="gelu")
    runs = Runs(gelu, [SHORT], "cpu")
    assert runs._cpu is None
    runs.loss_and_grads()
    got = {k: v.grad.clone() for k, v in runs.params.items()}
    runs.opt.zero_grad(set_to_none=True)
    runs._loss_plain().backward()  # the all-positions reference forward, GELU included
    for k, v in runs.params.items():
        assert torch.allclose(got[k], v.grad, rtol=1e-4, atol=1e-6 * v.grad.abs().max()), k
    relu = Runs(TINY_MODEL, [SHORT], "cpu")
    relu.loss_and_grads()
    assert not torch.allclose(relu.params["blocks.0.mlp.W_in"].grad, got["blocks.0.mlp.W_in"], rtol=1e-2)


def test_cpu_step_reuses_its_buffers():
    """Steps after the first allocate no activations: every buffer and gradient is the same memory."""
    runs = Runs(TINY_MODEL, [SHORT, dataclasses.replace(SHORT, seed=1)], "cpu")
    runs.step()
    bufs = {k: v.data_ptr() for c in runs._cpu._buffers.values() for k, v in c.items()}
    grad = runs.params["blocks.0.mlp.W_in"].grad
    for _ in range(3):
        runs.step()
    assert {k: v.data_ptr() for c in runs._cpu._buffers.values() for k, v in c.items()} == bufs
    assert runs.params["blocks.0.mlp.W_in"].grad is grad


def test_runs_trained_together_must_share_the_schedule():
    with pytest.raises(ValueError, match="share lr"):
        Runs(TINY_MODEL, [SHORT, dataclasses.replace(SHORT, lr=1e-2)], "cpu")


def test_training_is_deterministic():
    def params():
        r = Runs(TINY_MODEL, [SHORT], "cpu")
        for _ in range(20):
            r.step()
        return r.run_params(0)

    a, b = params(), params()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_checkpoint_schedule_is_dense_early():
    steps = TrainConfig().checkpoint_steps()
    assert steps[:3] == [0, 10, 20] and 200 in steps and 250 not in steps and steps[-1] == 25_000
    assert np.all(np.diff(steps) > 0)
    assert TrainConfig(n_steps=1234).checkpoint_steps()[-1] == 1234
    with pytest.raises(ValueError, match="intervals"):
        TrainConfig(schedule=((100, 0),))
