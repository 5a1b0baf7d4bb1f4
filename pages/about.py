"""About: the model, the science and how to cite it, and how to load a series in Python / TransformerLens."""

from pathlib import Path

import streamlit as st

from ui import view
from ui.safe import plain

REPO = Path(__file__).resolve().parents[1]

sel = view.current()
st.title("About the Grokking Explorer")
cfg, t = sel.cfg, sel.series.train_cfg

st.markdown(f"""
**What you are looking at.** A one-layer transformer learns to add modulo {cfg.p}: it reads three tokens
`x`, `y`, `=` and must output `(x + y) mod {cfg.p}`. It trains on {t.frac_train:.0%} of the {cfg.p**2:,} possible
sums and is tested on the rest. It first **memorises** its training sums, then sits on a long plateau where test
accuracy does not move — and then suddenly **generalises** ("grokking"). Inside, it has learned an algorithm made
of sines and cosines: it represents x and y as waves of a few key frequencies k, multiplies them in the MLP, and uses
the identity cos(k x)cos(k y) − sin(k x)sin(k y) = cos(k(x + y)) to read off the answer.

**The model.** {cfg.d_vocab} input tokens ({cfg.p} numbers and `=`), embedding width d_model = {cfg.d_model},
{cfg.n_heads} attention heads of {cfg.d_head} dimensions, an MLP of {cfg.d_mlp} ReLU neurons, no LayerNorm,
{cfg.n_params:,} parameters. Trained full-batch with AdamW (learning rate {t.lr:g}, weight decay {t.weight_decay:g}).

**The phases** in the sidebar badge are read off the metrics: *memorising* until training accuracy reaches 99% and
the test loss peaks; *circuit forming* on the plateau after that; *cleanup* from when the test loss has fallen to
half its peak until test accuracy reaches 99%; *generalised* afterwards.

**The science.**
- Neel Nanda, Lawrence Chan, Tom Lieberum, Jess Smith, Jacob Steinhardt (2023). *Progress measures for grokking via
  mechanistic interpretability.* ICLR 2023. [arXiv:2301.05217](https://arxiv.org/abs/2301.05217)
- Alethea Power, Yuri Burda, Harri Edwards, Igor Babuschkin, Vedant Misra (2022). *Grokking: Generalization beyond
  overfitting on small algorithmic datasets.* [arXiv:2201.02177](https://arxiv.org/abs/2201.02177)

```bibtex
@inproceedings{{nanda2023progress,
  title     = {{Progress measures for grokking via mechanistic interpretability}},
  author    = {{Nanda, Neel and Chan, Lawrence and Lieberum, Tom and Smith, Jess and Steinhardt, Jacob}},
  booktitle = {{International Conference on Learning Representations}},
  year      = {{2023}},
  url       = {{https://arxiv.org/abs/2301.05217}}
}}
```
""")

path = Path(sel.series.path).absolute()
shown_path = path.relative_to(REPO) if path.is_relative_to(REPO) else path
st.subheader("Load this series yourself")
st.markdown("In Python, with this repository's `grok_core` (parameters use TransformerLens names):")
st.code(f"""from grok_core.series import open_series
from grok_core.model import grid_cache

s = open_series("{shown_path}")
params = s.params_at({sel.step})            # {{"embed.W_E": tensor [{cfg.d_vocab}, {cfg.d_model}], ...}}
cache = grid_cache(params, s.model_cfg)      # activations for all {cfg.p}×{cfg.p} sums
post = cache["blocks.0.mlp.hook_post"]       # [{cfg.p * cfg.p}, {cfg.d_mlp}], row x*{cfg.p}+y
""", language="python")
st.markdown("As a TransformerLens `HookedTransformer` (needs `pip install transformer-lens`):")
st.code(f"""import torch
from grok_core.model import to_hooked_transformer

model = to_hooked_transformer(s.params_at({sel.step}), s.model_cfg)
tokens = torch.tensor([[1, 2, {cfg.eq_token}]])   # "1 + 2 =": x, y and '=' (token {cfg.eq_token})
logits, cache = model.run_with_cache(tokens)     # logits[0, -1].argmax() is the answer
""", language="python")
st.markdown("From the Hugging Face Hub (a series published with the *Train & publish* page or "
            "`python -m grok_core publish`):")
st.code("""from grok_core.hub import open_repo

s = open_repo("your-name/your-run")
""", language="python")
st.caption(plain(f"This page's link keeps the series and step: ?series={sel.series_id}&step={sel.step}"))
view.done()
