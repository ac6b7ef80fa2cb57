"""`rtstyle convert` throughput against the bare model on the same frames.

    python benchmarks/bench_convert.py [CLIP] [--style starry] [--backends torch onnxruntime] [--runs 3]

Bare: the backend alone on the clip's frames, already decoded in memory (after one
warm-up frame). Convert: the whole job (threaded decode -> stylize -> encode + audio)
to a temporary file. Prints the median fps of each over --runs, and their ratio; writes
JSON with --json. Run it with LD_PRELOAD=libtcmalloc_minimal.so.4 to compare allocators.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import av
import torch

from rtstyle.backends import create_backend
from rtstyle.convert import SAMPLE_CLIP, VideoConversion
from rtstyle.models import resolve_style


def decoded(path: Path) -> list:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def bare_fps(backend, frames) -> float:
    backend(frames[0])
    t0 = time.perf_counter()
    for f in frames:
        backend(f)
    return len(frames) / (time.perf_counter() - t0)


def convert_fps(backend, clip: Path) -> float:
    with tempfile.TemporaryDirectory() as d:
        job = VideoConversion(clip, Path(d) / "out.mp4", backend)
        result = job.run()
    return result.fps


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("clip", nargs="?", type=Path, default=SAMPLE_CLIP)
    ap.add_argument("--style", default="starry")
    ap.add_argument("--backends", nargs="+", default=["torch", "onnxruntime"])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    frames = decoded(args.clip)
    allocator = "tcmalloc" if "tcmalloc" in os.environ.get("LD_PRELOAD", "") else "glibc"
    report = {"clip": str(args.clip), "frames": len(frames), "size": f"{frames[0].shape[1]}x{frames[0].shape[0]}",
              "style": args.style, "allocator": allocator, "machine": f"{platform.machine()}, {os.cpu_count()} cpus",
              "torch_threads": torch.get_num_threads(), "results": {}}
    for name in args.backends:
        backend = create_backend(resolve_style(args.style), name)
        bare, conv = [], []
        for _ in range(args.runs):  # interleaved, so drift hits both alike
            bare.append(bare_fps(backend, frames))
            conv.append(convert_fps(backend, args.clip))
        b, c = statistics.median(bare), statistics.median(conv)
        report["results"][name] = {"bare_fps": bare, "convert_fps": conv, "bare_median": b, "convert_median": c,
                                   "ratio": c / b}
        print(f"{name:12s} bare {b:6.2f} fps  convert {c:6.2f} fps  ratio {c / b:.3f}  "
              f"({allocator}, runs: bare {[round(x, 2) for x in bare]}, convert {[round(x, 2) for x in conv]})")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
