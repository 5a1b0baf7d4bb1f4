"""Shared fixtures: the bundled default series and tiny configs that run in seconds on the CPU."""

from __future__ import annotations

from pathlib import Path

import pytest

from grok_core.config import ModelConfig, TrainConfig

REPO = Path(__file__).resolve().parents[1]
BUNDLED = REPO / "checkpoints" / "default"

# A tiny config for shapes, formats and plumbing (p = 23 is too small to grok reliably).
TINY_MODEL = ModelConfig(p=23, d_model=32, n_heads=4, d_head=8, d_mlp=64)


def tiny_train(**kw) -> TrainConfig:
    base = dict(frac_train=0.6, n_steps=1500, lr=3e-3, weight_decay=1.0,
                schedule=((100, 10), (10**9, 100)), metric_every=10, device="cpu")
    base.update(kw)
    return TrainConfig(**base)


# A tiny config that really groks on the CPU in a few seconds (tests/test_train.py, test_sweep.py):
# train accuracy reaches 99% by step ~110 while test accuracy is ~0.1, test accuracy reaches 99%
# at step ~650 and stays at 1.0. Tuned over p in {23, 31}, frac 0.5-0.7, wd 1-3, lr 3e-3-1e-2:
# p = 31 with half the data, wd 2 and lr 5e-3 groks for most seeds (0: 650, 2: 810, 3: 540).
GROK_MODEL = ModelConfig(p=31, d_model=32, n_heads=4, d_head=8, d_mlp=128)


def grok_train(**kw) -> TrainConfig:
    base = dict(frac_train=0.5, n_steps=1000, lr=5e-3, weight_decay=2.0, seed=0,
                schedule=((200, 20), (10**9, 100)), metric_every=10, device="cpu")
    base.update(kw)
    return TrainConfig(**base)


@pytest.fixture(scope="module")
def one_cpu_thread():
    """Train with one torch thread for the module's tests.

    On a shared 2-core machine, torch's two OpenMP threads spin-wait at every op while another
    process holds a core: the grokking test took 224 s instead of 7.5 s that way (OMP_WAIT_POLICY
    =PASSIVE also fixes it, but only when set before torch starts). Tiny models gain nothing from
    a second thread anyway.
    """
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def bundled():
    """The bundled default series (checkpoints/default), opened once per test session."""
    from grok_core.series import open_series

    return open_series(BUNDLED)


# Tests of other modules that take more than a few seconds on the shared 2-core machine (measured with
# `pytest -m "not slow" --durations=25`), marked here so `pytest -m "not slow"` is the quick tier. The app
# (test_app.py) and browser (test_browser.py) modules mark themselves.
# 02:29 UTC 2 Dec 2026, load average ~15: these took 3-19 s each; the rest of the quick tier 127 s -> ~60 s.
SLOW_TESTS = {
    "tests/test_train.py::test_tiny_config_really_groks",  # 18.6 s
    "tests/test_train.py::test_cli_ctrl_c_exits_130_and_leaves_a_resumable_series",  # 11.3 s
    "tests/test_train.py::test_batched_runs_follow_their_single_runs",  # 4.1 s
    "tests/test_train.py::test_resume_from_copies_taken_mid_run_equals_uninterrupted",  # 4.1 s
    "tests/test_model.py::test_transformer_lens_hooked_transformer_gives_the_same_logits",  # 8.3 s
    "tests/test_hub.py::test_env_read_at_import_in_subprocess",  # 4.6 s
    "tests/test_series.py::test_a_run_killed_at_any_moment_loads_right_numbers_or_refuses",  # 3.2 s
}
SLOW_FIXTURES = {"tiny_sweep"}  # trains a whole sweep once (12 s setup), so every test that uses it is slow


def pytest_collection_modifyitems(items):
    for item in items:
        if item.nodeid.split("[")[0] in SLOW_TESTS or SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
