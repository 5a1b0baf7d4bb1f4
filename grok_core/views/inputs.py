"""View 2, inputs: one problem 'x + y =' through the model."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..config import ModelConfig
from ..model import run_with_cache


@dataclass(frozen=True)
class InputsReading:
    tokens: tuple[int, int, int]  # x, y, '='
    embed: np.ndarray  # [3, d_model]: the W_E rows the one-hot columns pick
    probs: np.ndarray  # [p] answer probabilities at the last position
    answer: int  # the model's answer (argmax)
    correct: int  # (x + y) mod p
    in_train: bool  # whether the problem is one the model trained on

    @property
    def is_right(self) -> bool:
        return self.answer == self.correct


def inputs_at(params, cfg: ModelConfig, x: int, y: int, train_mask: np.ndarray) -> InputsReading:
    tokens = torch.tensor([[int(x), int(y), cfg.eq_token]])
    with torch.no_grad():
        logits, c = run_with_cache(params, cfg, tokens)
    probs = logits[0, -1].double().softmax(-1).numpy()
    return InputsReading((int(x), int(y), cfg.eq_token), c["hook_embed"][0].numpy(), probs, int(probs.argmax()),
                         (int(x) + int(y)) % cfg.p, bool(train_mask[int(x) * cfg.p + int(y)]))
