"""What runs on ONNX Runtime starts without PyTorch: its 2-3 s import is paid only where a
PyTorch network, an export or training is really used."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from rtstyle.backends import load_backend

# a fresh interpreter, as a user's process: no other test has imported torch into it
JOBS = textwrap.dedent("""
    import contextlib, io, sys
    from rtstyle.cli import main

    def run(*argv):
        with contextlib.redirect_stdout(io.StringIO()):
            assert main(list(argv)) == 0, argv
        return "torch" in sys.modules

    print("styles", run("styles"))
    print("image", run("image", sys.argv[1], "-o", sys.argv[2] + "/a.png", "-y", "--style", "udnie:0.6,starry:0.4"))
    print("convert --lite", run("convert", sys.argv[3], "-o", sys.argv[2] + "/b.mp4", "-y", "-q", "--lite"))
    print("convert", run("convert", sys.argv[3], "-o", sys.argv[2] + "/c.mp4", "-y", "-q", "--style", "candy"))
""")


def test_onnx_runtime_jobs_never_import_torch(photo_file, short_clip, tmp_path):
    for lite in (False, True):  # the presets' network exports, made once (that needs torch)
        load_backend(None, lite=lite)
    proc = subprocess.run([sys.executable, "-c", JOBS, str(photo_file), str(tmp_path), str(short_clip)],
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n")[:4] == ["styles False", "image False", "convert --lite False", "convert False"]
    assert (tmp_path / "b.mp4").stat().st_size > 1000 and (tmp_path / "c.mp4").stat().st_size > 1000


def test_the_parser_loads_no_network_runtime():
    """`rtstyle --help` and every command's options: neither torch nor ONNX Runtime nor onnx."""
    code = ("import sys; from rtstyle.cli import build_parser; build_parser(); "
            "print(sorted(m for m in ('torch', 'onnxruntime', 'onnx', 'cv2') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
