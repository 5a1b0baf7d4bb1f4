"""Refresh the default manifest entry's provenance (sha256 per file, config) from checkpoints/default."""

import json
from pathlib import Path

from grok_core.hub import config_for, provenance_for
from grok_core.series import open_series

REPO = Path(__file__).resolve().parents[1]
path = REPO / "checkpoints_manifest.json"
m = json.loads(path.read_text())
entry = m["series"][0]
assert entry["id"] == "default"
s = open_series(REPO / "checkpoints" / "default")
prov = entry.setdefault("provenance", {})
prov.update(provenance_for(REPO / "checkpoints" / "default"))
prov.update(
    command=s.meta["provenance"]["command"],
    seed=s.train_cfg.seed,
    data_seed=s.train_cfg.data_seed,
    grok_core_version=s.meta["provenance"]["grok_core_version"],
    torch_version=s.meta["provenance"]["torch_version"],
    device=s.meta["provenance"]["device"],
    machine=s.meta["provenance"].get("machine"),
)
entry["config"] = config_for(REPO / "checkpoints" / "default")
entry["size_mb"] = round(prov["total_bytes"] / 1e6, 1)
path.write_text(json.dumps(m, indent=1) + "\n")
print(json.dumps(prov, indent=1))
