"""Train a new series from the UI (GPU when present, a small config on CPU) and publish one to the Hub.

The server may be shared: a session sees and stops only the runs it started, trainings at once are limited
server-wide, and steps and model size have limits shown beside the fields (ui/training.py).
"""

import re
import time
import uuid

import streamlit as st

from grok_core import plots
from grok_core.config import ModelConfig, TrainConfig
from grok_core.device import has_cuda
from ui import cache, training, view
from ui.safe import plain

view.current()  # the shared sidebar
st.title("Train & publish")
st.caption("Train your own run and watch it grok, then share it on the Hugging Face Hub.")

OWNER = st.session_state.setdefault("_train_owner", uuid.uuid4().hex)  # this session's runs
HAS_GPU = has_cuda()
PRESETS = {
    "tiny": ("Tiny: (x + y) mod 23, 1,500 steps — groks in a few seconds on a CPU",
             ModelConfig(p=23, d_model=32, n_heads=4, d_head=8, d_mlp=64),
             dict(frac_train=0.6, n_steps=1500, lr=3e-3, schedule=((100, 10), (10**9, 50)))),
    "nanda": ("Nanda et al.: (x + y) mod 113, 25,000 steps — minutes on a GPU, about a quarter of an hour on a 2-core CPU",
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
n_params = PRESETS[preset][1].n_params
st.caption(f"Model size: {n_params:,} parameters (this server trains models of up to {training.MAX_PARAMS:,}). "
           f"Trainings at once on this server: {training.running()} of {training.MAX_RUNS} running.")
with st.form("train"):
    name = st.text_input("Name of the new series", value="my-run", help="Letters, digits, - and _ only.")
    d1, d2, d3, d4 = st.columns(4)
    # keyed by preset, so choosing a configuration resets these to its values; Steps has no widget maximum, so
    # a value over the limit gets a message on submit instead of being refused silently by the browser
    wd = d1.number_input("Weight decay", 0.0, 10.0, 1.0, step=0.1, key=f"wd-{preset}")
    frac = d2.number_input("Fraction of sums used for training", 0.05, 0.95,
                           float(PRESETS[preset][2].get("frac_train", 0.3)), step=0.05, key=f"frac-{preset}")
    n_steps = d3.number_input(f"Steps ({training.MIN_STEPS:,}–{training.MAX_STEPS:,})", min_value=1,
                              value=int(PRESETS[preset][2].get("n_steps", 25_000)), step=100, key=f"steps-{preset}",
                              help=f"This server trains at most {training.MAX_STEPS:,} steps per run.")
    seed = d4.number_input("Seed", 0, 10_000, 0, key=f"seed-{preset}")
    go = st.form_submit_button("Start training", type="primary", icon=":material/play_arrow:")

if go:
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", name or ""):
        st.error("Use 1–64 letters, digits, '-' or '_' for the name.")
    else:
        _, mcfg, extra = PRESETS[preset]
        path = cache.RUNS / name
        try:
            training.check_limits(mcfg, int(n_steps))
            tcfg = TrainConfig(**{**extra, "frac_train": float(frac), "n_steps": int(n_steps),
                                  "weight_decay": float(wd), "seed": int(seed), "device": "auto"})
            resuming = (path / "series.json").exists()
            training.start(OWNER, name, path, mcfg, tcfg)
        except (training.Refused, ValueError) as e:
            st.error(plain(e, 400), icon=":material/block:")
        else:
            if resuming:
                st.info(f"runs/{name} already exists: training resumes it if the configuration matches.")


def show_job(name: str, job: training.Job) -> None:
    step, h = job.snapshot()
    st.subheader(f"runs/{name} — {job.status} on {job.device}")
    st.progress(min(1.0, step / max(1, job.tcfg.n_steps)), text=f"step {step:,} of {job.tcfg.n_steps:,}")
    if job.error:
        st.error(plain(job.error, 600), icon=":material/error:")
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


@st.fragment(run_every=1.0)
def live() -> None:
    """This session's runs, redrawn every second while one trains; the page redraws once they all end."""
    mine = training.jobs(OWNER)
    for name, job in mine.items():
        show_job(name, job)
    if all(j.finished for j in mine.values()):
        st.rerun()


mine = training.jobs(OWNER)
if any(not j.finished for j in mine.values()):
    live()
else:
    for name, job in mine.items():
        show_job(name, job)

st.divider()
st.subheader("Publish a series to the Hugging Face Hub")
local = [c for c in cache.catalog()[0] if c.path or (c.entry is not None and c.entry.is_local)]
titles = {c.id: c.title for c in local}
upload: training.Upload | None = st.session_state.get("_upload")
with st.form("publish"):
    which = st.selectbox("Series", list(titles), format_func=titles.get)
    repo_id = st.text_input("Repository id", placeholder="your-name/grokking-run")
    private = st.checkbox("Private repository")
    publish = st.form_submit_button("Publish", icon=":material/cloud_upload:",
                                    disabled=upload is not None and not upload.finished)
st.caption("The token comes from the HF_TOKEN environment variable or a stored `hf auth login`; it is never typed "
           f"here. Each request to the Hub may take up to {training.PUBLISH_TIMEOUT_S:g} s.")
if publish:
    from huggingface_hub import get_token

    from grok_core.hub import local_path
    from grok_core.publish import PublishError, plan_publish

    c = next(c for c in local if c.id == which)
    try:
        plan = plan_publish(c.path or local_path(c.entry), repo_id.strip(), private=private)
    except PublishError as e:
        st.error(plain(e, 400))
    else:
        if not get_token():
            st.error("No Hugging Face token found: set HF_TOKEN or run `hf auth login`, then try again.")
        else:
            st.session_state["_upload"] = training.start_upload(plan)
            st.rerun()  # redraw the form with Publish disabled while this upload runs


def show_upload(up: training.Upload) -> None:
    repo = plain(up.repo_id, 100)
    if up.status == "uploading":
        st.info(f"Uploading {up.total_bytes / 1e6:.1f} MB to {repo}… ({time.monotonic() - up.started:.0f} s)",
                icon=":material/cloud_upload:")
        if st.button("Cancel", key="cancel-upload", icon=":material/cancel:"):
            up.cancel.set()
            st.caption("Cancelling…")
    elif up.status == "done":
        st.success(f"Published: {plain(up.url, 300)}")
    elif up.status == "cancelled":
        st.warning(f"Publishing to {repo} was cancelled before it finished; nothing more is sent.", icon=":material/cancel:")
    else:
        st.error(f"Upload failed: {plain(up.error, 600)}", icon=":material/cloud_off:")


@st.fragment(run_every=1.0)
def uploading() -> None:
    up = st.session_state["_upload"]
    show_upload(up)
    if up.finished:
        st.rerun()  # the form's Publish button is enabled again


if upload is not None and not upload.finished:
    uploading()
elif upload is not None:
    show_upload(upload)
view.done()
