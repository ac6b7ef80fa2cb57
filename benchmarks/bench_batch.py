"""`rtstyle batch` on Ray: how it scales with workers, and whether the joins show.

    python benchmarks/bench_batch.py scaling [--seconds 24] [--height 360] [--runs 3]
    python benchmarks/bench_batch.py seams CLIP... [--height 240] [--segment-seconds 2]

scaling: the bundled clip looped to --seconds (a keyframe every second), converted here with
`convert` and on a local Ray cluster of 1 and 2 worker CPUs in 2 s segments; reports wall time,
fps, and the speed-up and efficiency of 2 workers over 1, median over runs.
seams: each clip converted with `convert` and on Ray in segments; the warping error (Lai et
al. 2018, as `rtstyle eval-temporal` measures it) of every pair of consecutive output frames,
averaged over the pairs that cross a join, the pairs before it over which a segment hands its
held areas over to the next (`TemporalSmoother.hand_over`), and all others, for both outputs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from rtstyle.cluster.batch import Batch, ConvertOptions
from rtstyle.cluster.segments import plan
from rtstyle.convert import SAMPLE_CLIP, VideoConversion
from rtstyle.sources import VideoFileSource
from rtstyle.temporal.evaluate import farneback, warping_error
from rtstyle.temporal.flow import trackable

STYLE = "udnie"


def keyframed(src: Path, dst: Path, seconds: float | None = None) -> Path:
    """`src` re-encoded with a keyframe every second (looped to `seconds`), so it can be cut."""
    loop = ["-stream_loop", "-1"] if seconds else []
    limit = ["-t", str(seconds)] if seconds else []
    subprocess.run(["ffmpeg", "-v", "error", "-y", *loop, "-i", str(src), *limit, "-c:v", "libx264", "-g", "24",
                    "-c:a", "aac", str(dst)], check=True)
    return dst


def ray_batch(clip: Path, out: Path, options: ConvertOptions, cpus: int, segment_seconds: float) -> float:
    import ray

    ray.init(num_cpus=cpus, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    t = time.perf_counter()
    result = Batch([clip], out, options, overwrite=True).run_ray(None, segment_seconds=segment_seconds)[0]
    if result.error:
        raise SystemExit(result.error)
    return time.perf_counter() - t


def scaling(args) -> dict:
    options = ConvertOptions(style=STYLE, height=args.height)
    with tempfile.TemporaryDirectory() as d:
        clip = keyframed(SAMPLE_CLIP, Path(d) / "long.mp4", args.seconds)
        frames = VideoFileSource(clip).info.frames
        runs: dict[str, list[float]] = {"convert": [], "ray 1 worker": [], "ray 2 workers": []}
        for _ in range(args.runs):
            t = time.perf_counter()
            VideoConversion(clip, Path(d) / "local.mp4", options.backend_for(), height=args.height,
                            overwrite=True).run()
            runs["convert"].append(time.perf_counter() - t)
            for cpus in (1, 2):
                runs[f"ray {cpus} worker{'s' if cpus > 1 else ''}"].append(
                    ray_batch(clip, Path(d) / f"ray{cpus}", options, cpus, 2.0))
        wall = {k: statistics.median(v) for k, v in runs.items()}
    for k, v in wall.items():
        print(f"{k}: {v:.1f} s, {frames / v:.1f} fps", flush=True)
    speedup = wall["ray 1 worker"] / wall["ray 2 workers"]
    return {"frames": frames, "height": args.height, "style": STYLE, "wall_s": wall,
            "fps": {k: frames / v for k, v in wall.items()}, "speedup_2_over_1": speedup,
            "efficiency_2": speedup / 2, "ray_overhead_1_worker": wall["ray 1 worker"] / wall["convert"] - 1}


def frames_of(path: Path) -> list[np.ndarray]:
    with VideoFileSource(path) as s:
        return [f.image for f in s]


def pair_errors(inputs: list[np.ndarray], outputs: list[np.ndarray]) -> list[float]:
    errors = []
    for i in range(1, len(outputs)):
        a, b = (cv2.cvtColor(inputs[j], cv2.COLOR_RGB2GRAY) for j in (i - 1, i))
        backward, forward = farneback(b, a), farneback(a, b)
        errors.append(warping_error(outputs[i], outputs[i - 1], backward, trackable(backward, forward)))
    return errors


def seams(args) -> dict:
    options = ConvertOptions(style=STYLE, height=args.height)
    report = {}
    with tempfile.TemporaryDirectory() as d:
        for n, src in enumerate(args.clips):
            clip = keyframed(Path(src), Path(d) / f"{n}.mp4")
            local = Path(d) / f"local{n}.mp4"
            VideoConversion(clip, local, options.backend_for(), height=args.height, overwrite=True).run()
            ray_batch(clip, Path(d) / "ray", options, 2, args.segment_seconds)
            joined = Path(d) / "ray" / f"{n}_{STYLE}.mp4"
            segments = plan(clip, args.segment_seconds)
            with VideoFileSource(clip) as s:
                tb, rate = s.info.time_base, s.info.rate
            starts = {round(seg.start * tb * rate) for seg in segments[1:]}  # frame numbers
            # the pairs over which a segment dissolves its held areas into the next one's (hand_over)
            handing = {round(seg.end * tb * rate) - k for seg in segments[:-1] for k in range(1, seg.hand_over_frames + 1)}
            outs = {"convert": frames_of(local), "ray": frames_of(joined)}
            h, w = outs["convert"][0].shape[:2]
            inputs = [cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) for f in frames_of(clip)]
            row = {}
            for name, frames in outs.items():
                errors = pair_errors(inputs, frames)
                at = [e for i, e in enumerate(errors, start=1) if i in starts]
                over = [e for i, e in enumerate(errors, start=1) if i in handing]
                rest = [e for i, e in enumerate(errors, start=1) if i not in starts and i not in handing]
                row[name] = {"at_joins": float(np.mean(at)), "handing_over": float(np.mean(over)),
                             "elsewhere": float(np.mean(rest))}
                print(f"{Path(src).name} {name}: warping error at the {len(at)} joins {row[name]['at_joins']:.5f}, "
                      f"over the {len(over)} hand-over pairs {row[name]['handing_over']:.5f}, "
                      f"elsewhere {row[name]['elsewhere']:.5f}", flush=True)
            report[Path(src).name] = row
    return report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="what", required=True)
    p = sub.add_parser("scaling")
    p.add_argument("--seconds", type=float, default=24.0)
    p.add_argument("--height", type=int, default=360)
    p.add_argument("--runs", type=int, default=3)
    p = sub.add_parser("seams")
    p.add_argument("clips", nargs="+")
    p.add_argument("--height", type=int, default=240)
    p.add_argument("--segment-seconds", type=float, default=2.0)
    args = ap.parse_args()
    result = scaling(args) if args.what == "scaling" else seams(args)
    result["machine"] = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
