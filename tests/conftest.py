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
SLOW_TESTS: set[str] = set()


def pytest_collection_modifyitems(items):
    for item in items:
        if item.nodeid.split("[")[0] in SLOW_TESTS:
            item.add_marker(pytest.mark.slow)
