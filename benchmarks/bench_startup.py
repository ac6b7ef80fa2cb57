"""Start-up: how long a user waits before rtstyle does any work, as whole processes.

    python benchmarks/bench_startup.py [--runs 5] [--tree DIR]

- `convert --lite`: from the process's start to its first frame handed to the encoder, on the
  bundled clip (ONNX Runtime; the presets' export made beforehand, as after a first run);
- `rtstyle --help`;
- `import rtstyle.convert`, and whether it loaded torch.

Medians of `--runs` runs. `--tree DIR` runs another checkout's code (an older commit in a git
worktree, say) with this interpreter, so before and after compare on one machine in one sitting.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time

FIRST_FRAME = textwrap.dedent("""
    import sys, time
    import rtstyle.sinks.encode as encode

    write = encode.VideoFileSink.write

    def first(self, frame):
        if not getattr(first, "done", False):
            first.done = True
            print(f"FIRST {time.time()}", flush=True)
        return write(self, frame)

    encode.VideoFileSink.write = first
    from rtstyle.cli import main
    sys.exit(main(["convert", "--lite", "-o", sys.argv[1], "-y", "-q"]))
""")


def run(code: list[str], env: dict, cwd: str) -> tuple[float, str]:
    """`cwd`: a folder of no checkout, so PYTHONPATH (or the installed package) says whose rtstyle runs."""
    start = time.time()
    proc = subprocess.run([sys.executable, *code], capture_output=True, text=True, env=env, cwd=cwd, timeout=600)
    if proc.returncode:
        raise SystemExit(f"bench_startup: {' '.join(code[:2])} failed: {proc.stderr.strip().splitlines()[-1:]}")
    return start, proc.stdout


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--tree", help="the checkout whose rtstyle to run (default: the installed one)")
    args = ap.parse_args()
    env = dict(os.environ)
    if args.tree:
        env["PYTHONPATH"] = os.path.abspath(args.tree)
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out.mp4")
        run(["-c", FIRST_FRAME, out], env, tmp)  # the presets' export, once, outside the timings
        first, helps, imports = [], [], []
        for _ in range(args.runs):
            start, stdout = run(["-c", FIRST_FRAME, out], env, tmp)
            first.append(float(stdout.split("FIRST ")[1].split()[0]) - start)
            start, _ = run(["-m", "rtstyle", "--help"], env, tmp)
            helps.append(time.time() - start)
            _, stdout = run(["-c", "import sys, time; t = time.perf_counter(); import rtstyle.convert; "
                                   "print(time.perf_counter() - t, 'torch' in sys.modules)"], env, tmp)
            seconds, torch_loaded = stdout.split()
            imports.append(float(seconds))
    print(f"rtstyle from {args.tree or 'the installed package'}, median of {args.runs} runs")
    print(f"  convert --lite: first frame written after {statistics.median(first):.2f} s")
    print(f"  rtstyle --help:                         {statistics.median(helps):.2f} s")
    print(f"  import rtstyle.convert:                 {statistics.median(imports):.2f} s "
          f"(torch loaded: {torch_loaded})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
