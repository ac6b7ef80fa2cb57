"""AdaIN decoder training speed: fp32 against bf16 autocast, side by side.

    python benchmarks/bench_train_adain.py [--iters 40] [--warmup 5] [--batch 8] [--size 128] [--device auto]

Runs `train_adain` itself (crops, colour jitter, both VGG passes, the optimiser step)
on the bundled sample clip's frames as content and style, once per precision in one
process, and reports the median seconds per step from each run's loss log, after
`--warmup` steps (each step ends in a `.item()`, so GPU times are whole). bf16 needs
a GPU from Ampere on or a CPU with AVX512-BF16 or AMX; elsewhere its row is skipped.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import tempfile
from pathlib import Path

from rtstyle.configs import DEVICES, AdaINTrainConfig
from rtstyle.train import training_device
from rtstyle.train_adain import native_bf16, train_adain

SAMPLE = Path(__file__).resolve().parents[1] / "rtstyle" / "data" / "sample.mp4"


def seconds_per_step(log: Path, warmup: int) -> float:
    seconds = [float(r["seconds"]) for r in csv.DictReader(log.read_text().splitlines())]
    return statistics.median(b - a for a, b in zip(seconds[warmup:], seconds[warmup + 1:]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iters", type=int, default=40)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--device", choices=DEVICES, default="auto")
    args = ap.parse_args()
    device = training_device(args.device)
    precisions = ["fp32"] + (["bf16"] if native_bf16(device) else [])
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for precision in precisions:
            cfg = AdaINTrainConfig(content=str(SAMPLE.parent), styles=str(SAMPLE.parent), out=f"{tmp}/{precision}",
                                   iters=args.iters, batch=args.batch, size=args.size, identity=0.5,
                                   precision=precision, device=args.device, frames_per_video=20)
            train_adain(cfg, progress=False)
            results[precision] = seconds_per_step(Path(cfg.out) / f"{cfg.name}.losses.csv", args.warmup)
    print(f"{device}: batch {args.batch}, {args.size} px crops, identity 0.5, median of "
          f"{args.iters - args.warmup - 1} steps")
    for precision, s in results.items():
        print(f"{precision:5s} {s:.3f} s/step  {results['fp32'] / s:.2f}x")
    if len(precisions) == 1:
        print(f"bf16: skipped ({device} has no native bf16)")


if __name__ == "__main__":
    main()
