"""Train a new series from the UI (GPU when present, a small config on CPU) and publish one to the Hub."""

import re

import streamlit as st
import torch

from grok_core import plots
from grok_core.config import ModelConfig, TrainConfig
from ui import cache, training, view

view.current()  # the shared sidebar
st.title("Train & publish")
st.caption("Train your own run and watch it grok, then share it on the Hugging Face Hub.")

HAS_GPU = torch.cuda.is_available()
PRESETS = {
    "tiny": ("Tiny: (x + y) mod 23, 1,500 steps — groks in about a minute on a CPU",
             ModelConfig(p=23, d_model=32, n_heads=4, d_head=8, d_mlp=64),
             dict(frac_train=0.6, n_steps=1500, lr=3e-3, schedule=((100, 10), (10**9, 50)))),
    "nanda": ("Nanda et al.: (x + y) mod 113, 25,000 steps — minutes on a GPU, about half an hour on a CPU",
              ModelConfig(), dict()),
}

view.explain(
    "Training runs full-batch AdamW on a random part of all sums, saving checkpoints as it goes. "
    + ("A GPU was found, so the full configuration of the paper is quick. " if HAS_GPU else
       "No GPU was found, so the tiny configuration is the sensible choice here. ")
    + "When the run finishes it appears in the sidebar's series picker. Weight decay is what makes grokking happen: "
    "try 0 and see whether the test accuracy ever rises."
)

preset = st.radio("Configuration", list(PRESETS), format_func=lambda k: PRESETS[k][0], index=1 if HAS_GPU else 0)
with st.form("train"):
    name = st.text_input("Name of the new series", value="my-run", help="Letters, digits, - and _ only.")
    d1, d2, d3, d4 = st.columns(4)
    # keyed by preset, so choosing a configuration resets these to its values
    wd = d1.number_input("Weight decay", 0.0, 10.0, 1.0, step=0.1, key=f"wd-{preset}")
    frac = d2.number_input("Fraction of sums used for training", 0.05, 0.95,
                           float(PRESETS[preset][2].get("frac_train", 0.3)), step=0.05, key=f"frac-{preset}")
    n_steps = d3.number_input("Steps", 100, 100_000, int(PRESETS[preset][2].get("n_steps", 25_000)), step=100,
                              key=f"steps-{preset}")
    seed = d4.number_input("Seed", 0, 10_000, 0, key=f"seed-{preset}")
    go = st.form_submit_button("Start training", type="primary", icon=":material/play_arrow:")

if go:
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", name or ""):
        st.error("Use 1–64 letters, digits, '-' or '_' for the name.")
    elif name in training.jobs() and not training.jobs()[name].finished:
        st.warning(f"“{name}” is already training.")
    else:
        _, mcfg, extra = PRESETS[preset]
        tcfg = TrainConfig(**{**extra, "frac_train": float(frac), "n_steps": int(n_steps), "weight_decay": float(wd),
                              "seed": int(seed), "device": "auto"})
        path = cache.RUNS / name
        if (path / "series.json").exists():
            st.info(f"runs/{name} already exists: training resumes it if the configuration matches.")
        training.start(name, path, mcfg, tcfg)


@st.fragment(run_every=1.0)
def live() -> None:
    for name, job in list(training.jobs().items()):
        step, h = job.snapshot()
        frac_done = min(1.0, step / max(1, job.tcfg.n_steps))
        st.subheader(f"runs/{name} — {job.status} on {job.device}")
        st.progress(frac_done, text=f"step {step:,} of {job.tcfg.n_steps:,}")
        if job.error:
            st.error(job.error)
        if h["step"]:
            a, b = st.columns(2)
            a.plotly_chart(plots.live_curves(h["step"], h["train_loss"], h["test_loss"], "loss", log=True),
                           key=f"live-loss-{name}")
            b.plotly_chart(plots.live_curves(h["step"], h["train_acc"], h["test_acc"], "accuracy", log=False),
                           key=f"live-acc-{name}")
        if not job.finished:
            if st.button("Stop", key=f"stop-{name}", icon=":material/stop:"):
                job.request_stop()
        elif job.status == "done" and not st.session_state.get(f"announced-{name}"):
            st.session_state[f"announced-{name}"] = True
            cache.catalog.clear()
            st.success(f"Done: pick “Trained here: {name}” in the sidebar's series picker.")
            st.rerun()  # redraw the sidebar so the picker lists the new series


if training.jobs():
    live()

st.divider()
st.subheader("Publish a series to the Hugging Face Hub")
local = [c for c in cache.catalog()[0] if c.path or (c.entry is not None and c.entry.is_local)]
with st.form("publish"):
    which = st.selectbox("Series", [c.id for c in local], format_func=lambda i: next(c.title for c in local if c.id == i))
    repo_id = st.text_input("Repository id", placeholder="your-name/grokking-run")
    private = st.checkbox("Private repository")
    publish = st.form_submit_button("Publish", icon=":material/cloud_upload:")
st.caption("The token comes from the HF_TOKEN environment variable or a stored `hf auth login`; it is never typed "
           "here.")
if publish:
    from grok_core.hub import local_path
    from grok_core.publish import PublishError, plan_publish
    from grok_core.publish import publish as do_publish

    c = next(c for c in local if c.id == which)
    path = c.path or local_path(c.entry)
    try:
        plan = plan_publish(path, repo_id.strip(), private=private)
    except PublishError as e:
        st.error(str(e))
    else:
        from huggingface_hub import get_token

        if not get_token():
            st.error("No Hugging Face token found: set HF_TOKEN or run `hf auth login`, then try again.")
        else:
            with st.spinner(f"Uploading {plan.total_bytes / 1e6:.1f} MB to {plan.repo_id}…"):
                try:
                    url = do_publish(plan)
                except Exception as e:  # network, permissions: say what happened
                    st.error(f"Upload failed: {type(e).__name__}: {e}")
                else:
                    st.success(f"Published: {url}")
view.done()
