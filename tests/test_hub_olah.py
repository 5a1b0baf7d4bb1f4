"""grok_core.hub against a real Hub server: olah serving git repos on 127.0.0.1 (tests/olah_server.py).

Every download path that can succeed runs here through huggingface_hub's own client: a native
series at main, a branch, a tag and a commit; the converted formats; progress; the cache
afterwards, offline; a refresh after a new commit; and the failures olah can really produce (no
such repo, no series in the repo, a refused file). Error codes olah cannot send (gated, no such
revision) are in test_hub.py with a hand-written fake.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import TINY_MODEL
from huggingface_hub import constants, try_to_load_from_cache
from olah_server import started_olah
from test_hub import hf_home, make_series, online, series_files  # noqa: F401 (hf_home, online: fixtures)

from grok_core import hub
from grok_core.hub import SourceError, hub_entry, is_available_offline, open_entry, open_hub
from grok_core.model import forward_last, init_params
from grok_core.series import Series

FIXTURE_TL_DEMO = Path(__file__).parent / "fixtures" / "tl_grokking_demo.pth"  # made by TransformerLens's own demo code


@pytest.fixture(scope="session")
def olah(tmp_path_factory):
    """One olah process for the whole test session, stopped at the end."""
    server = started_olah(tmp_path_factory.mktemp("olah"))
    yield server
    server.stop()


@pytest.fixture
def srv(olah, online):  # noqa: F811 (online: the fixture imported from test_hub)
    """The olah server, with huggingface_hub pointed at a fresh, empty cache and online."""
    return olah


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """Three tiny native series (different steps and titles) to publish into olah repos."""
    root = tmp_path_factory.mktemp("series")
    return {name: make_series(root / name, steps=steps, title=name)
            for name, steps in (("v1", (0, 10, 20)), ("exp", (0, 5)), ("v2", (0, 10, 20, 30)))}


def _same_params(a: Series, b: Series) -> None:
    assert list(a.steps) == list(b.steps)
    for step in a.steps:
        for k, v in a.params_at(step).items():
            assert torch.equal(b.params_at(step)[k], v), (step, k)


def test_native_at_main_branch_tag_and_commit(srv, tiny):
    c1 = srv.commit("alice/run", series_files(tiny["v1"]))
    c_exp = srv.commit("alice/run", series_files(tiny["exp"]), branch="exp")
    srv.tag("alice/run", "v1.0")
    s, d = open_hub("alice/run", endpoint=srv.url)
    _same_params(tiny["v1"], s)
    assert (d.repo_id, d.revision, d.commit, d.format, d.file, d.from_cache) == (
        "alice/run", "main", c1, "native", "series.json", False)
    assert d.spec == "alice/run" and d.describe().startswith(f"alice/run at main (commit {c1[:7]}): series.json")
    s, d = open_hub("alice/run@exp", endpoint=srv.url)
    assert s.title == "exp" and list(s.steps) == [0, 5] and d.commit == c_exp and d.spec == "alice/run@exp"
    s, d = open_hub(f"alice/run@{c1}", endpoint=srv.url)
    assert s.title == "v1" and d.commit == c1
    s, d = open_hub("alice/run@v1.0", endpoint=srv.url)
    assert s.title == "v1" and d.commit == c1
    # the cache: every one of them opens again offline, from the cache, with the same commit
    constants.HF_HUB_OFFLINE = True
    for spec, commit, steps in (("alice/run", c1, [0, 10, 20]), ("alice/run@exp", c_exp, [0, 5]),
                                ("alice/run@v1.0", c1, [0, 10, 20])):
        t0 = time.perf_counter()
        s, d = open_hub(spec)
        assert time.perf_counter() - t0 < 1.0  # a loose bound; the figure is in benchmarks/bench_hub.py
        assert d.from_cache and d.commit == commit and list(s.steps) == steps
    assert is_available_offline(hub_entry("alice/run")) and is_available_offline(hub_entry("alice/run", "exp"))
    assert hub.cached("alice/run@exp").commit == c_exp and hub.cached("alice/run@nothing") is None


def test_progress_reports_bytes_of_the_shards(srv, tiny):
    srv.commit("alice/progress", series_files(tiny["v2"]))
    calls = []
    s, _ = open_hub("alice/progress", progress=lambda done, total, msg: calls.append((done, total, msg)),
                    endpoint=srv.url)
    total = sum(sh.bytes for sh in tiny["v2"].shards)
    assert total == sum(f.stat().st_size for f in tiny["v2"].path.glob("params-*.safetensors"))
    assert calls[-1][:2] == (total, total) and {c[1] for c in calls} == {total}
    assert [c[0] for c in calls] == sorted(c[0] for c in calls)
    assert {c[2] for c in calls} == {f"downloading {sh.file} from alice/progress" for sh in tiny["v2"].shards}


def test_refresh_after_a_new_commit(srv, tiny):
    c1 = srv.commit("alice/growing", series_files(tiny["v1"]))
    assert open_hub("alice/growing", endpoint=srv.url)[1].commit == c1
    c2 = srv.commit("alice/growing", series_files(tiny["v2"]), message="train further")
    s, d = open_hub("alice/growing", endpoint=srv.url)  # the cache first: still the commit seen before
    assert d.commit == c1 and d.from_cache and s.title == "v1"
    s, d = open_hub("alice/growing", refresh=True, endpoint=srv.url)
    assert d.commit == c2 and not d.from_cache and list(s.steps) == [0, 10, 20, 30]
    constants.HF_HUB_OFFLINE = True
    assert open_hub("alice/growing")[1].commit == c2  # and the new commit is what opens offline now


def _last_logits(s: Series, p: int) -> torch.Tensor:
    idx = torch.arange(p * p)
    return forward_last(s.params_at(int(s.steps[-1])), s.model_cfg, idx // p, idx % p)


@pytest.mark.parametrize("fmt, name", [
    pytest.param("nanda_full_run", "full_run_data.pth", marks=pytest.mark.slow),  # ~9 s: Nanda's split and loss check
    ("tl_demo", "grokking_demo.pth"), ("tl_demo", "my_run.pth")])
def test_converted_formats(srv, tmp_path, fmt, name):
    import test_convert as tc  # files in the published layouts (tests/ is on sys.path under pytest)

    src = tmp_path / name
    data = tc.make_nanda_file(src) if fmt == "nanda_full_run" else tc.make_tl_file(src)
    repo = f"org/{fmt}-{name.split('.')[0]}".replace("_", "-")
    commit = srv.commit(repo, {name: src, "README.md": b"# a run\n"})
    seen = []
    s, d = open_hub(repo, progress=lambda done, total, msg: seen.append((done, total, msg)), endpoint=srv.url)
    assert (d.format, d.file, d.commit) == (fmt, name, commit)
    size = src.stat().st_size
    assert (size, size, f"downloading {name} from {repo}") in seen
    n = len(data["state_dicts"] if fmt == "nanda_full_run" else data["checkpoints"])
    assert (n, n) in [(a, b) for a, b, m in seen if m.startswith("converting")]
    sd = (data["state_dicts"] if fmt == "nanda_full_run" else data["checkpoints"])[-1]
    tokens = tc.all_tokens(tc.CFG.p)
    want = (tc.nanda_forward(sd, tokens) if fmt == "nanda_full_run" else tc.tl_forward(sd, tokens))[:, -1, : tc.CFG.p]
    torch.testing.assert_close(_last_logits(s, tc.CFG.p), want, rtol=1e-4, atol=1e-4)
    assert s.meta["source"]["commit"] == commit and s.meta["source"]["repo_id"] == repo
    constants.HF_HUB_OFFLINE = True
    again, d2 = open_hub(repo)
    assert d2.from_cache and d2.format == fmt and again.path == s.path


def test_transformerlens_demo_file(srv):
    """The file TransformerLens's own demo code saves (tests fixture), as published on the Hub."""
    srv.commit("org/tl-demo", {"grokking_demo.pth": FIXTURE_TL_DEMO})
    s, d = open_hub("org/tl-demo", endpoint=srv.url)
    assert (d.format, d.file) == ("tl_demo", "grokking_demo.pth")
    assert list(s.steps) == list(range(50, 301, 50))  # epoch e -> e + 1 optimizer updates and s.model_cfg.p == 113
    tl = pytest.importorskip("transformer_lens", reason="transformer-lens 3.x (requirements-dev.txt)")
    import warnings

    raw = torch.load(FIXTURE_TL_DEMO, weights_only=False, map_location="cpu")  # our own fixture: trusted
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 3.x deprecates HookedTransformer
        model = tl.HookedTransformer(raw["config"], move_to_device=False)
    model.load_state_dict(raw["checkpoints"][-1])
    idx = torch.arange(113 * 113)
    tokens = torch.stack([idx // 113, idx % 113, torch.full_like(idx, 113)], 1)
    with torch.no_grad():
        want = model(tokens)[:, -1]  # TransformerLens's own forward on the file's last checkpoint
    torch.testing.assert_close(_last_logits(s, 113), want, rtol=1e-4, atol=1e-4)


class Opaque:
    """A Python object pickled into a checkpoint file: torch.load(weights_only=True) must refuse it."""


def test_refused_file_and_no_series(srv, tmp_path):
    import test_convert as tc

    data = tc.make_tl_file(tmp_path / "t.pth")
    data["config"] = Opaque()
    torch.save(data, tmp_path / "grokking_demo.pth")
    srv.commit("org/pickled", {"grokking_demo.pth": tmp_path / "grokking_demo.pth"})
    with pytest.raises(SourceError, match=r"^org/pickled: grokking_demo.pth: refused\. "
                                          r"It pickles Python objects \(test_hub_olah.Opaque\)"):
        open_hub("org/pickled", endpoint=srv.url)
    srv.commit("org/notes", {"README.md": b"# notes\n", "notes.txt": b"x"})
    with pytest.raises(SourceError, match=r"org/notes holds no checkpoint series grok_core can read .*it has "
                                          r"\.gitattributes, README\.md, notes\.txt\)"):
        open_hub("org/notes", endpoint=srv.url)
    srv.commit("org/two", {"a.pth": tmp_path / "t.pth", "b.pth": tmp_path / "t.pth"})
    with pytest.raises(SourceError, match=r"several checkpoint files \(a\.pth, b\.pth\)"):
        open_hub("org/two", endpoint=srv.url)
    s, d = open_hub("org/two", filename="b.pth", endpoint=srv.url)
    assert d.file == "b.pth" and list(s.steps) == [100, 200, 300]


def test_no_such_repo(srv):
    t0 = time.perf_counter()
    with pytest.raises(SourceError, match=r"^nobody/nothing: there is no Hub repo nobody/nothing \(or it is private"):
        open_hub("nobody/nothing", endpoint=srv.url)
    assert time.perf_counter() - t0 < 1.0


def _multiplication_params(steps: int = 120) -> dict[str, torch.Tensor]:
    """A tiny model that has memorised (x × y) mod 23 on all 529 pairs (accuracy 1.0 after ~100 Adam steps)."""
    torch.manual_seed(0)
    params = {k: v.clone().requires_grad_(True) for k, v in init_params(TINY_MODEL, seed=0).items()}
    idx = torch.arange(TINY_MODEL.p**2)
    x, y = idx // TINY_MODEL.p, idx % TINY_MODEL.p
    opt = torch.optim.Adam(params.values(), lr=1e-2)
    for _ in range(steps):
        loss = torch.nn.functional.cross_entropy(forward_last(params, TINY_MODEL, x, y), (x * y) % TINY_MODEL.p)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return {k: v.detach() for k, v in params.items()}


@pytest.mark.slow  # ~7 s: trains the tiny multiplication model
def test_multiplication_run_is_refused(srv, tmp_path, one_cpu_thread):
    """The views assume x + y: a run of (x × y) mod p is refused at open, not shown with wrong crests."""
    import test_convert as tc

    from grok_core.operation import accuracies

    mul = _multiplication_params()
    acc = accuracies(mul, TINY_MODEL)
    assert acc["×"] == 1.0 and acc["+"] < 0.2 and acc["-"] < 0.2
    data = tc.make_tl_file(tmp_path / "t.pth", cfg=TINY_MODEL)
    data["checkpoints"][-1] = dict(mul)
    torch.save(data, tmp_path / "mod_mult_grokking.pth")
    srv.commit("org/mult", {"mod_mult_grokking.pth": tmp_path / "mod_mult_grokking.pth"})
    with pytest.raises(SourceError, match=r"holds a model of \(x × y\) mod p; the views here explain \(x \+ y\) mod p"):
        open_hub("org/mult", endpoint=srv.url)
    assert not any((Path(constants.HF_ASSETS_CACHE) / "grok_core").rglob("series.json"))  # nothing half-built kept


def test_native_series_of_another_operation_is_refused(srv, tmp_path):
    from conftest import tiny_train

    from grok_core.data import split_mask
    from grok_core.series import SeriesWriter

    tcfg = tiny_train(n_steps=10, operation="subtract", schedule=((10**9, 10),))
    w = SeriesWriter(tmp_path / "sub", TINY_MODEL, tcfg, split_mask(TINY_MODEL.p, 0.6, 0), title="x - y")
    w.add_metrics(0, {"train_loss": 1.0, "test_loss": 2.0, "train_acc": 0.5, "test_acc": 0.1})
    w.add_checkpoint(0, init_params(TINY_MODEL, seed=0))
    w.flush(complete=True)
    srv.commit("alice/subtract", series_files(Series(tmp_path / "sub")))
    with pytest.raises(SourceError, match=r"^alice/subtract learns the operation 'subtract'; the views here explain "
                                          r"\(x \+ y\) mod p only$"):
        open_hub("alice/subtract", endpoint=srv.url)


def test_manifest_entry_through_olah(srv, tiny):
    commit = srv.commit("alice/listed", series_files(tiny["v1"]), branch="release")
    e = hub.parse_entry({"id": "listed", "title": "Listed run", "description": "d",
                         "source": {"repo_id": "alice/listed", "revision": "release"}})
    assert not is_available_offline(e)
    s = open_entry(e, endpoint=srv.url)
    assert s.title == "v1" and commit in str(s.path) and is_available_offline(e)
    assert hub.fetch_series_json(e)["title"] == "v1"


def test_locate_and_cli_info(srv, tmp_path, capsys, monkeypatch):
    """locate() names the file without downloading it; `info owner/name@rev` reads the format off the files."""
    import test_convert as tc

    from grok_core import cli

    tc.make_tl_file(tmp_path / "run.pth")
    commit = srv.commit("org/cli", {"run.pth": tmp_path / "run.pth"}, branch="exp")
    assert hub.cached("org/cli@exp") is None
    d = hub.locate("org/cli@exp", endpoint=srv.url)
    assert (d.commit, d.format, d.file, d.from_cache) == (commit, "auto", "run.pth", False)
    assert try_to_load_from_cache("org/cli", "run.pth", revision=commit) is None  # nothing downloaded
    # what HF_ENDPOINT sets when huggingface_hub is imported (the CLI has no --endpoint)
    monkeypatch.setattr(constants, "ENDPOINT", srv.url)
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", srv.url + "/{repo_id}/resolve/{revision}/{filename}")
    assert cli.main(["info", "org/cli@exp", "--json", "--quiet"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["checkpoints"]["steps"] == [100, 200, 300] and info["converted_from"]["format"] == "tl_demo"
    assert info["source"].startswith(f"org/cli at exp (commit {commit[:7]}): run.pth, TransformerLens grokking demo")


def test_corrupt_file_on_the_hub_is_refused(srv, tmp_path, tiny):
    files = series_files(tiny["v1"])
    shard = next(n for n in files if n.startswith("params-"))
    data = bytearray(files[shard].read_bytes())
    data[-1] ^= 0xFF
    srv.commit("alice/corrupt", {**files, shard: bytes(data)})
    with pytest.raises(SourceError, match=rf"^alice/corrupt: the copy in the Hugging Face cache is unusable: .*{shard}"
                                          r".*sha256 does not match"):
        open_hub("alice/corrupt", endpoint=srv.url)
    assert not any((Path(constants.HF_ASSETS_CACHE) / "grok_core").rglob("series.json"))


def test_env_read_at_import_in_subprocess(srv, tiny):
    """Downloaded once, then a fresh process with HF_HOME and HF_HUB_OFFLINE=1 set before huggingface_hub is
    imported (the way a user does) opens it offline, and fails fast on a repo never downloaded."""
    home = Path(constants.HF_HOME)
    commit = srv.commit("alice/sub", series_files(tiny["exp"]), branch="exp")
    open_hub("alice/sub@exp", endpoint=srv.url)
    code = (
        "import json, time\n"
        "from grok_core.hub import SourceError, open_hub\n"
        "s, d = open_hub('alice/sub@exp')\n"
        "t0 = time.perf_counter()\n"
        "try:\n    open_hub('alice/missing')\nexcept SourceError as e:\n    err = str(e)\n"
        "print(json.dumps({'path': str(s.path), 'commit': d.commit, 'steps': [int(x) for x in s.steps], "
        "'err': err, 'missing_s': time.perf_counter() - t0}))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    env.update(HF_HOME=str(home), HF_HUB_OFFLINE="1", PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["path"] == str(home / "assets" / "grok_core" / "models--alice--sub" / f"{commit}-native")
    assert res["commit"] == commit and res["steps"] == [0, 5] and res["missing_s"] < 1.0
    assert res["err"].startswith("alice/missing: not in the local Hugging Face cache and offline mode is on")
