"""What a hostile or careless user broke (issue 15), each case reproduced: files named by extras,
configs with keys missing, uncaught exceptions in the CLI, a Hub that never answers, a full disk,
a reader racing a writer. The rule throughout: a clear message naming the file and the problem,
nothing half-written left behind, nothing listed lost."""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from grok_core import cli
from grok_core import series as series_mod
from grok_core.convert import ConvertError, convert_file, load_torch_file
from grok_core.data import split_mask
from grok_core.hub import SourceError, is_available_offline, local_problem, open_entry, open_repo, parse_entry
from grok_core.model import init_params
from grok_core.publish import PublishCancelled, PublishError, plan_publish, publish
from grok_core.series import JSON_NAME, DiskFullError, SeriesError, SeriesWriter, add_extra, open_series, sha256_file
from grok_core.train import train_series
from tests.conftest import TINY_MODEL, tiny_train
from tests.test_convert import make_nanda_file
from tests.test_series import _assert_same_series, _write


@pytest.fixture(autouse=True, scope="module")
def _one_thread(one_cpu_thread):
    yield


def _meta(path: Path) -> dict:
    return json.loads((path / JSON_NAME).read_text())


def _set_meta(path: Path, meta: dict) -> None:
    (path / JSON_NAME).write_text(json.dumps(meta))


def _complete(path: Path) -> Path:
    _write(path, complete=True)
    return path


# -- 1. extras: names, checksums, what info and publish list ----------------------------------------
def test_extras_outside_the_folder_are_refused_and_never_listed(tmp_path):
    s = _complete(tmp_path / "s")
    for bad in ("../../../../etc/passwd", "/etc/shadow", ".hidden", "a/b.safetensors"):
        meta = _meta(s)
        meta["extras"] = {"progress": {"file": bad, "sha256": "0" * 64}}
        _set_meta(s, meta)
        with pytest.raises(SeriesError, match="extras file name .* must be a plain file name"):
            open_series(s)
        with pytest.raises(PublishError, match="must be a plain file name"):
            plan_publish(s, "alice/x")
        assert cli.main(["info", str(s)]) == 2


def test_extras_checksums_are_verified(tmp_path, capsys):
    s = _complete(tmp_path / "s")
    add_extra(s, "progress", {"x": torch.arange(3.0)})
    add_extra(s, "other", {"y": torch.arange(2.0)})
    (s / "progress.safetensors").write_bytes(b"tampered")
    (s / "other.safetensors").unlink()
    opened = open_series(s)  # a cached extra is optional: the series still opens
    assert set(opened.extra_problems) == {"progress", "other"}
    assert "sha256 does not match" in opened.extra_problems["progress"]
    assert "missing" in opened.extra_problems["other"]
    assert opened.extra_path("progress") is None and opened.extra_path("other") is None
    assert [f.name for f in opened.files() if not f.name.startswith("params-")] == [JSON_NAME]
    with pytest.raises(PublishError, match="progress.safetensors: sha256 does not match"):
        plan_publish(s, "alice/x")
    assert cli.main(["info", str(s)]) == 0  # issue 15: info crashed on an extra whose file is missing
    assert "progress.safetensors" not in capsys.readouterr().out.split("files (")[1].split("extras:")[0]


def test_extras_given_as_a_list_is_a_message(tmp_path, capsys):
    s = _complete(tmp_path / "s")
    meta = _meta(s)
    meta["extras"] = [{"file": "progress.safetensors", "sha256": "0"}]
    _set_meta(s, meta)
    assert cli.main(["info", str(s)]) == 2
    err = capsys.readouterr().err
    assert "'extras' must be an object" in err and "Traceback" not in err


def test_publish_only_files_inside_the_series_folder(tmp_path):
    s = _complete(tmp_path / "s")
    outside = tmp_path / "secret.safetensors"
    from safetensors.torch import save_file

    save_file({"x": torch.zeros(1)}, outside)
    os.symlink(outside, s / "evil.safetensors")  # a link inside the folder, to a file outside it
    meta = _meta(s)
    meta["extras"] = {"evil": {"file": "evil.safetensors", "sha256": sha256_file(outside)}}
    _set_meta(s, meta)
    assert open_series(s).extra_path("evil") is not None  # readable locally, checksum right ...
    with pytest.raises(PublishError, match="evil.safetensors link to outside the series folder"):
        plan_publish(s, "alice/x")  # ... but never uploaded


# -- 6. uncaught exceptions -------------------------------------------------------------------------
def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_deeply_nested_series_json(tmp_path, capsys):
    s = _complete(tmp_path / "s")
    (s / JSON_NAME).write_text(_nested(200_000))
    with pytest.raises(SeriesError, match="nested too deeply"):
        open_series(s)
    assert cli.main(["info", str(s)]) == 2
    assert "nested too deeply" in capsys.readouterr().err


def test_deeply_nested_manifest_is_a_problem_not_a_crash(tmp_path):
    from grok_core.hub import load_manifest

    (tmp_path / "m.json").write_text(_nested(200_000))
    entries, errors = load_manifest(tmp_path / "m.json")
    assert entries == [] and "nested too deeply" in errors[0]


def test_info_with_a_huge_argument(capsys):
    assert cli.main(["info", "a" * 10_000]) == 2  # was OSError ENAMETOOLONG
    err = capsys.readouterr().err
    assert "is not a series folder" in err and len(err) < 400


@pytest.mark.parametrize(
    "flags, needle",
    [
        (["--n-steps", "0"], "n_steps and metric_every must be positive"),
        (["--p", "4"], "p must be an odd number"),
        (["--schedule", "[[1"], "--schedule '[[1' is not a JSON list"),
        (["--schedule", "5"], "is not a JSON list"),
        (["--schedule", "[[10, 0]]"], "intervals must be >= 1"),
        (["--schedule", '[["a", 1]]'], "schedule must be a non-empty list of [until_step, every] pairs"),
        (["--act", "tanh"], "act must be 'relu' or 'gelu'"),
        (["--device", "tpu"], "device must be 'auto', 'cpu' or 'cuda'"),
        (["--frac-train", "1.5"], "frac_train must be in (0, 1)"),
    ],
)
def test_training_flags_are_usage_errors(tmp_path, capsys, flags, needle):
    with pytest.raises(SystemExit) as e:
        cli.main(["train", str(tmp_path / "out"), "--quiet", *flags])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "usage:" in err and needle in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_training_device_cuda_without_a_gpu(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(SystemExit) as e:
        cli.main(["train", str(tmp_path / "out"), "--device", "cuda"])
    assert e.value.code == 2 and "no CUDA GPU is available" in capsys.readouterr().err


def test_training_output_path_that_is_a_file(tmp_path, capsys):
    (tmp_path / "f").write_text("keep me")
    with pytest.raises(SystemExit):
        cli.main(["train", str(tmp_path / "f"), "--p", "23"])
    assert "exists and is not a folder" in capsys.readouterr().err
    assert (tmp_path / "f").read_text() == "keep me"


def test_converter_input_with_0d_parameters(tmp_path):
    data = make_nanda_file(tmp_path / "full_run_data.pth")
    data["state_dicts"] = [{k: torch.tensor(1.0) for k in sd} for sd in data["state_dicts"]]
    torch.save(data, tmp_path / "zero_d.pth")
    with pytest.raises(ConvertError, match=r"embed.W_E has shape \[\]; expected 2 dimensions"):
        convert_file(tmp_path / "zero_d.pth", tmp_path / "out")
    assert not (tmp_path / "out").exists()


# -- near-misses ------------------------------------------------------------------------------------
def test_all_nan_weights_are_refused(tmp_path):
    data = make_nanda_file(tmp_path / "full_run_data.pth")
    data["state_dicts"][1] = {k: torch.full_like(v, float("nan")) for k, v in data["state_dicts"][1].items()}
    torch.save(data, tmp_path / "nan.pth")
    with pytest.raises(ConvertError, match=r"checkpoint 1 \(step 101\): .* NaN or infinite"):
        convert_file(tmp_path / "nan.pth", tmp_path / "out")
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out.partial-*"))


def test_converted_folders_have_normal_permissions(tmp_path):
    make_nanda_file(tmp_path / "full_run_data.pth")
    old = os.umask(0o022)
    try:
        s = convert_file(tmp_path / "full_run_data.pth", tmp_path / "out")
    finally:
        os.umask(old)
    assert stat.S_IMODE(s.path.stat().st_mode) == 0o755  # was drwx------ (mkdtemp's 0700)
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o644 for f in s.files())


class _Runs:
    """Unpickling this would run code (os.system); the refusal must name it."""

    def __reduce__(self):
        return (os.system, ("true",))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_legacy_format_pickle_refusal_names_the_object(tmp_path):
    torch.save({"config": _Runs(), "state_dicts": []}, tmp_path / "legacy.pth", _use_new_zipfile_serialization=False)
    with pytest.raises(ConvertError) as e:
        load_torch_file(tmp_path / "legacy.pth")
    msg = str(e.value)
    assert "refused" in msg and "posix.system" in msg and msg.endswith("torch.save(d, new_path)")
    import pickle

    (tmp_path / "plain.pkl").write_bytes(pickle.dumps({"x": 1}, protocol=4))
    msg = str(pytest.raises(ConvertError, load_torch_file, tmp_path / "plain.pkl").value)
    assert '"Unsupported operand 149"' in msg and msg.endswith("numbers.")  # PyTorch's one line, whole


def test_open_repo_with_an_empty_id():
    with pytest.raises(SourceError, match="give a Hub repo as owner/name or owner/name@revision"):
        open_repo("")


def test_local_entry_that_is_not_a_series_or_leaves_the_repository(tmp_path):
    root = tmp_path / "repo"
    (root / "checkpoints" / "empty").mkdir(parents=True)
    outside = _complete(tmp_path / "elsewhere")
    os.symlink(outside, root / "checkpoints" / "link")
    empty = parse_entry({"id": "e", "title": "E", "description": "d", "source": {"path": "checkpoints/empty"}})
    link = parse_entry({"id": "l", "title": "L", "description": "d", "source": {"path": "checkpoints/link"}})
    assert "holds no series" in local_problem(empty, root) and not is_available_offline(empty, root)
    assert "link to outside the repository" in local_problem(link, root)
    with pytest.raises(SourceError, match="link to outside the repository"):
        open_entry(link, root=root)
    # a series folder inside the repository whose shard links out of it
    inside = _complete(root / "checkpoints" / "s")
    shard = _meta(inside)["shards"][0]["file"]
    shutil.move(inside / shard, tmp_path / shard)
    os.symlink(tmp_path / shard, inside / shard)
    entry = parse_entry({"id": "s", "title": "S", "description": "d", "source": {"path": "checkpoints/s"}})
    with pytest.raises(SourceError, match=f"{shard} in checkpoints/s link to outside the repository"):
        open_entry(entry, root=root)


# -- 7. publish: timeouts and cancel ----------------------------------------------------------------
class SilentServer:
    """A loopback TCP server that accepts every connection and never answers (a real peer, no HTTP)."""

    def __enter__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.conns, self.stop = [], False
        threading.Thread(target=self._accept, daemon=True).start()
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _accept(self):
        while not self.stop:
            try:
                self.conns.append(self.sock.accept()[0])
            except OSError:
                return

    def __exit__(self, *exc):
        self.stop = True
        self.sock.close()
        for c in self.conns:
            c.close()


@pytest.mark.slow
def test_publish_times_out_against_a_server_that_never_answers(tmp_path):
    plan = plan_publish(_complete(tmp_path / "s"), "alice/x")
    with SilentServer() as url:
        t = time.monotonic()
        with pytest.raises(PublishError, match=r"did not answer within 1.5 s during create_repo for alice/x"):
            publish(plan, token="hf_test", endpoint=url, timeout_s=1.5)
        assert time.monotonic() - t < 30  # the child's start-up (imports) plus the one timeout


def test_publish_can_be_cancelled(tmp_path):
    plan = plan_publish(_complete(tmp_path / "s"), "alice/x")
    cancel = threading.Event()
    with SilentServer() as url:
        threading.Timer(0.5, cancel.set).start()
        t = time.monotonic()
        with pytest.raises(PublishCancelled, match="cancelled"):
            publish(plan, token="hf_test", endpoint=url, timeout_s=600, cancel=cancel)
        assert time.monotonic() - t < 5


# -- 8. full disk -----------------------------------------------------------------------------------
def _disk_full_after(monkeypatch, n_ok: int):
    """Make series writes fail like a full disk after `n_ok` successful tensor files.

    The fake is needed where no small file system can be mounted (test_real_full_disk does it for
    real when it can): it writes half the file first, as a real ENOSPC leaves a partial file.
    """
    real = series_mod.save_file
    count = {"n": 0}

    def save_file(tensors, path, metadata=None):
        count["n"] += 1
        if count["n"] > n_ok:
            Path(path).write_bytes(b"\0" * 1000)
            raise Exception("Error while serializing: I/O error: No space left on device (os error 28)")
        return real(tensors, path, metadata=metadata)

    monkeypatch.setattr(series_mod, "save_file", save_file)


def _files(path: Path) -> set[str]:
    return {p.name for p in path.iterdir()}


def test_training_onto_a_full_disk_then_resuming(tmp_path, monkeypatch):
    tcfg = tiny_train(n_steps=40, metric_every=5, schedule=((10**9, 10),))
    ref = train_series(tmp_path / "ref", TINY_MODEL, tcfg, progress=False, shard_size=3)
    run = tmp_path / "run"
    _disk_full_after(monkeypatch, 5)
    with pytest.raises(DiskFullError) as e:
        train_series(run, TINY_MODEL, tcfg, progress=False, flush_every_s=0.0, shard_size=3)
    msg = str(e.value)
    assert str(run) in msg and "no space left on the disk" in msg and " MB are free now" in msg and "this save writes about" in msg
    meta = _meta(run)
    listed = {JSON_NAME, meta["resume"]["file"], *(sh["file"] for sh in meta["shards"])}
    assert _files(run) == listed  # the partial file and anything unlisted were removed
    before = open_series(run)
    monkeypatch.undo()  # space freed
    _assert_same_series(train_series(run, TINY_MODEL, tcfg, progress=False, shard_size=3), ref)
    assert before.steps.tolist() == ref.steps.tolist()[: len(before.steps)]


def test_cli_training_onto_a_full_disk_is_a_message(tmp_path, monkeypatch, capsys):
    _disk_full_after(monkeypatch, 0)
    rc = cli.main(["train", str(tmp_path / "run"), "--quiet", "--p", "23", "--d-model", "32", "--d-head", "8",
                   "--d-mlp", "64", "--n-steps", "20", "--device", "cpu"])
    err = capsys.readouterr().err
    assert rc == 2 and "no space left on the disk" in err and "Traceback" not in err
    assert not any(n.startswith(("params-", "resume-", ".")) for n in _files(tmp_path / "run"))


def test_converting_onto_a_full_disk(tmp_path, monkeypatch):
    make_nanda_file(tmp_path / "full_run_data.pth")
    _disk_full_after(monkeypatch, 0)
    with pytest.raises(ConvertError, match=r"out: no space left on the disk \(the series needs about [\d.]+ MB"):
        convert_file(tmp_path / "full_run_data.pth", tmp_path / "out")
    assert _files(tmp_path) == {"full_run_data.pth"}  # no partial folder left


def test_a_failed_flush_leaves_the_writer_as_it_was(tmp_path, monkeypatch):
    tcfg = tiny_train(n_steps=20, schedule=((10**9, 10),))
    w = SeriesWriter(tmp_path / "s", TINY_MODEL, tcfg, split_mask(TINY_MODEL.p, 0.6, tcfg.data_seed), shard_size=4)
    w.add_checkpoint(0, init_params(TINY_MODEL, seed=0))
    w.add_metrics(0, {"train_loss": 1.0, "test_loss": 2.0, "train_acc": 0.0, "test_acc": 0.0})
    w.flush()
    w.add_checkpoint(10, init_params(TINY_MODEL, seed=1))
    _disk_full_after(monkeypatch, 0)
    with pytest.raises(DiskFullError):
        w.flush()
    assert open_series(tmp_path / "s").steps.tolist() == [0]
    monkeypatch.undo()
    w.flush()  # the same flush, retried once there is space
    assert open_series(tmp_path / "s").steps.tolist() == [0, 10]


def _can_mount_tmpfs(where: Path) -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    where.mkdir()
    ok = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(where)], capture_output=True).returncode == 0
    return ok


@pytest.mark.slow
def test_real_full_disk(tmp_path):
    """A real 1 MB file system (tmpfs; needs root): fill it, train into it, free space, resume."""
    disk = tmp_path / "disk"
    if not _can_mount_tmpfs(disk):
        pytest.skip("cannot mount a small tmpfs here (needs root); the ENOSPC fakes above cover the logic")
    try:
        tcfg = tiny_train(n_steps=200, metric_every=10, schedule=((10**9, 10),))
        ref = train_series(tmp_path / "ref", TINY_MODEL, tcfg, progress=False, shard_size=4)
        filler = disk / "filler"
        filler.write_bytes(b"\0" * (1024 * 1024 - 300 * 1024))  # leave ~300 KB: a few checkpoints fit
        run = disk / "run"
        with pytest.raises(DiskFullError) as e:
            train_series(run, TINY_MODEL, tcfg, progress=False, flush_every_s=0.0, shard_size=4)
        assert str(run) in str(e.value) and "no space left on the disk" in str(e.value)
        meta = _meta(run)
        assert _files(run) == {JSON_NAME, meta["resume"]["file"], *(sh["file"] for sh in meta["shards"])}
        filler.unlink()  # space freed
        _assert_same_series(train_series(run, TINY_MODEL, tcfg, progress=False, shard_size=4), ref)
    finally:
        subprocess.run(["umount", str(disk)], check=False)


# -- reading while training -------------------------------------------------------------------------
def test_a_reader_racing_a_flush_sees_a_complete_state(tmp_path, monkeypatch):
    """The reader has read series.json; the writer then flushes twice, which removes the growing
    shard that JSON listed, before the reader looks at it: "missing (listed in series.json)" before."""
    tcfg = tiny_train(n_steps=60, schedule=((10**9, 10),))
    w = SeriesWriter(tmp_path / "s", TINY_MODEL, tcfg, split_mask(TINY_MODEL.p, 0.6, tcfg.data_seed), shard_size=8)
    metrics = {"train_loss": 1.0, "test_loss": 2.0, "train_acc": 0.0, "test_acc": 0.0}

    def save(*steps):
        for st in steps:
            w.add_checkpoint(st, init_params(TINY_MODEL, seed=st))
            w.add_metrics(st, metrics)
            w.flush()

    save(0, 10)
    real_check, raced = series_mod.Series._check_shard, []

    def check_shard(self, sh, verify):
        if not raced:  # the writer runs between the reader's JSON read and its file checks
            raced.append(1)
            save(20, 30)
            assert not (tmp_path / "s" / sh.file).exists()
        return real_check(self, sh, verify)

    monkeypatch.setattr(series_mod.Series, "_check_shard", check_shard)
    s = open_series(tmp_path / "s")
    assert raced and s.steps.tolist() == [0, 10, 20, 30]  # the next complete state
    monkeypatch.undo()
    # One flush later the previous state's files are still there, so a reader a moment behind loads it.
    assert (tmp_path / "s" / s.shards[0].file).exists()
    # An open series keeps reading after the writer removed the files it had opened.
    save(40, 50)
    assert not (tmp_path / "s" / s.shards[0].file).exists()
    assert torch.equal(s.params_at(30)["embed.W_E"], init_params(TINY_MODEL, seed=30)["embed.W_E"])


_WRITER = """
import sys, time
from grok_core.data import split_mask
from grok_core.model import init_params
from grok_core.series import SeriesWriter
from tests.conftest import TINY_MODEL, tiny_train
tcfg = tiny_train(n_steps=10**6, schedule=((10**9, 1),))
w = SeriesWriter(sys.argv[1], TINY_MODEL, tcfg, split_mask(TINY_MODEL.p, 0.6, 0), shard_size=4)
p = init_params(TINY_MODEL, seed=0)
m = {"train_loss": 1.0, "test_loss": 2.0, "train_acc": 0.0, "test_acc": 0.0}
t = time.monotonic()
step = 0
while time.monotonic() - t < float(sys.argv[2]):
    w.add_checkpoint(step, p); w.add_metrics(step, m); w.flush(); step += 1
    time.sleep(0.01)  # a flush every ~10 ms: far more often than training's (every few seconds)
print(step)
"""


@pytest.mark.slow
def test_concurrent_reader_never_refused(tmp_path):
    """A real writer process flushing as fast as it can; every open in this process must succeed."""
    path = tmp_path / "s"
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(path), "3"], cwd=Path(__file__).resolve().parents[1],
                            stdout=subprocess.PIPE, env={**os.environ, "OMP_NUM_THREADS": "1"})
    opens, refused, last = 0, [], 0
    while proc.poll() is None:
        if not (path / JSON_NAME).exists():
            time.sleep(0.01)
            continue
        try:
            s = open_series(path, verify=True)
            assert len(s.steps) >= last and len(s.metrics["step"]) == len(s.steps)
            last = len(s.steps)
            opens += 1
        except SeriesError as e:
            refused.append(str(e))
    n_flushes = int(proc.stdout.read())
    assert n_flushes > 10 and opens > 10, (n_flushes, opens)  # (hundreds of each on an idle machine)
    assert refused == [], refused[:3]
    assert np.all(np.diff(open_series(path).steps) == 1)
