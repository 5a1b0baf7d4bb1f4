"""Command line for checkpoint sources: `info`, `publish`, `convert` (registered by grok_core/cli.py).

    python -m grok_core info SOURCE            a series folder, a manifest id, or owner/name[@revision]
    python -m grok_core publish SERIES --repo-id USER/NAME [--revision R]
    python -m grok_core convert INPUT OUT      a Nanda/ARENA or TransformerLens-demo .pth -> series
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np

_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def _err(msg: str) -> int:
    print(f"error: {msg}", file=sys.stderr)
    return 2


def summarize(meta: dict, file_sizes: dict[str, int] | None = None) -> dict:
    """Config, steps, final metrics and file sizes of a series, from its series.json alone."""
    steps = [s for sh in meta.get("shards", []) for s in sh["steps"]]
    m = meta.get("metrics", {})
    final = {k: v[-1] for k, v in m.items() if k != "step" and v}
    sizes = dict(file_sizes) if file_sizes is not None else {sh["file"]: sh["bytes"] for sh in meta.get("shards", [])}
    split = meta.get("split", {})
    return {
        "title": meta.get("title"),
        "format": f"{meta.get('format')} v{meta.get('format_version')}",
        "complete": meta.get("complete"),
        "dtype": meta.get("dtype"),
        "model_config": meta.get("model_config"),
        "train_config": meta.get("train_config"),
        "split": {k: split.get(k) for k in ("kind", "n_train", "frac_train", "data_seed", "rebuilt_from") if k in split},
        "checkpoints": {"count": len(steps), "first": steps[0] if steps else None, "last": steps[-1] if steps else None,
                        "steps": steps},
        "metrics": {"count": len(m.get("step", [])), "final_step": m["step"][-1] if m.get("step") else None, "final": final},
        "files": sizes,
        "total_bytes": sum(sizes.values()),
        "extras": sorted(meta.get("extras", {})),
        "provenance": meta.get("provenance", {}),
        "converted_from": meta.get("source"),
    }


def _print_summary(where: str, info: dict) -> None:
    mc, tc = info["model_config"] or {}, info["train_config"] or {}
    ck, me = info["checkpoints"], info["metrics"]
    steps = ck["steps"]
    shown = ", ".join(map(str, steps)) if len(steps) <= 16 else ", ".join(map(str, steps[:10])) + ", …, " + ", ".join(
        map(str, steps[-4:]))
    print(f"{info['title'] or '(untitled)'}\n  source: {where}\n  format: {info['format']}, {info['dtype']}, "
          f"{'complete' if info['complete'] else 'INCOMPLETE (training not finished)'}")
    print("  model:  " + ", ".join(f"{k}={v}" for k, v in mc.items()))
    keys = ("operation", "frac_train", "seed", "data_seed", "lr", "weight_decay", "betas", "warmup_steps", "n_steps")
    print("  train:  " + ", ".join(f"{k}={tc[k]}" for k in keys if k in tc))
    if info["split"]:
        print("  split:  " + ", ".join(f"{k}={v}" for k, v in info["split"].items()))
    print(f"  checkpoints: {ck['count']} (steps {ck['first']}..{ck['last']}): {shown}")
    fin = ", ".join(f"{k}={v:.6g}" for k, v in me["final"].items())
    print(f"  metrics: {me['count']} steps; final (step {me['final_step']}): {fin}")
    print(f"  files ({info['total_bytes'] / 1e6:.1f} MB):")
    for name, b in info["files"].items():
        print(f"    {name:42s} {b / 1e6:9.2f} MB")
    if info["extras"]:
        print("  extras: " + ", ".join(info["extras"]))
    for problem in info.get("extras_not_usable", []):
        print(f"  not usable (recomputed when needed): {problem}")
    if (info.get("converted_from") or {}).get("loss_check"):
        print(f"  conversion loss check: {json.dumps(info['converted_from']['loss_check'])}")


def _info_hub(spec: str, args) -> tuple[str, dict]:
    """owner/name[@revision]: the format read off the repo's files (or --format); series.json alone when native."""
    from .hub import cli_progress, fetch_series_json, hub_entry, locate, open_entry, open_hub, parse_spec

    repo_id, revision = parse_spec(spec if "@" in spec else f"{spec}@{args.revision}")
    progress = None if args.quiet else cli_progress()
    if args.format != "auto":
        entry = hub_entry(repo_id, revision, args.format, args.file)
        if args.format == "native":
            return json.dumps(entry.source), _described(fetch_series_json(entry), f"{repo_id}/series.json")
        s = open_entry(entry, progress=progress)
        return f"{json.dumps(entry.source)}\n  opened from: {s.path}", _summary_of(s)
    d = locate(f"{repo_id}@{revision}", filename=args.file)
    if d.format == "native":  # just series.json: no shard downloads
        return d.describe(), _described(fetch_series_json(hub_entry(repo_id, revision)), f"{repo_id}/series.json")
    s, d = open_hub(f"{repo_id}@{revision}", progress=progress, filename=d.file)
    return f"{d.describe()}\n  opened from: {s.path}", _summary_of(s)


def _summary_of(s) -> dict:
    info = summarize(s.meta, {f.name: f.stat().st_size for f in s.files()})
    info["extras_not_usable"] = list(s.extra_problems.values())
    return info


def _described(meta: dict, where: str) -> dict:
    """The summary of a series.json fetched alone, after checking it is one."""
    from .series import check_description

    check_description(meta, where)
    return summarize(meta)


def _is_dir(src: str) -> bool:
    try:
        return Path(src).is_dir()
    except OSError:  # a name too long for the file system, ...: not a folder
        return False


def cmd_info(args) -> int:
    from .hub import SourceError, cli_progress, get_entry, load_manifest, open_entry
    from .series import Series, SeriesError, shown

    src = args.source
    try:
        if _is_dir(src):
            where, info = str(Path(src).resolve()), _summary_of(Series(src))
        else:
            entries, _ = load_manifest(args.manifest)
            if any(e.id == src for e in entries):
                entry = get_entry(src, args.manifest)
                where = f"manifest id {entry.id}: {json.dumps(entry.source)}"
                if entry.format == "native" and not entry.is_local:
                    from .hub import fetch_series_json

                    info = _described(fetch_series_json(entry), f"{entry.repo_id}/series.json")  # just series.json: no shard downloads
                else:
                    s = open_entry(entry, progress=None if args.quiet else cli_progress())
                    where, info = f"{where}\n  opened from: {s.path}", _summary_of(s)
            elif _REPO_ID.match(src.split("@")[0]):
                where, info = _info_hub(src, args)
            else:
                return _err(f"{shown(src)} is not a series folder, a manifest id ({', '.join(e.id for e in entries)}) "
                            "or a Hub repo id (owner/name or owner/name@revision)")
    except (SourceError, SeriesError) as e:
        return _err(str(e))
    if args.json:
        print(json.dumps({"source": where, **info}, indent=1, default=lambda o: o.tolist() if isinstance(o, np.ndarray) else str(o)))
    else:
        _print_summary(where, info)
    return 0


def cmd_publish(args) -> int:
    from .publish import PublishError, plan_publish, publish

    try:
        plan = plan_publish(args.series, args.repo_id, args.revision, private=args.private, license=args.license,
                            allow_incomplete=args.allow_incomplete)
    except PublishError as e:
        return _err(str(e))
    print(f"publish {plan.series_path} -> https://huggingface.co/{plan.repo_id}"
          f"{' (branch ' + plan.revision + ')' if plan.revision else ''}: {len(plan.files)} files, "
          f"{plan.total_bytes / 1e6:.1f} MB", file=sys.stderr)
    for f in plan.files:
        print(f"  {f['path_in_repo']:42s} {f['bytes'] / 1e6:9.2f} MB", file=sys.stderr)
    if args.dry_run:
        for name, kw in plan.calls():
            print(f"  would call HfApi.{name}({', '.join(f'{k}={v!r}' for k, v in kw.items())})", file=sys.stderr)
        if args.show_card:
            print(plan.card)
        return 0
    try:
        url = publish(plan, **({"timeout_s": args.timeout} if args.timeout else {}))
    except PublishError as e:  # network, auth, timeouts: the failed call and huggingface_hub's message
        return _err(f"upload failed: {e}")
    except KeyboardInterrupt:
        return _err("upload cancelled")
    print(url)
    return 0


def cmd_convert(args) -> int:
    from .convert import ConvertError, convert_file, summary_line
    from .hub import cli_progress

    try:
        s = convert_file(args.input, args.out, format=args.format, dtype=args.dtype, title=args.title,
                         progress=None if args.quiet else cli_progress())
    except ConvertError as e:
        return _err(str(e))
    except OSError as e:  # a name too long, a folder that cannot be made, ...
        from .series import shown

        return _err(f"{shown(str(e.filename or args.out))}: {e.strerror or e}")
    print(f"wrote {s.path}: {summary_line(s)}")
    check = s.meta.get("source", {}).get("loss_check")
    if check and not check.get("consistent"):
        print("warning: the recomputed train loss does not match the file's curve; the rebuilt split or the step "
              "alignment may differ from the original run", file=sys.stderr)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    from .manifest import MANIFEST_PATH  # not .hub: the CLI starts without importing the Hub client

    i = sub.add_parser("info", help="print config, steps, final metrics and file sizes of a series",
                       description="SOURCE: a series folder, a manifest id, or a Hugging Face repo: owner/name or "
                                   "owner/name@revision (the format is read off the repo's files).")
    i.add_argument("source")
    i.add_argument("--revision", default="main", help="Hub revision for a repo id (default main; or owner/name@rev)")
    i.add_argument("--format", default="auto", choices=["auto", "native", "nanda_full_run", "tl_demo"],
                   help="format of a Hub repo given by id (default: read off the repo's files)")
    i.add_argument("--file", default=None, help="the file to open in the repo, when it holds several .pth files")
    i.add_argument("--manifest", type=Path, default=MANIFEST_PATH, help=argparse.SUPPRESS)
    i.add_argument("--json", action="store_true", help="machine-readable output")
    i.add_argument("--quiet", action="store_true", help="no progress bars")
    i.set_defaults(fn=cmd_info)

    p = sub.add_parser("publish", help="upload a series to the Hugging Face Hub with a model card",
                       description="Creates USER/NAME if needed and uploads the series and a README.md model card. "
                                   "Uses your Hugging Face login (`hf auth login`) or HF_TOKEN.")
    p.add_argument("series", help="series folder")
    p.add_argument("--repo-id", required=True, help="USER/NAME or ORG/NAME")
    p.add_argument("--revision", default=None, help="branch to upload to (created if missing; default main)")
    p.add_argument("--private", action="store_true")
    p.add_argument("--license", default=None, help="license id for the model card, e.g. mit")
    p.add_argument("--allow-incomplete", action="store_true", help="publish a series whose training has not finished")
    p.add_argument("--dry-run", action="store_true", help="show what would be uploaded; no network")
    p.add_argument("--show-card", action="store_true", help="with --dry-run: print the model card")
    p.add_argument("--timeout", type=float, default=None, metavar="S",
                   help="seconds to wait for each answer from the Hub (default 60, or GROK_CORE_PUBLISH_TIMEOUT)")
    p.set_defaults(fn=cmd_publish)

    c = sub.add_parser("convert", help="convert a Nanda/ARENA or TransformerLens-demo .pth into a series",
                       description="Reads the file with torch.load(weights_only=True) only; files that pickle "
                                   "Python objects are refused.")
    c.add_argument("input", help="the .pth file")
    c.add_argument("out", help="series folder to create")
    c.add_argument("--format", default="auto", choices=["auto", "nanda_full_run", "tl_demo"])
    c.add_argument("--dtype", default="float32", choices=["float32", "float16"])
    c.add_argument("--title", default=None)
    c.add_argument("--quiet", action="store_true", help="no progress bar")
    c.set_defaults(fn=cmd_convert)
