"""A real Hugging Face Hub server for the tests: olah (PyPI), serving local git repos, offline, on loopback.

    MIRRORS/models/<owner>/<name>/      a git repo per Hub model repo (branches, tags, commits)
        .git/lfs/objects/ab/cd/<sha256> the bytes of each LFS file; the committed file is the pointer

olah answers the Hub's own HTTP API (resolve, /api/models/..., tree, refs), so huggingface_hub's
real client code runs end to end against it. Its upstream (hf-netloc, hf-lfs-netloc) points at a
closed loopback port, so nothing can leave the machine. olah's dependencies pin versions that
differ from ours (psutil, pydantic-settings, fastapi/starlette), so it lives in its own venv
(`.olah-venv`, made by scripts/test.sh) and runs as a separate process; OLAH_CLI overrides the path.

Measured with olah 0.5.4 and huggingface_hub 2.4: hf_hub_download by branch, tag and commit,
snapshot_download, model_info(revision=...), list_repo_files, list_repo_refs work. Uploads do not,
nor the RevisionNotFound / GatedRepo error codes (it answers 401), nor model_info without a revision.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LFS_SUFFIXES = (".safetensors", ".pth", ".bin", ".pt")


def olah_cli() -> str | None:
    """The olah-cli to run: $OLAH_CLI, the project's .olah-venv, or one on PATH."""
    for cand in (os.environ.get("OLAH_CLI"), REPO / ".olah-venv" / "bin" / "olah-cli", shutil.which("olah-cli")):
        if cand and Path(cand).is_file():
            return str(cand)
    return None


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_SYSTEM": os.devnull}
    out = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True)
    return out.stdout.strip()


class OlahHub:
    """An olah process over a folder of git repos; `commit` adds files to a repo as the Hub holds them."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.mirrors = self.root / "mirrors"
        (self.mirrors / "models").mkdir(parents=True, exist_ok=True)
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    # -- the server -----------------------------------------------------------------------------
    def start(self, cli: str, timeout: float = 30.0) -> None:
        closed = f"127.0.0.1:{_free_port()}"  # nothing listens there: upstream is unreachable
        cfg = self.root / "olah.toml"
        cfg.write_text(
            "[basic]\n"
            f'host = "127.0.0.1"\nport = {self.port}\n'
            f'repos-path = "{self.root / "repos"}"\n'
            f'mirror-netloc = "127.0.0.1:{self.port}"\nmirror-lfs-netloc = "127.0.0.1:{self.port}"\n'
            f'hf-scheme = "http"\nhf-netloc = "{closed}"\nhf-lfs-netloc = "{closed}"\n'
            f'mirrors-path = ["{self.mirrors}"]\n'
            "[accessibility]\noffline = true\n"
        )
        self.log = open(self.root / "olah.log", "w")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen([cli, "-c", str(cfg)], cwd=self.root, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"olah exited with {self.proc.returncode}: {(self.root / 'olah.log').read_text()[-2000:]}")
            try:
                urllib.request.urlopen(self.url + "/", timeout=0.5).close()
                return
            except urllib.error.HTTPError:
                return  # it answers (404 for /): up
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"olah did not start within {timeout:g} s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None
        if getattr(self, "log", None):
            self.log.close()

    # -- the repos --------------------------------------------------------------------------------
    def repo_dir(self, repo_id: str) -> Path:
        return self.mirrors / "models" / repo_id

    def commit(self, repo_id: str, files: dict[str, bytes | Path], branch: str = "main", message: str = "add files",
               delete: tuple[str, ...] = ()) -> str:
        """Commit `files` (name -> bytes or a path) on `branch` (created from main if new); returns the commit sha.

        Large binary files go in as LFS pointers with their bytes under .git/lfs/objects, as on the Hub.
        """
        d = self.repo_dir(repo_id)
        if not (d / ".git").is_dir():
            d.mkdir(parents=True, exist_ok=True)
            _git(d, "init", "-q", "-b", "main")
            (d / ".gitattributes").write_text("".join(f"*{s} filter=lfs diff=lfs merge=lfs -text\n" for s in LFS_SUFFIXES))
            _git(d, "add", ".gitattributes")
            _git(d, "commit", "-q", "-m", "initial commit")
        branches = _git(d, "branch", "--format=%(refname:short)").split()
        _git(d, "checkout", "-q", branch) if branch in branches else _git(d, "checkout", "-q", "-b", branch, "main")
        for name in delete:
            _git(d, "rm", "-q", name)
        for name, data in files.items():
            data = Path(data).read_bytes() if isinstance(data, Path) else data
            if name.endswith(LFS_SUFFIXES):
                oid = hashlib.sha256(data).hexdigest()
                obj = d / ".git" / "lfs" / "objects" / oid[:2] / oid[2:4] / oid
                obj.parent.mkdir(parents=True, exist_ok=True)
                obj.write_bytes(data)
                data = f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {len(data)}\n".encode()
            (d / name).write_bytes(data)
            _git(d, "add", name)
        _git(d, "commit", "-q", "--allow-empty", "-m", message)
        sha = _git(d, "rev-parse", "HEAD")
        _git(d, "checkout", "-q", "main")
        return sha

    def tag(self, repo_id: str, tag: str, rev: str = "main") -> None:
        _git(self.repo_dir(repo_id), "tag", tag, rev)


def started_olah(root: Path) -> OlahHub:
    """An olah serving mirrors under `root`, started; the calling test is skipped when olah is not installed."""
    import pytest

    cli = olah_cli()
    if cli is None:
        pytest.skip("olah is not installed: scripts/test.sh makes .olah-venv with it (or set OLAH_CLI)")
    server = OlahHub(root)
    server.start(cli)
    return server
