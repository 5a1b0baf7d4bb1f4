"""Shared fixtures: the bundled default series and tiny configs that run in seconds on the CPU."""

from __future__ import annotations

from pathlib import Path

import pytest

from grok_core.config import ModelConfig, TrainConfig

REPO = Path(__file__).resolve().parents[1]
BUNDLED = REPO / "checkpoints" / "default"

# A tiny config that really groks on the CPU in seconds (see tests/test_train.py).
TINY_MODEL = ModelConfig(p=23, d_model=32, n_heads=4, d_head=8, d_mlp=64)


def tiny_train(**kw) -> TrainConfig:
    base = dict(frac_train=0.6, n_steps=1500, lr=3e-3, weight_decay=1.0,
                schedule=((100, 10), (10**9, 100)), metric_every=10, device="cpu")
    base.update(kw)
    return TrainConfig(**base)


@pytest.fixture(scope="session")
def bundled():
    """The bundled default series (checkpoints/default), opened once per test session."""
    from grok_core.series import open_series

    return open_series(BUNDLED)
