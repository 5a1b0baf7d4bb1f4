"""Model and training configuration as frozen dataclasses; saved in every series and used to rebuild the model."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

OPERATIONS = ("add", "subtract")


@dataclass(frozen=True)
class ModelConfig:
    """Nanda et al. (2023): one layer, no LayerNorm, learned positions, untied embed/unembed."""

    p: int = 113
    d_model: int = 128
    n_heads: int = 4
    d_head: int = 32
    d_mlp: int = 512
    act: str = "relu"
    n_ctx: int = 3

    @property
    def d_vocab(self) -> int:  # the p numbers plus "="
        return self.p + 1

    @property
    def d_vocab_out(self) -> int:
        return self.p

    @property
    def eq_token(self) -> int:
        return self.p

    @property
    def n_frequencies(self) -> int:
        return (self.p - 1) // 2

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        """TransformerLens parameter names and shapes (no attention or unembed biases)."""
        m, h, dh, f = self.d_model, self.n_heads, self.d_head, self.d_mlp
        return {
            "embed.W_E": (self.d_vocab, m),
            "pos_embed.W_pos": (self.n_ctx, m),
            "blocks.0.attn.W_Q": (h, m, dh),
            "blocks.0.attn.W_K": (h, m, dh),
            "blocks.0.attn.W_V": (h, m, dh),
            "blocks.0.attn.W_O": (h, dh, m),
            "blocks.0.mlp.W_in": (m, f),
            "blocks.0.mlp.b_in": (f,),
            "blocks.0.mlp.W_out": (f, m),
            "blocks.0.mlp.b_out": (m,),
            "unembed.W_U": (m, self.d_vocab_out),
        }

    @property
    def n_params(self) -> int:
        total = 0
        for shape in self.param_shapes().values():
            n = 1
            for s in shape:
                n *= s
            total += n
        return total

    def __post_init__(self):
        if self.p < 3 or self.p % 2 == 0:
            raise ValueError(f"p must be an odd number >= 3 (a prime for the science), got {self.p}")
        if self.act not in ("relu", "gelu"):
            raise ValueError(f"act must be 'relu' or 'gelu', got {self.act!r}")
        if self.n_ctx != 3:
            raise ValueError("the task uses exactly three positions: x, y, '='")


# (until_step, every): dense through memorisation (first few hundred steps), then sparser.
DEFAULT_SCHEDULE: tuple[tuple[int, int], ...] = ((200, 10), (1400, 100), (16000, 200), (10**9, 1000))


@dataclass(frozen=True)
class TrainConfig:
    """Full-batch AdamW on a seeded fraction of all p^2 problems (Nanda's run by default)."""

    operation: str = "add"
    frac_train: float = 0.3
    seed: int = 0  # model initialisation
    data_seed: int = 598  # train/test split
    lr: float = 1e-3
    weight_decay: float = 1.0
    betas: tuple[float, float] = (0.9, 0.98)
    warmup_steps: int = 10
    n_steps: int = 25_000
    schedule: tuple[tuple[int, int], ...] = field(default=DEFAULT_SCHEDULE)
    metric_every: int = 10
    device: str = "auto"  # "auto" | "cpu" | "cuda"
    precision: str = "float32"  # "float32" | "tf32"

    def __post_init__(self):
        if self.operation not in OPERATIONS:
            raise ValueError(f"operation must be one of {OPERATIONS}, got {self.operation!r}")
        if not 0.0 < self.frac_train < 1.0:
            raise ValueError(f"frac_train must be in (0, 1), got {self.frac_train}")
        if self.n_steps < 1 or self.metric_every < 1:
            raise ValueError("n_steps and metric_every must be positive")
        if self.precision not in ("float32", "tf32"):
            raise ValueError(f"precision must be 'float32' or 'tf32', got {self.precision!r}")
        if self.lr <= 0 or self.weight_decay < 0 or self.warmup_steps < 0:
            raise ValueError("lr must be positive, weight_decay and warmup_steps non-negative")
        if any(int(every) < 1 for _, every in self.schedule):
            raise ValueError(f"checkpoint schedule intervals must be >= 1, got {self.schedule}")
        # JSON round trips turn tuples into lists; keep the dataclass hashable and comparable.
        object.__setattr__(self, "betas", tuple(float(b) for b in self.betas))
        object.__setattr__(self, "schedule", tuple((int(a), int(b)) for a, b in self.schedule))

    def checkpoint_steps(self) -> list[int]:
        """Steps at which parameters are saved: 0, then by the schedule, always including the last."""
        steps, s = [0], 0
        for until, every in self.schedule:
            while s + every <= min(until, self.n_steps):
                s += every
                steps.append(s)
        if steps[-1] != self.n_steps:
            steps.append(self.n_steps)
        return steps


def to_dict(cfg) -> dict:
    return dataclasses.asdict(cfg)


def model_config_from_dict(d: dict) -> ModelConfig:
    known = {f.name for f in dataclasses.fields(ModelConfig)}
    return ModelConfig(**{k: v for k, v in d.items() if k in known})


def train_config_from_dict(d: dict) -> TrainConfig:
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    return TrainConfig(**{k: v for k, v in d.items() if k in known})
