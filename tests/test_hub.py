"""Sources: the manifest, local folders, and the real huggingface_hub code path against a cache in a
temporary HF_HOME laid out exactly as huggingface_hub documents it:

    HF_HOME/hub/models--ORG--NAME/blobs/<sha256 or git-sha1>
                                 /refs/main                      (holds the commit hash)
                                 /snapshots/<commit>/<file> -> ../../blobs/<hash>

How the environment reaches huggingface_hub: it reads HF_HOME, HF_HUB_CACHE, HF_ASSETS_CACHE and
HF_HUB_OFFLINE into `huggingface_hub.constants` when it is imported, and its functions read those
constants at call time. The in-process tests therefore monkeypatch the constants (fixture
`hf_home`); `test_env_read_at_import_in_subprocess` sets the environment before the import, in a
subprocess, the way a user does.

Tests marked "fake network" serve the Hub's HTTP protocol from 127.0.0.1 (there is no reachable
Hub here): huggingface_hub's real client code talks to it through `endpoint=`.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import socket
import threading
import time
from pathlib import Path

import pytest
import torch
from conftest import TINY_MODEL, tiny_train
from huggingface_hub import constants

from grok_core import cli, hub, hub_fetch
from grok_core.data import split_mask
from grok_core.hub import (
    ManifestEntry,
    SourceError,
    hub_entry,
    is_available_offline,
    load_manifest,
    open_entry,
    parse_entry,
    provenance_for,
)
from grok_core.model import init_params
from grok_core.series import Series, SeriesWriter, add_extra

REPO = Path(__file__).resolve().parents[1]
COMMIT_A = "0123456789abcdef0123456789abcdef01234567"
COMMIT_B = "fedcba9876543210fedcba9876543210fedcba98"


# -- helpers ------------------------------------------------------------------------------------
def make_series(path: Path, steps=(0, 10, 20), title="tiny") -> Series:
    """A tiny complete native series (random weights: format tests need no training)."""
    tcfg = tiny_train(n_steps=steps[-1], schedule=((10**9, 10),))
    w = SeriesWriter(path, TINY_MODEL, tcfg, split_mask(TINY_MODEL.p, tcfg.frac_train, tcfg.data_seed), title=title)
    for i, s in enumerate(steps):
        w.add_metrics(s, {"train_loss": 1.0 / (i + 1), "test_loss": 2.0, "train_acc": 0.5, "test_acc": 0.1 * i})
        w.add_checkpoint(s, init_params(TINY_MODEL, seed=i))
    w.flush(complete=True)
    return Series(path)


def blob_name(name: str, data: bytes) -> str:
    """What the Hub's ETag is: sha256 for LFS files, the git blob sha1 for small text files."""
    if name.endswith((".safetensors", ".pth")):
        return hashlib.sha256(data).hexdigest()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def put_in_cache(hub_cache: Path, repo_id: str, files: dict[str, Path], commit=COMMIT_A, revision="main") -> Path:
    """Lay files out the way huggingface_hub's cache holds a downloaded repo."""
    repo = hub_cache / f"models--{repo_id.replace('/', '--')}"
    (repo / "blobs").mkdir(parents=True, exist_ok=True)
    (repo / "refs").mkdir(exist_ok=True)
    snap = repo / "snapshots" / commit
    snap.mkdir(parents=True, exist_ok=True)
    for name, src in files.items():
        data = Path(src).read_bytes()
        h = blob_name(name, data)
        (repo / "blobs" / h).write_bytes(data)
        (snap / name).symlink_to(f"../../blobs/{h}")
    (repo / "refs" / revision).write_text(commit)
    return repo


def series_files(s: Series) -> dict[str, Path]:
    return {f.name: f for f in s.files()}


@pytest.fixture
def hf_home(tmp_path, monkeypatch):
    """A temporary HF_HOME, offline; huggingface_hub.constants patched as the library would have read them."""
    home = tmp_path / "hf_home"
    for var, value in (("HF_HOME", home), ("HF_HUB_CACHE", home / "hub"), ("HF_ASSETS_CACHE", home / "assets")):
        monkeypatch.setenv(var, str(value))
        monkeypatch.setattr(constants, var, str(value))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    return home


@pytest.fixture
def online(hf_home, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    return hf_home


# -- the manifest -------------------------------------------------------------------------------
def test_repository_manifest():
    entries, errors = load_manifest(REPO / "checkpoints_manifest.json")
    assert errors == []
    default, nanda = entries[0], next(e for e in entries if e.id == "nanda-full-run")  # bundled series may sit between
    assert default.id == "default" and default.source == {"path": "checkpoints/default"} and default.format == "native"
    assert set(default.provenance) >= {"command", "seed", "grok_core_version", "files"}
    assert default.config["model"]["p"] == 113 and default.config["train"]["frac_train"] == 0.3
    assert nanda.repo_id == "callummcdougall/grokking_full_run_data" and nanda.files == ["full_run_data.pth"]
    assert nanda.format == "nanda_full_run" and 400 < nanda.size_mb < 500 and nanda.revision == "main"
    tl = next(e for e in entries if e.id == "tl-demo-burnycoder")
    assert tl.repo_id == "BurnyCoder/grokking-modular-addition-transformer" and tl.files == ["grokking_demo.pth"]
    assert tl.format == "tl_demo" and tl.size_mb is None and "unknown" in tl.provenance["size"]
    assert tl.config["train"]["n_checkpoints"] == 250 and tl.config["train"]["operation"] == "add"
    nwd = next(e for e in entries if e.id == "no-weight-decay")
    assert nwd.source == {"path": "checkpoints/no-weight-decay"} and nwd.config["train"]["weight_decay"] == 0.0
    assert [e.id for e in entries] == ["default", "no-weight-decay", "nanda-full-run", "tl-demo-burnycoder"]
    # the multiplication run is not listed: its views would be wrong
    for e in entries:
        assert len(e.title) > 10 and len(e.description) > 200


def test_malformed_entries_reported_others_kept(tmp_path):
    good = {"id": "ok", "title": "Good", "description": "fine", "source": {"path": "checkpoints/x"}}
    items = [
        good,
        {"id": "notitle", "description": "d", "source": {"path": "x"}},
        {**good, "id": "escape", "source": {"path": "../../etc"}},
        {**good, "id": "abs", "source": {"path": "/etc/passwd"}},
        {**good, "id": "badrepo", "source": {"repo_id": "not a repo id"}},
        {**good, "id": "fmt", "format": "pickle"},
        {**good, "id": "pathconv", "format": "tl_demo"},
        {**good, "id": "nofile", "format": "nanda_full_run", "source": {"repo_id": "a/b", "files": []}},
        {**good, "id": "size", "size_mb": "big"},
        good,
        "not an object",
        {**good, "id": "hub", "source": {"repo_id": "alice/run", "revision": "v1", "files": ["series.json"]}},
    ]
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"format": "grok-manifest", "version": 1, "series": items}))
    entries, errors = load_manifest(path)
    assert [e.id for e in entries] == ["ok", "hub"]
    assert len(errors) == len(items) - 2
    text = "\n".join(errors)
    for needle in ("missing field 'title'", "'..'", "badrepo", "pickle", "local source must be a native",
                   "exactly one file", "size_mb", "duplicate id", "entry 11"):
        assert needle in text
    assert entries[1].revision == "v1" and entries[1].repo_type == "model"


@pytest.mark.parametrize("content, needle", [
    ("{not json", "not valid JSON"),
    ('{"format": "other", "series": []}', "expected 'grok-manifest'"),
    ('{"format": "grok-manifest", "version": 2, "series": []}', "version 2"),
    ('{"series": {"id": "x"}}', "expected a list"),
])
def test_malformed_manifest(tmp_path, content, needle):
    (tmp_path / "m.json").write_text(content)
    entries, errors = load_manifest(tmp_path / "m.json")
    assert entries == [] and len(errors) == 1 and needle in errors[0]
    assert "missing" in load_manifest(tmp_path / "none.json")[1][0]


# -- local folders ------------------------------------------------------------------------------
def test_local_entry_relative_to_root(tmp_path):
    made = make_series(tmp_path / "checkpoints" / "x")
    e = parse_entry({"id": "x", "title": "X", "description": "d", "source": {"path": "checkpoints/x"}})
    assert is_available_offline(e, root=tmp_path)
    s = open_entry(e, root=tmp_path)
    assert list(s.steps) == list(made.steps)
    missing = parse_entry({"id": "y", "title": "Y", "description": "d", "source": {"path": "checkpoints/y"}})
    assert not is_available_offline(missing, root=tmp_path)
    with pytest.raises(SourceError, match="holds no series"):
        open_entry(missing, root=tmp_path)


def test_local_path_never_leaves_the_repository(tmp_path):
    # An entry built in code (bypassing parse_entry) still cannot point outside the root.
    for bad in ("../outside", "/etc", "checkpoints/../../x"):
        e = ManifestEntry(id="x", title="X", description="d", source={"path": bad})
        with pytest.raises(SourceError, match="relative to the repository root"):
            open_entry(e, root=tmp_path)


def test_provenance_for(tmp_path):
    s = make_series(tmp_path / "s")
    add_extra(s.path, "progress", {"x": torch.zeros(3)})
    prov = provenance_for(s.path)
    names = {f.name for f in Series(s.path).files()}
    assert set(prov["files"]) == names and "series.json" in names and "progress.safetensors" in names
    for name, v in prov["files"].items():
        data = (s.path / name).read_bytes()
        assert v == {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    assert prov["total_bytes"] == sum(v["bytes"] for v in prov["files"].values())
    assert hub.config_for(s.path)["model"]["p"] == TINY_MODEL.p


# -- the Hub cache, offline ---------------------------------------------------------------------
def test_native_from_hub_cache_offline(hf_home, tmp_path):
    made = make_series(tmp_path / "src", title="tiny on the hub")
    repo = put_in_cache(hf_home / "hub", "alice/tiny-grok", series_files(made))
    entry = hub_entry("alice/tiny-grok")
    assert is_available_offline(entry)
    t0 = time.perf_counter()
    s = open_entry(entry)
    first = time.perf_counter() - t0
    assert s.title == "tiny on the hub" and list(s.steps) == [0, 10, 20]
    for step in s.steps:
        for k, v in made.params_at(step).items():
            assert torch.equal(s.params_at(step)[k], v)
    assert s.path == hf_home / "assets" / "grok_core" / "models--alice--tiny-grok" / f"{COMMIT_A}-native"
    t0 = time.perf_counter()
    again = open_entry(entry)
    assert time.perf_counter() - t0 < 0.5 and again.path == s.path
    # Caching a result beside the series must not touch huggingface_hub's cache.
    blobs = {b.name: b.read_bytes() for b in (repo / "blobs").iterdir()}
    add_extra(s.path, "progress", {"x": torch.arange(3.0)})
    assert {b.name: b.read_bytes() for b in (repo / "blobs").iterdir()} == blobs
    assert all(f.is_symlink() for f in (repo / "snapshots" / COMMIT_A).iterdir())
    extra = open_entry(entry).extra_path("progress")
    from safetensors.torch import load_file

    assert extra is not None and torch.equal(load_file(extra)["x"], torch.arange(3.0))
    print(f"first open {first:.3f}s")


def test_not_in_cache_offline_fails_fast(hf_home, tmp_path):
    entry = hub_entry("alice/never-downloaded")
    assert not is_available_offline(entry)
    t0 = time.perf_counter()
    with pytest.raises(SourceError, match="not in the local Hugging Face cache and offline mode is on"):
        open_entry(entry)
    assert time.perf_counter() - t0 < 1.0
    t0 = time.perf_counter()
    with pytest.raises(SourceError, match=r"^alice/never-downloaded: not in the local Hugging Face cache and offline"):
        hub.open_hub("alice/never-downloaded@v2")
    assert time.perf_counter() - t0 < 1.0
    # A cached description whose shards were never downloaded: also a clear, fast error.
    made = make_series(tmp_path / "src")
    put_in_cache(hf_home / "hub", "alice/partial", {"series.json": made.path / "series.json"})
    partial = hub_entry("alice/partial")
    assert not is_available_offline(partial)
    with pytest.raises(SourceError, match="never downloaded"):
        open_entry(partial)
    with pytest.raises(SourceError, match="offline"):
        open_entry(hub_entry("nobody/run", format="nanda_full_run"))


# -- what olah cannot stand in for: error codes (fake network) --------------------------------------
class ErrorHub:
    """Answers every request with one status and X-Error-Code, recording each Authorization header.

    A hand-written fake of the network, kept only where olah cannot stand in: olah answers 401
    for a missing revision and has no gated repos (tests/olah_server.py); everything that can
    succeed is tested against olah in test_hub_olah.py. The client code is huggingface_hub's own.
    """

    def __init__(self, status: int, code: str | None):
        self.requests: list[tuple[str, str | None]] = []  # (path, Authorization)
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _answer(self):
                fake.requests.append((self.path, self.headers.get("Authorization")))
                body = json.dumps({"error": f"{code}: fake"}).encode()
                self.send_response(status)
                if code:
                    self.send_header("X-Error-Code", code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_HEAD = _answer

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("status, code, needle", [
    (403, "GatedRepo", r"^alice/run: alice/run is gated: accept its conditions at https://huggingface.co/alice/run"),
    (404, "RevisionNotFound", r"^alice/run: alice/run has no revision 'v9' \(a branch, tag or commit\)$"),
    (403, None, r"^alice/run: access to alice/run was refused \(403\); check your Hugging Face token$"),
    (404, "RepoNotFound", r"^alice/run: there is no Hub repo alice/run \(or it is private"),
])
def test_hub_errors_are_explained(online, status, code, needle):
    fake = ErrorHub(status, code)
    try:
        t0 = time.perf_counter()
        with pytest.raises(SourceError, match=needle):
            hub.open_hub("alice/run@v9", endpoint=fake.url)
        assert time.perf_counter() - t0 < 1.0 and [p for p, _ in fake.requests] == ["/api/models/alice/run/revision/v9"]
    finally:
        fake.close()


def test_token_from_environment_is_sent(online, monkeypatch):
    """HF_TOKEN is picked up by huggingface_hub as usual (read at call time)."""
    monkeypatch.setenv("HF_TOKEN", "hf_test_token_123")
    fake = ErrorHub(404, "RepoNotFound")
    try:
        with pytest.raises(SourceError):
            hub.open_hub("alice/private", endpoint=fake.url)
        assert fake.requests == [("/api/models/alice/private/revision/main", "Bearer hf_test_token_123")]
    finally:
        fake.close()


@pytest.mark.parametrize("spec, want", [
    ("alice/run", ("alice/run", "main")), ("alice/run@v1.0", ("alice/run", "v1.0")),
    (" alice/run@refs/pr/3 ", ("alice/run", "refs/pr/3")),
    ("https://huggingface.co/alice/run/tree/exp", ("alice/run", "exp")),
    ("alice/run@" + "a" * 40, ("alice/run", "a" * 40)),
])
def test_parse_spec(spec, want):
    assert hub.parse_spec(spec) == want


@pytest.mark.parametrize("spec, needle", [
    ("", "owner/name"), ("not a repo/id!", "not a valid Hub repo id"), ("alice", "write it as owner/name"),
    ("a/b/c", "not a valid Hub repo id"), ("alice/run@../x", "not a valid revision"), ("alice/run@a b", "not a valid"),
    ("/etc/passwd", "not a valid Hub repo id"), ("../../x", "not a valid Hub repo id"),
])
def test_bad_specs(spec, needle):
    with pytest.raises(SourceError, match=needle):
        hub.parse_spec(spec)


def test_pick_file():
    pick = hub.pick_file
    assert pick(["README.md", "series.json", "params-0-10.safetensors"], "r") == ("native", "series.json")
    assert pick(["full_run_data.pth", "README.md"], "r") == ("nanda_full_run", "full_run_data.pth")
    assert pick(["grokking_demo.pth"], "r") == ("tl_demo", "grokking_demo.pth")
    assert pick([".gitattributes", "run.pt"], "r") == ("auto", "run.pt")
    assert pick(["series.json", "grokking_demo.pth"], "r", format="tl_demo") == ("tl_demo", "grokking_demo.pth")
    assert pick(["x/series.json", "a.pth"], "r") == ("auto", "a.pth")  # files in folders are not the series
    with pytest.raises(SourceError, match="r has no file 'b.pth'"):
        pick(["a.pth"], "r", filename="b.pth")
    with pytest.raises(SourceError, match=r"it has no files\)$"):
        pick([], "r")


def test_bad_repo_id():
    with pytest.raises(SourceError, match="not a valid Hub repo id"):
        hub_entry("not a repo/id!")


def test_unreachable_hub_fails_fast(online, monkeypatch):
    """Fake network: a port that accepts connections but never answers, and one that refuses them."""
    monkeypatch.setattr(hub_fetch, "PROBE_TIMEOUT_S", 0.5)
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # the kernel completes the handshake; nobody ever reads or answers
    try:
        t0 = time.perf_counter()
        with pytest.raises(SourceError, match="not in the local Hugging Face cache and the Hub did not answer within 0.5 s"):
            open_entry(hub_entry("alice/run"), endpoint=f"http://127.0.0.1:{silent.getsockname()[1]}")
        assert time.perf_counter() - t0 < 0.5 + 1.0
    finally:
        silent.close()
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there: connection refused
    t0 = time.perf_counter()
    with pytest.raises(SourceError, match=r"the Hub cannot be reached \(ConnectError\)"):
        hub.open_hub("alice/run", endpoint=f"http://127.0.0.1:{port}")
    assert time.perf_counter() - t0 < 1.0


# -- command line -------------------------------------------------------------------------------
def test_cli_info_local_and_hub_cache(hf_home, tmp_path, capsys):
    made = make_series(tmp_path / "src", title="tiny for info")
    assert cli.main(["info", str(made.path)]) == 0
    out = capsys.readouterr().out
    assert "tiny for info" in out and "checkpoints: 3 (steps 0..20)" in out and "series.json" in out
    put_in_cache(hf_home / "hub", "alice/tiny-grok", series_files(made))
    assert cli.main(["info", "alice/tiny-grok", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["checkpoints"]["count"] == 3 and info["metrics"]["final"]["test_acc"] == pytest.approx(0.2)
    assert set(info["files"]) == {sh.file for sh in made.shards}
    assert cli.main(["info", "alice/not-here"]) == 2
    assert "offline" in capsys.readouterr().err
    assert cli.main(["info", "no such thing"]) == 2


def test_cli_info_manifest_id(hf_home, tmp_path, capsys):
    made = make_series(tmp_path / "src", title="from the manifest")
    put_in_cache(hf_home / "hub", "alice/listed", series_files(made))
    m = tmp_path / "m.json"
    m.write_text(json.dumps({"series": [{"id": "listed", "title": "Listed", "description": "d",
                                         "source": {"repo_id": "alice/listed"}}]}))
    assert cli.main(["info", "listed", "--manifest", str(m)]) == 0
    out = capsys.readouterr().out
    assert "manifest id listed" in out and "from the manifest" in out and "final (step 20)" in out
