"""CPU tuning for real time: ONNX Runtime session options, the allocator, the thread split.

    python benchmarks/bench_cpu_tuning.py [--style starry] [--runs 20] [--convert-runs 3]
        [--clip cutBunny.mp4] [--tcmalloc /usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4]

1. Model only, in one process, settings interleaved: the lite variant at 320x180 (what
   `--lite` runs for 640x360) and the full style at 640x360, through PyTorch (intra-op
   threads 1 and 2) and through ONNX Runtime with each combination of intra-op threads
   (1, 2), graph optimisation (basic, all), memory arena (on, off) and thread spinning
   (on, off). Median ms of --runs.
2. End to end, `rtstyle convert CLIP --lite` as a whole command, interleaved, median of
   --convert-runs: backend torch or onnxruntime, glibc malloc or tcmalloc (LD_PRELOAD),
   and the inference thread count (OMP_NUM_THREADS=1 leaves one core to decoding,
   smoothing and encoding).
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
import torch

from rtstyle.backends import create_backend
from rtstyle.images import read_image
from rtstyle.models.export import cached_onnx
from rtstyle.models.library import lite_variant, resolve_style

FIXTURES = Path(os.environ.get("RTSTYLE_FIXTURES", "../shared/fixtures"))


def ort_session(path: Path, intra: int, level: str, arena: bool, spin: bool) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = intra
    opts.graph_optimization_level = {"basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
                                     "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL}[level]
    opts.enable_cpu_mem_arena = arena
    opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
    opts.log_severity_level = 3
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def model_only(args) -> None:
    photo = read_image(FIXTURES / "images" / "content" / "golden_gate.jpg")
    print("| network | size | runtime | settings | median ms |\n|---|---|---|---|---|")
    for style, (w, h) in ((lite_variant(args.style), (320, 180)), (resolve_style(args.style), (640, 360))):
        x = cv2.resize(photo, (w, h), interpolation=cv2.INTER_AREA)
        nchw = np.ascontiguousarray(x.transpose(2, 0, 1)[None], dtype=np.float32)
        onnx_path = cached_onnx(style)
        runners = {}
        model = create_backend(style, "torch").runtime.model
        for threads in (1, 2):
            def run(threads=threads, t=torch.from_numpy(nchw)):
                torch.set_num_threads(threads)
                with torch.inference_mode():
                    model(t)
            runners[("torch", f"threads {threads}")] = run
        for intra, level, arena, spin in itertools.product((1, 2), ("basic", "all"), (True, False), (True, False)):
            sess = ort_session(onnx_path, intra, level, arena, spin)
            name = sess.get_inputs()[0].name
            runners[("onnxruntime", f"threads {intra}, opt {level}, arena {'on' if arena else 'off'}, "
                                    f"spin {'on' if spin else 'off'}")] = (lambda s=sess, n=name: s.run(None, {n: nchw}))
        times: dict[tuple, list[float]] = {k: [] for k in runners}
        for fn in runners.values():
            fn()
        for _ in range(args.runs):
            for key, fn in runners.items():
                t0 = time.perf_counter()
                fn()
                times[key].append((time.perf_counter() - t0) * 1000)
        torch.set_num_threads(os.cpu_count() or 1)
        for (runtime, settings), t in times.items():
            print(f"| {style.name} | {w}x{h} | {runtime} | {settings} | {statistics.median(t):.1f} |", flush=True)


def end_to_end(args) -> None:
    clip = FIXTURES / "video" / args.clip
    n = int(cv2.VideoCapture(str(clip)).get(cv2.CAP_PROP_FRAME_COUNT))
    allocs = {"glibc": None} | ({"tcmalloc": args.tcmalloc} if Path(args.tcmalloc).is_file() else {})
    configs = list(itertools.product(("torch", "onnxruntime"), allocs, (2, 1)))
    walls: dict[tuple, list[float]] = {c: [] for c in configs}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.convert_runs):
            for backend, alloc, threads in configs:
                env = dict(os.environ, OMP_NUM_THREADS=str(threads))
                if allocs[alloc]:
                    env["LD_PRELOAD"] = allocs[alloc]
                t0 = time.perf_counter()
                subprocess.run([sys.executable, "-m", "rtstyle", "convert", str(clip), "-o", f"{tmp}/o.mp4", "-y", "-q",
                                "--lite", "--style", args.style, "--backend", backend], check=True, env=env,
                               stdout=subprocess.DEVNULL)
                walls[(backend, alloc, threads)].append(time.perf_counter() - t0)
    print(f"\n`rtstyle convert {args.clip} --lite --style {args.style}` ({n} frames), whole command, median of "
          f"{args.convert_runs}, interleaved\n")
    print("| backend | allocator | inference threads | wall s | fps |\n|---|---|---|---|---|")
    for (backend, alloc, threads), w in walls.items():
        wall = statistics.median(w)
        print(f"| {backend} | {alloc} | {threads} | {wall:.1f} | {n / wall:.1f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--style", default="starry")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--convert-runs", type=int, default=3)
    ap.add_argument("--clip", default="cutBunny.mp4")
    ap.add_argument("--tcmalloc", default="/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4")
    args = ap.parse_args()
    model_only(args)
    if args.convert_runs:
        end_to_end(args)


if __name__ == "__main__":
    main()
