"""Live-policy latency, drops and memory of `rtstyle stream` on a real-time file source.

    python benchmarks/bench_live.py latency [--seconds 60] [--runs 3]
    python benchmarks/bench_live.py memory  [--minutes 20]

latency: the bundled 640x360 sample clip read at its own pace (--realtime --loop),
stylized by the given style under the live policy, encoded to MPEG-TS; reports the
capture-to-sink latency (median, p95) and the drop rate from the pipeline's stats,
median over --runs runs, in this process.
memory: the same as a `rtstyle stream` subprocess for --minutes; samples its resident
memory (VmRSS) every 10 s and reports the growth from the 2-minute mark (after
warm-up) to the end.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from rtstyle.backends import load_backend
from rtstyle.convert import SAMPLE_CLIP
from rtstyle.stream_job import SourceOptions, StreamJob


def latency(args) -> dict:
    backend = load_backend(args.style, args.backend)
    runs = []
    for i in range(args.runs):
        with tempfile.TemporaryDirectory() as d:
            job = StreamJob(SAMPLE_CLIP, str(Path(d) / "out.ts"), backend,
                            source=SourceOptions(realtime=True, loop=True), duration=args.seconds)
            snap = job.run().snapshot()
        runs.append(snap)
        print(f"run {i + 1}: latency median {snap['latency']['median_ms']:.0f} ms, p95 "
              f"{snap['latency']['p95_ms']:.0f} ms, drop rate {100 * snap['drop_rate']:.1f} %, "
              f"{snap['fps']:.2f} fps out", flush=True)
    med = lambda f: statistics.median(f(r) for r in runs)  # noqa: E731
    return {"backend": repr(backend), "seconds": args.seconds, "runs": runs,
            "latency_median_ms": med(lambda r: r["latency"]["median_ms"]),
            "latency_p95_ms": med(lambda r: r["latency"]["p95_ms"]),
            "drop_rate": med(lambda r: r["drop_rate"]), "fps": med(lambda r: r["fps"])}


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def memory(args) -> dict:
    seconds = args.minutes * 60
    with tempfile.TemporaryDirectory() as d:
        cmd = [sys.executable, "-m", "rtstyle", "stream", str(SAMPLE_CLIP), "--realtime", "--loop", "--out",
               str(Path(d) / "out.ts"), "--style", args.style, "--backend", args.backend,
               "--duration", str(seconds), "--stats"]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        err_lines: list[str] = []  # read as it comes: a full pipe would block the job's stats output
        reader = threading.Thread(target=lambda: err_lines.extend(proc.stderr), daemon=True)
        reader.start()
        started, samples = time.monotonic(), []
        while proc.poll() is None:
            try:
                samples.append((round(time.monotonic() - started), rss_kb(proc.pid)))
            except (OSError, RuntimeError):
                break
            print(f"{samples[-1][0]:5d} s  {samples[-1][1] / 1024:7.1f} MiB", flush=True)
            time.sleep(10)
        proc.wait()
        reader.join(10)
        err = "".join(err_lines)
    warm = next(kb for t, kb in samples if t >= 120)
    end = samples[-1][1]
    summary = err[err.find("stats summary"):].strip()
    return {"minutes": args.minutes, "samples_s_kb": samples, "rss_first_kb": samples[0][1], "rss_2min_kb": warm,
            "rss_end_kb": end, "rss_peak_kb": max(kb for _, kb in samples),
            "growth_from_2min": (end - warm) / warm, "returncode": proc.returncode, "stats": summary}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=["latency", "memory"])
    ap.add_argument("--style", default="starry")
    ap.add_argument("--backend", default="onnxruntime")
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--minutes", type=float, default=20)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    result = latency(args) if args.what == "latency" else memory(args)
    result.update(style=args.style, machine=f"{platform.processor() or platform.machine()}, "
                                             f"{__import__('os').cpu_count()} cores")
    text = json.dumps(result, indent=1)
    if args.json:
        args.json.write_text(text)
    print(json.dumps({k: v for k, v in result.items() if k not in ("runs", "samples_s_kb")}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
