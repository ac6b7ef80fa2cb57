"""`rtstyle bench`: per-stage timings and fps per backend, precision and frame size."""

from __future__ import annotations

import argparse
from pathlib import Path
import sys

from ..capabilities import BACKEND_NAMES, PRECISIONS
from .args import count
from .terminal import EXIT_ERROR


def cmd_bench(args: argparse.Namespace) -> int:
    from ..bench import SIZES, BenchConfig, run_bench, table, write_report

    cfg = BenchConfig(styles=tuple(args.style or (None,)), lite=tuple(v == "lite" for v in args.variants),
                      infer_scale=args.infer_scale, width=args.net_width, backends=tuple(args.backends),
                      precisions=tuple(args.precisions), sizes=tuple(args.sizes or SIZES), runs=args.runs,
                      warmup=args.warmup, e2e_frames=0 if args.model_only else args.frames,
                      temporal=args.temporal, encode_threads=tuple(args.encode_threads or ()),
                      cuda_graphs=args.cuda_graphs, compile=args.compile)
    report = run_bench(cfg, progress=(lambda _: None) if args.quiet else
                       (lambda line: print(line, file=sys.stderr, flush=True)))
    print(table(report))
    if args.json:
        write_report(report, Path(args.json))
        print(f"wrote {args.json}")
    return 0 if any(r["error"] is None for r in report["results"]) else EXIT_ERROR


def add_parsers(sub) -> None:
    p = sub.add_parser("bench", help="per-stage timings and fps per backend, precision and frame size")
    p.add_argument("--style", "-s", nargs="+", help="styles to time (default: starry)")
    p.add_argument("--variants", nargs="+", choices=["full", "lite"], default=["full"],
                   help="full and/or lite variants of each style (default: full)")
    p.add_argument("--infer-scale", type=float, metavar="0.25..1",
                   help="network at this fraction of the frame size (default: 1; lite: 0.5 from 360 lines)")
    p.add_argument("--net-width", type=count, help="time an untrained TransformerNet of this width instead "
                                             "(32: the full pytorch/examples network)")
    p.add_argument("--backends", nargs="+", default=["torch", "onnxruntime"],
                   choices=BACKEND_NAMES)
    p.add_argument("--precisions", nargs="+", default=["fp32"], choices=PRECISIONS)
    p.add_argument("--sizes", nargs="+", metavar="WxH", help="frame sizes (default: 640x360 1280x720 1920x1080)")
    p.add_argument("--runs", type=count, default=5, help="timed model runs per setting (median; default: 5)")
    p.add_argument("--warmup", type=int, default=2, help="untimed runs first (default: 2)")
    p.add_argument("--frames", type=count, default=24, help="frames of the end-to-end conversion (default: 24)")
    p.add_argument("--model-only", action="store_true", help="skip the end-to-end conversions")
    p.add_argument("--temporal", choices=["off", "fast", "quality"], default="off",
                   help="smoothing in the end-to-end runs (default: off)")
    p.add_argument("--encode-threads", nargs="*", type=count, metavar="N",
                   help="also time the encoder alone with these thread counts")
    p.add_argument("--cuda-graphs", action="store_true", help="torch on a GPU: CUDA graphs")
    p.add_argument("--compile", choices=["inductor", "tensorrt"], help="torch: torch.compile")
    p.add_argument("--json", help="write the full report here")
    p.add_argument("-q", "--quiet", action="store_true", help="only the table")
    p.set_defaults(func=cmd_bench)
