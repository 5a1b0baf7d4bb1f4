"""Command line: train, bench, sweep, info, publish, convert."""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import shlex
import sys
from pathlib import Path

from .config import ModelConfig, TrainConfig


def _add_config_args(ap: argparse.ArgumentParser) -> None:
    for cls in (ModelConfig, TrainConfig):
        for f in dataclasses.fields(cls):
            if f.name in ("schedule", "betas"):
                continue
            default = f.default
            ap.add_argument(f"--{f.name.replace('_', '-')}", type=type(default), default=None,
                            help=f"{cls.__name__}.{f.name} (default {default})")
    ap.add_argument("--schedule", default=None,
                    help='checkpoint schedule as JSON [[until, every], ...], default ' + json.dumps(TrainConfig().schedule))


def _configs(args) -> tuple[ModelConfig, TrainConfig]:
    def pick(cls):
        kw = {}
        for f in dataclasses.fields(cls):
            v = getattr(args, f.name, None)
            if v is not None and f.name not in ("schedule", "betas"):
                kw[f.name] = v
        return kw

    tkw = pick(TrainConfig)
    if args.schedule:
        try:
            tkw["schedule"] = tuple(tuple(x) for x in json.loads(args.schedule))
        except (ValueError, TypeError, RecursionError):
            raise ValueError(f"--schedule {args.schedule[:80]!r} is not a JSON list of [until_step, every] pairs, "
                             "e.g. [[200, 10], [25000, 100]]") from None
    return ModelConfig(**pick(ModelConfig)), TrainConfig(**tkw)


def _check_train_args(args) -> tuple[ModelConfig, TrainConfig]:
    """Configs and output folder checked before any work: a bad value is a usage error, not a traceback."""
    from .series import shown

    fail = args.parser.error  # prints usage and the message, exits with status 2
    try:
        mcfg, tcfg = _configs(args)
    except ValueError as e:
        fail(str(e))
    out = Path(args.out)
    try:
        if out.exists() and not out.is_dir():
            fail(f"{shown(args.out)}: exists and is not a folder; give a folder for the series")
    except OSError as e:  # e.g. a name too long
        fail(f"{shown(args.out)}: cannot be used as a folder ({e.strerror or e})")
    if tcfg.device.startswith("cuda"):
        from .device import has_cuda

        if not has_cuda():
            fail(f"--device {tcfg.device}: no CUDA GPU is available on this machine; use --device cpu or auto")
    if args.cuda_graph and tcfg.device == "cpu":
        fail("--cuda-graph needs a CUDA device (--device cuda or auto on a machine with a GPU)")
    return mcfg, tcfg


def cmd_train(args) -> int:
    from .series import SeriesError
    from .train import summary, train_series

    mcfg, tcfg = _check_train_args(args)
    print(f"training into {args.out}: {mcfg}\n{tcfg}\n{len(tcfg.checkpoint_steps())} checkpoints", file=sys.stderr)
    try:
        command = args.command
        s = train_series(args.out, mcfg, tcfg, dtype=args.dtype, title=args.title, progress=not args.quiet,
                         provenance={"command": command}, cuda_graph=args.cuda_graph)
    except SeriesError as e:  # includes a full disk (DiskFullError): the message names the file
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # e.g. a folder that cannot be created
        print(f"error: {e.filename or args.out}: {e.strerror or e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    print(json.dumps(summary(s), indent=1))
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m grok_core", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train", help="train one run into a checkpoint series (resumes a partial one)")
    t.add_argument("out", help="series folder to create or resume")
    t.add_argument("--dtype", choices=["float32", "float16"], default="float32", help="storage dtype of checkpoints")
    t.add_argument("--title", default=None)
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.add_argument("--cuda-graph", action="store_true", help="capture each step in one CUDA graph (CUDA only)")
    _add_config_args(t)
    t.set_defaults(fn=cmd_train, parser=t)
    for modname in _EXTRA_MODULES:
        importlib.import_module(f"grok_core.{modname}").register(sub)
    return ap


# Each of these modules defines `register(subparsers)` adding its own subcommands.
_EXTRA_MODULES = [m for m in ("sources_cli", "bench", "sweep", "animate_cli") if (Path(__file__).parent / f"{m}.py").exists()]


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    args.command = "python -m grok_core " + " ".join(shlex.quote(a) for a in argv)  # provenance
    return args.fn(args)
