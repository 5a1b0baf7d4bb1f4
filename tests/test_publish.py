"""Publishing: everything up to the network call (plan, model card, staged folder, the HfApi calls).

The HfApi used here is a recorder standing in for the Hub (this fakes the network: there is no
reachable Hub). The last test feeds what was "uploaded" into a huggingface_hub cache layout and
opens it back with grok_core.hub, offline.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import torch
import yaml
from conftest import TINY_MODEL, tiny_train
from huggingface_hub import ModelCard, constants

from grok_core import cli
from grok_core.data import split_mask
from grok_core.hub import open_repo, parse_entry
from grok_core.model import init_params
from grok_core.publish import PublishError, model_card, plan_publish, publish
from grok_core.series import Series, SeriesWriter, add_extra

COMMIT = "89abcdef0123456789abcdef0123456789abcdef"


def make_series(path: Path, steps=(0, 10, 20), complete=True) -> Series:
    tcfg = tiny_train(n_steps=20, schedule=((10**9, 10),))
    w = SeriesWriter(path, TINY_MODEL, tcfg, split_mask(TINY_MODEL.p, tcfg.frac_train, tcfg.data_seed),
                     title="Tiny grokking run", provenance={"command": "pytest", "seed": 0})
    for i, s in enumerate(steps):
        w.add_metrics(s, {"train_loss": 0.5 / (i + 1), "test_loss": 3.0 - i, "train_acc": 0.9, "test_acc": 0.25 * i})
        w.add_checkpoint(s, init_params(TINY_MODEL, seed=i))
    if complete:
        w.flush(complete=True)
    else:
        state = {"__step__": torch.tensor(steps[-1]), "param/x": torch.zeros(2)}
        w.set_resume_state(state)
        w.flush()
    return Series(path)


class RecordingApi:
    """Stands in for huggingface_hub.HfApi: records each call and a copy of the folder it uploads."""

    def __init__(self, token=None, upload_to: Path | None = None):
        self.token, self.calls, self.uploaded, self.upload_to = token, [], {}, upload_to

    def create_repo(self, **kw):
        self.calls.append(("create_repo", kw))
        return f"https://huggingface.co/{kw['repo_id']}"

    def create_branch(self, **kw):
        self.calls.append(("create_branch", kw))

    def upload_folder(self, **kw):
        self.calls.append(("upload_folder", kw))
        folder = Path(kw["folder_path"])
        self.uploaded = {p.name: p.read_bytes() for p in folder.iterdir()}
        assert not [p for p in folder.rglob("*") if p.is_dir()]  # a flat repo root
        if self.upload_to is not None:
            for p in folder.iterdir():
                shutil.copyfile(p, self.upload_to / p.name)

        class CommitInfo:
            commit_url = f"https://huggingface.co/{kw['repo_id']}/commit/{COMMIT}"

        return CommitInfo()


def test_plan_files_and_calls(tmp_path):
    s = make_series(tmp_path / "s")
    add_extra(s.path, "progress", {"loss": torch.zeros(3)})
    plan = plan_publish(s.path, "alice/tiny-grok")
    names = [f["path_in_repo"] for f in plan.files]
    assert names == ["series.json", *[sh.file for sh in s.shards], "progress.safetensors", "README.md"]
    for f in plan.files[:-1]:
        data = Path(f["local_path"]).read_bytes()
        assert f["bytes"] == len(data) and f["sha256"] == hashlib.sha256(data).hexdigest()
    assert plan.calls() == [
        ("create_repo", {"repo_id": "alice/tiny-grok", "repo_type": "model", "private": False, "exist_ok": True}),
        ("upload_folder", {"repo_id": "alice/tiny-grok", "repo_type": "model", "folder_path": "<staging folder>",
                           "revision": None, "commit_message": plan.commit_message,
                           "delete_patterns": ["*.safetensors"]}),
    ]
    branch = plan_publish(s.path, "alice/tiny-grok", revision="v1", private=True).calls()
    assert [c[0] for c in branch] == ["create_repo", "create_branch", "upload_folder"]
    assert branch[0][1]["private"] is True
    assert branch[1][1] == {"repo_id": "alice/tiny-grok", "branch": "v1", "repo_type": "model", "exist_ok": True}
    assert branch[2][1]["revision"] == "v1"
    assert "3 checkpoints" in plan.commit_message


def test_model_card(tmp_path):
    s = make_series(tmp_path / "s")
    card = model_card(s, "alice/tiny-grok", revision="v1", license="mit")
    assert card.startswith("---\n")
    meta = yaml.safe_load(card.split("---\n")[1])
    assert meta["library_name"] == "grok_core" and meta["license"] == "mit"
    assert {"grokking", "mechanistic-interpretability"} <= set(meta["tags"])
    parsed = ModelCard(card)
    assert parsed.data.library_name == "grok_core"
    assert "# Tiny grokking run" in card and "(x + y) mod 23" in card
    assert "| d_model | 32 |" in card and "| lr | 0.003 |" in card
    assert "3 checkpoints stored as float32, steps 0 to 20:" in card and "0, 10, 20" in card
    assert "| test_acc | 0.5 |" in card  # final metrics
    assert 'open_repo("alice/tiny-grok", revision="v1")' in card
    assert "python -m grok_core info alice/tiny-grok --revision v1" in card
    for sh in s.shards:
        assert sh.sha256 in card
    # the manifest entry offered in the card is one the app accepts
    block = card.split("```json\n")[1].split("\n```")[0]
    entry = parse_entry(json.loads(block))
    assert entry.repo_id == "alice/tiny-grok" and entry.revision == "v1" and entry.format == "native"
    assert '"command": "pytest"' in card  # provenance


def test_refusals(tmp_path):
    s = make_series(tmp_path / "s")
    for bad in ("no-slash", "a/b/c", "alice/bad name"):
        with pytest.raises(PublishError, match="repo-id"):
            plan_publish(s.path, bad)
    partial = make_series(tmp_path / "p", complete=False)
    assert any(f.name.startswith("resume-") for f in partial.path.iterdir())
    with pytest.raises(PublishError, match="training has not finished"):
        plan_publish(partial.path, "alice/x")
    plan = plan_publish(partial.path, "alice/x", allow_incomplete=True)
    assert not [f for f in plan.files if f["path_in_repo"].startswith("resume-")]
    shard = s.path / s.shards[0].file
    data = bytearray(shard.read_bytes())
    data[-1] ^= 1
    shard.write_bytes(bytes(data))
    with pytest.raises(PublishError, match="sha256"):
        plan_publish(s.path, "alice/x")


def test_publish_runs_the_plan(tmp_path):
    s = make_series(tmp_path / "s")
    plan = plan_publish(s.path, "alice/tiny-grok", revision="v1")
    api = RecordingApi()
    url = publish(plan, api=api)
    assert url.endswith(f"/commit/{COMMIT}")
    assert [c[0] for c in api.calls] == ["create_repo", "create_branch", "upload_folder"]
    staged = api.calls[-1][1]["folder_path"]
    assert [(n, {k: v for k, v in kw.items() if k != "folder_path"}) for n, kw in api.calls] == [
        (n, {k: v for k, v in kw.items() if k != "folder_path"}) for n, kw in plan.calls()]
    assert not Path(staged).exists()  # the staging folder is removed afterwards
    assert api.uploaded["README.md"].decode() == plan.card
    for f in plan.files[:-1]:
        assert api.uploaded[f["path_in_repo"]] == Path(f["local_path"]).read_bytes()
    assert set(api.uploaded) == {f["path_in_repo"] for f in plan.files}


def test_cli_publish(tmp_path, capsys, monkeypatch):
    s = make_series(tmp_path / "s")
    assert cli.main(["publish", str(s.path), "--repo-id", "alice/tiny-grok", "--dry-run", "--show-card"]) == 0
    cap = capsys.readouterr()
    assert "would call HfApi.create_repo" in cap.err and "would call HfApi.upload_folder" in cap.err
    assert cap.out.startswith("---\n")
    made = []

    def fake_hfapi(token=None):
        made.append(RecordingApi(token))
        return made[-1]

    # The CLI uploads from a child process (timeouts, cancel); here the plan runs in-process on the recorder.
    import grok_core.publish as publish_mod

    real = publish_mod.publish
    monkeypatch.setattr(publish_mod, "publish", lambda plan, **kw: real(plan, api=fake_hfapi(), **kw))
    assert cli.main(["publish", str(s.path), "--repo-id", "alice/tiny-grok", "--revision", "v2"]) == 0
    assert capsys.readouterr().out.strip().endswith(COMMIT)
    assert [c[0] for c in made[0].calls] == ["create_repo", "create_branch", "upload_folder"]
    assert cli.main(["publish", str(s.path), "--repo-id", "nope"]) == 2


def test_published_series_opens_back(tmp_path, monkeypatch):
    """Publish -> (the Hub) -> the cache layout huggingface_hub writes -> open_repo offline."""
    s = make_series(tmp_path / "s")
    remote = tmp_path / "remote"
    remote.mkdir()
    publish(plan_publish(s.path, "alice/tiny-grok"), api=RecordingApi(upload_to=remote))
    home = tmp_path / "hf"
    repo = home / "hub" / "models--alice--tiny-grok"
    for d in ("blobs", "refs", f"snapshots/{COMMIT}"):
        (repo / d).mkdir(parents=True)
    for p in remote.iterdir():
        digest = hashlib.sha256(p.read_bytes()).hexdigest()
        shutil.copyfile(p, repo / "blobs" / digest)
        (repo / "snapshots" / COMMIT / p.name).symlink_to(f"../../blobs/{digest}")
    (repo / "refs" / "main").write_text(COMMIT)
    # huggingface_hub read these at import; patch its constants (see tests/test_hub.py)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(home / "hub"))
    monkeypatch.setattr(constants, "HF_ASSETS_CACHE", str(home / "assets"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    back = open_repo("alice/tiny-grok")
    assert list(back.steps) == list(s.steps) and back.title == s.title
    for k, v in s.params_at(20).items():
        assert torch.equal(back.params_at(20)[k], v)
