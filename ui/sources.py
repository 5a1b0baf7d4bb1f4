"""The series the picker offers: manifest entries (default first), then series trained in this app."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from grok_core import hub
from grok_core.series import JSON_NAME, Series, open_series

REPO = Path(__file__).resolve().parents[1]
RUNS = Path(os.environ.get("GROK_APP_RUNS", REPO / "runs"))  # series trained from the app's training page


@dataclass(frozen=True)
class Choice:
    """One series the picker offers."""

    id: str  # a manifest id, or "runs/<name>" for a series trained here
    title: str
    description: str
    offline: bool  # opens without the network
    size_mb: float | None = None
    entry: hub.ManifestEntry | None = None  # None for local runs
    path: str | None = None

    @property
    def local_path(self) -> Path | None:
        """The folder to watch for changes (a run still training), or None for a remote series."""
        if self.path:
            return Path(self.path)
        return hub.local_path(self.entry) if self.entry is not None and self.entry.is_local else None


def list_choices(runs: Path = RUNS) -> tuple[list[Choice], list[str]]:
    """Manifest entries (default first) then series trained here; plus manifest problems for a notice."""
    entries, errors = hub.load_manifest()
    out = []
    for e in entries:
        try:
            offline = hub.is_available_offline(e)
        except Exception:  # a damaged cache must not hide the entry
            offline = False
        out.append(Choice(e.id, e.title, e.description, offline, e.size_mb, entry=e))
    if runs.is_dir():
        for d in sorted(runs.iterdir()):
            if (d / JSON_NAME).is_file():
                out.append(Choice(f"runs/{d.name}", f"Trained here: {d.name}", f"Series trained in this app ({d}).",
                                  True, path=str(d)))
    if not out:  # no manifest at all: still offer the bundled series
        out.append(Choice("default", "Bundled run", "checkpoints/default", True, path=str(REPO / "checkpoints/default")))
    return out, errors


def open_choice(c: Choice, progress=None) -> Series:
    """Open without caching (downloads and conversions report to progress(done, total, message))."""
    if c.entry is not None:
        return hub.open_entry(c.entry, progress=progress)
    return open_series(c.path)
