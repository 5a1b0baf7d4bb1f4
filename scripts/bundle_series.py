"""Bundle a finished series beside the default: copy it into checkpoints/<id>/, cache its progress
measures, print what it learned, and add (or refresh) its manifest entry right after the default.

    python scripts/bundle_series.py /work/runs/wd0 no-weight-decay --title "..." --description "..."

Only the series' own files travel (series.json, params-*.safetensors, extras); a resume file is left
behind. The entry records the size, the offline source path, the config and the sha256 of every file.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from grok_core.analysis import progress  # noqa: E402
from grok_core.hub import config_for, provenance_for  # noqa: E402
from grok_core.series import open_series  # noqa: E402
from grok_core.train import summary  # noqa: E402


def copy_series(src: Path, dest: Path) -> None:
    s = open_series(src)
    if not s.complete:
        raise SystemExit(f"{src}: still training (series.json says complete: false); bundle it when it is done")
    dest.mkdir(parents=True, exist_ok=True)
    for f in s.files():
        shutil.copy2(f, dest / f.name)


def report(dest: Path) -> dict:
    s = open_series(dest)
    prog = progress.series_progress(s)  # writes checkpoints/<id>/progress.safetensors
    s = open_series(dest)  # reopened: series.json now lists the progress extra
    sm, m = summary(s), s.metrics
    print(f"{s}: {s.nbytes() / 1e6:.1f} MB; key frequencies {prog['key_freqs'].tolist()}")
    print(f"  memorised (train accuracy >= 99%) at step {sm['memorised_step']}; "
          f"generalised (test accuracy >= 99%) at step {sm['generalised_step']}")
    print(f"  final: train accuracy {sm['final']['train_acc']:.1%}, test accuracy {sm['final']['test_acc']:.1%}, "
          f"train loss {sm['final']['train_loss']:.3g}, test loss {sm['final']['test_loss']:.3g}; "
          f"best test accuracy {m['test_acc'].max():.1%} at step {int(m['step'][m['test_acc'].argmax()])}")
    print(f"  sum of squared weights: {prog['sum_sq_weights'][0]:.0f} at step 0 -> {prog['sum_sq_weights'][-1]:.0f} "
          f"at the end; key frequencies' share of W_E at the end {prog['key_share'][-1]:.0%}")
    return sm


def manifest_entry(dest: Path, sid: str, title: str, description: str, root: Path = REPO) -> dict:
    s = open_series(dest)
    prov = provenance_for(dest)
    meta = s.meta.get("provenance", {})
    prov.update(command=meta.get("command"), seed=s.train_cfg.seed, data_seed=s.train_cfg.data_seed,
                grok_core_version=meta.get("grok_core_version"), torch_version=meta.get("torch_version"),
                device=meta.get("device"))
    return {"id": sid, "title": title, "description": description,
            "source": {"path": dest.relative_to(root).as_posix()}, "format": "native",
            "size_mb": round(prov["total_bytes"] / 1e6, 1), "config": config_for(dest), "provenance": prov}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("src", type=Path, help="the finished series folder")
    ap.add_argument("id", help="the manifest id, also the folder name under checkpoints/")
    ap.add_argument("--title", required=True)
    ap.add_argument("--description", required=True)
    ap.add_argument("--no-manifest", action="store_true", help="copy and report only")
    ap.add_argument("--root", type=Path, default=REPO, help="the repository to bundle into (default: this one)")
    args = ap.parse_args(argv)
    dest = args.root / "checkpoints" / args.id
    copy_series(args.src, dest)
    report(dest)
    if args.no_manifest:
        return
    path = args.root / "checkpoints_manifest.json"
    m = json.loads(path.read_text())
    entry = manifest_entry(dest, args.id, args.title, args.description, args.root)
    others = [e for e in m["series"] if e.get("id") != args.id]
    at = next((i + 1 for i, e in enumerate(others) if e.get("id") == "default"), len(others))
    m["series"] = others[:at] + [entry] + others[at:]
    path.write_text(json.dumps(m, indent=1) + "\n")
    print(f"manifest: {args.id} at position {at} ({entry['size_mb']} MB)")


if __name__ == "__main__":
    main()
